"""Board profiles: packaged TOML data, user files, validation, the ``profiles`` command; the
model plates (:mod:`protocols.mspa.models`) read from the same files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from protocols.mspa.models import MODEL_KEYS, available_models, load_model
from spasim.cli import main
from spasim.cli.profiles import format_profile
from spasim.overtemp import minimum_margin_c
from spasim.profiles import (
    UVC_VARIANT_A,
    UVC_VARIANT_B,
    Profile,
    available_profiles,
    load_profile,
    resolve_profile,
)

PACKAGED = [
    "aurora-urban",
    "concept-4",
    "elite-6",
    "premium-4",
    "premium-6",
    "series-d",
    "super-camaro",
]


def test_packaged_profiles() -> None:
    assert available_profiles() == PACKAGED
    for name in PACKAGED:
        profile = load_profile(name)
        assert profile.name == name and profile.model.startswith("MSpa")


def test_spec_figures() -> None:
    p = load_profile("premium-4")
    assert p.water_litres == 700 and load_profile("premium-6").water_litres == 930
    assert (p.heater_stage1_w, p.heater_stage2_w, p.heater_stage1_s) == (1500, 2000, 10)
    assert p.filter_pump_w == 60 and p.blower_level_w[2] == 900 and p.blower_w(0) == 0
    assert (p.ozone_w, p.uvc_w, p.standby_w) == (10, 15, 2)
    # 10 °C: the "hibernate" set-point bridges send (research: MW allows 10–40; issue 12)
    assert (p.setpoint_min_c, p.setpoint_max_c, p.setpoint_default_c) == (10, 40, 40)
    assert (p.heater_overtemp_cut_c, p.heater_overtemp_recover_c) == (42, 40)
    assert p.bubble_auto_off_s == 600 and p.ozone_auto_off_s == p.uvc_auto_off_s == 7200
    assert p.link_watchdog_s == 30 and p.link_report_period_s == 1.0132  # SPEC §3 capture
    assert p.link_flow_offset_s == 0.81
    assert (p.boot_frame_09_s, p.boot_frame_07_s, p.boot_first_temperature_s) == (5.46, 5.66, 6.06)
    assert p.boot_first_flow_s == pytest.approx(6.87)
    assert (p.thermal_ua_w_per_k, p.thermal_lid_off_factor, p.thermal_blower_factor) == (12, 1.5, 2)
    assert p.mains_voltage_v == 230 and p.sensor_noise_clip_c == 0.3
    # [model] the sensor is polled once per report (the captured 1.0132 s), in step with 06
    assert (p.heater_overtemp_margin_c, p.sensor_poll_s, p.thermal_min_litres) == (0.6, 1.0132, 20)


def test_overtemp_margin_covers_noise_quantisation_and_one_poll_of_heating() -> None:
    """0.3 °C noise + 0.25 °C quantisation + 2000 W into 20 L for 1 s ≈ 0.574 °C."""
    p = load_profile("premium-4")
    needed = minimum_margin_c(0.3, 2000.0, 20.0, 1.0)
    assert needed == pytest.approx(0.3 + 0.25 + 2000 / (20 * 4186))
    assert needed <= p.heater_overtemp_margin_c < needed + 0.05
    for name in PACKAGED:
        other = load_profile(name)
        assert other.heater_overtemp_margin_c >= minimum_margin_c(
            other.sensor_noise_clip_c,
            other.heater_stage2_w,
            other.thermal_min_litres,
            other.sensor_poll_s,
        )


def test_variants_and_options_are_represented() -> None:
    profiles = [load_profile(name) for name in PACKAGED]
    assert {p.uvc_command for p in profiles} == {UVC_VARIANT_A, UVC_VARIANT_B, 0x19}
    assert {p.blower_auto_off_min for p in profiles} == {10, 20}
    assert any(not p.uvc_fitted for p in profiles)
    assert load_profile("elite-6").uvc_variant == "B"
    assert load_profile("series-d").uvc_variant == "C"


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown profile 'deluxe'.*premium-4") as error:
        load_profile("deluxe")
    for name in PACKAGED:
        assert name in str(error.value)


def test_user_file_inherits_from_a_packaged_profile(tmp_path: Path) -> None:
    path = tmp_path / "tank.toml"
    path.write_text(
        'base = "elite-6"\nname = "my-box"\nwater_litres = 20\n[blower]\nauto_off_min = 15\n',
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert profile.name == "my-box" and profile.water_litres == 20
    assert profile.blower_auto_off_min == 15 and profile.uvc_command == UVC_VARIANT_B
    assert load_profile(str(path)) == profile
    assert resolve_profile(profile) is profile


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('base = "premium-4"\n[heater]\nstage1_w = -5\n', "heater_stage1_w must be positive"),
        (
            'base = "premium-4"\n[uvc]\ncommand = 0x16\n',
            "0x15 .variant A., 0x10 .variant B. or 0x19",
        ),
        ('base = "premium-4"\n[setpoint]\ndefault_c = 45\n', "min_c <= default_c <= max_c"),
        ('base = "premium-4"\n[heater]\novertemp_recover_c = 43\n', "recover_c must be below"),
        ('base = "premium-4"\n[heater]\novertemp_margin_c = 0.5\n', "at least 0.574 °C"),
        ('base = "premium-4"\n[sensor]\npoll_s = 5\n', "overtemp_margin_c must be at least"),
        ('base = "premium-4"\n[thermal]\nmin_litres = 5\n', "overtemp_margin_c must be"),
        ('base = "premium-4"\n[sensor]\npoll_s = 0\n', "sensor_poll_s must be positive"),
        ('base = "premium-4"\n[blower]\nlevel_w = [1, 2]\n', "blower_level_w must be"),
        ('base = "premium-4"\n[heater]\nwatts = 3\n', "unknown profile keys heater_watts"),
        ('base = "premium-4"\nname = 5\n', "name must be str"),
        ('base = "premium-4"\n[ozone]\nfitted = 1\n', "ozone_fitted must be bool"),
        ('name = "bare"\n', "lacks"),
        ('base = "premium-4"\nname = "x\n', "not valid TOML"),
        ('base = "nowhere"\n', "unknown profile 'nowhere'"),
    ],
)
def test_bad_profile_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_profile(path)


def test_base_loop_is_detected(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(f'base = "{b}"\n', encoding="utf-8")
    b.write_text(f'base = "{a}"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="loop"):
        load_profile(a)


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read profile file"):
        load_profile(tmp_path / "absent.toml")


def test_profile_is_frozen() -> None:
    profile = load_profile("premium-4")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.water_litres = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="water_litres must be positive"):
        dataclasses.replace(profile, water_litres=0)


def test_profiles_command_lists_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "model", "litres"]
    assert [line.split()[0] for line in lines[2:]] == PACKAGED
    elite = next(line for line in lines if line.startswith("elite-6"))
    assert "930 L" in elite and "0x10 (B)" in elite and "1500/2000 W" in elite
    concept = next(line for line in lines if line.startswith("concept-4"))
    assert "not fitted" in concept
    aurora = next(line for line in lines if line.startswith("aurora-urban"))
    assert "bubbles 20 min" in aurora


def test_profiles_command_shows_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "--show", "elite-6"]) == 0
    out = capsys.readouterr().out
    assert "uvc_command" in out and "0x10 (variant B)" in out
    assert (
        format_profile(load_profile("premium-4")).count("\n")
        == len(dataclasses.fields(Profile)) - 1
    )


def test_profiles_command_rejects_an_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["profiles", "--show", "deluxe"])
    assert exit_info.value.code == 2
    assert "known profiles are" in capsys.readouterr().err


# -- the model plates: the same files, read without the simulator -------------------------


def test_every_profile_is_a_model_file_and_its_plate_is_the_profiles() -> None:
    assert available_models() == available_profiles() == PACKAGED
    for name in PACKAGED:
        plate, profile = load_model(name), load_profile(name)
        assert plate == profile.plate
        assert (plate.bubble_auto_off_s, plate.ozone_auto_off_s, plate.uvc_auto_off_s) == (
            profile.bubble_auto_off_s,
            profile.ozone_auto_off_s,
            profile.uvc_auto_off_s,
        )
        assert plate.uvc_variant == profile.uvc_variant


def test_the_model_files_live_at_the_protocol_layer_only() -> None:
    """One file per model: the simulator keeps no copy of its own."""
    import protocols.mspa.models
    import spasim.profiles

    models_dir = Path(protocols.mspa.models.__file__).with_suffix("")
    assert sorted(path.stem for path in models_dir.glob("*.toml")) == PACKAGED
    assert not list(Path(spasim.profiles.__file__).parent.glob("**/*.toml"))


def test_plates_of_the_packaged_models() -> None:
    aurora = load_model("aurora-urban")
    assert aurora.model == "MSpa Urban Aurora 4-person (2021+)"
    # UVC on 0x15 as in the capture of this very model (issue 12; research: MW)
    assert (aurora.uvc_command, aurora.uvc_variant, aurora.bubble_auto_off_s) == (0x15, "A", 1200)
    concept = load_model("concept-4")
    assert concept.ozone_fitted and not concept.uvc_fitted
    assert load_model("premium-4").uvc_command == UVC_VARIANT_A
    with pytest.raises(dataclasses.FrozenInstanceError):
        aurora.uvc_command = 0x15  # type: ignore[misc]


def test_a_user_model_file_gives_its_plate_and_leaves_the_simulators_keys_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tank.toml"
    path.write_text(
        'base = "elite-6"\nname = "my-box"\n[heater]\nstage1_w = -3\n[uvc]\nauto_off_h = 1\n',
        encoding="utf-8",
    )
    plate = load_model(path)  # a simulation figure says nothing about a real box's plate
    assert (plate.name, plate.uvc_command, plate.uvc_auto_off_s) == ("my-box", 0x10, 3600)
    with pytest.raises(ValueError, match="heater_stage1_w"):
        load_profile(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'base = "premium-4"\n[uvc]\ncommand = 0x16\n',
            "0x15 .variant A., 0x10 .variant B. or 0x19",
        ),
        ('base = "premium-4"\n[ozone]\nfitted = 1\n', "ozone_fitted must be bool"),
        ('base = "premium-4"\n[blower]\nauto_off_min = 0\n', "blower_auto_off_min must be"),
        ('base = "premium-4"\n[uvc]\nauto_off_h = inf\n', "uvc_auto_off_h must be 0.01–48 h"),
        ('name = "bare"\n', "lacks"),
        ('base = "nowhere"\n', "unknown profile 'nowhere'"),
    ],
)
def test_bad_plates_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_model(path)
    with pytest.raises(ValueError, match=message):
        load_profile(path)  # the simulator judges the plate the same way


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown profile 'deluxe'.*premium-4"):
        load_model("deluxe")
    with pytest.raises(ValueError, match="must be positive"):
        dataclasses.replace(load_model("premium-4"), blower_auto_off_min=0.0)


def test_a_misspelt_key_is_refused_on_the_real_path_too(tmp_path: Path) -> None:
    """The bench reads only the plate, yet a typo must not silently give the default:
    ``auto_of_min = 20`` would leave a 10-minute auto-off where the file meant 20."""
    user = tmp_path / "typo.toml"
    user.write_text('base = "premium-4"\n[blower]\nauto_of_min = 20\n')
    with pytest.raises(ValueError, match="blower_auto_of_min"):
        load_model(user)
    with pytest.raises(ValueError, match="blower_auto_of_min"):
        load_profile(user)


def test_the_model_keys_are_the_simulators_fields() -> None:
    """Every key the simulator reads is a key the protocol layer accepts, and no other."""
    assert {field.name for field in dataclasses.fields(Profile)} == MODEL_KEYS
