"""Per-model data with provenance (issue 12, deliverable 1): every value of a packaged model
file carries a tag true to ``research/mspa-public-facts.md`` and SPEC §2/§3, the sources are
registered as data, inheritance keeps each value's tag, ``spasim profiles --provenance`` prints
them and the README's model table shows them.

Expectations come from the research file (its source table, its confidence of each fact) and
SPEC §3 (what the capture shows), never from the model files under test.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from protocols.mspa.models import (
    SECTIONS,
    UNTAGGED,
    available_models,
    load_model,
    model_provenance,
    model_sources,
    parse_tag,
    read_model_values,
)
from spasim.cli import main
from spasim.cli.profiles import README_BEGIN, README_END, readme_model_table
from spasim.profiles import load_profile

ROOT = Path(__file__).resolve().parent.parent

RESEARCH_SOURCES = {
    "MW": "johannesc/mspa-wifi",
    "ET": "eriktack/esphome_mspacontroller",
    "AH": "andy-hes/mspa-smart-controller",
    "KL": "kloknibor/mspa-wifi-control",
    "EE": "EtienneESP32/MSPA-ESP32-EEDOMUS",
    "DT": "DTekNO/mspa-homeassistant",
}
"""The research file's source table: key → repository."""
TAG = re.compile(r"^(capture|model|(source|weak):[A-Z]+)$")


def _provenance(name: str | Path) -> dict[str, tuple[Any, str, str]]:
    return {e.key: (e.value, e.tag, e.file) for e in model_provenance(name)}


def _raw_values(name: str) -> list[tuple[str, Any]]:
    """Every (key, value) a packaged file writes itself, sections flattened, ``base`` left out."""
    text = resources.files("protocols.mspa").joinpath("models", f"{name}.toml").read_text("utf-8")
    out: list[tuple[str, Any]] = []
    for key, value in tomllib.loads(text).items():
        if key in SECTIONS:
            out += [(f"{key}_{inner}", inner_value) for inner, inner_value in value.items()]
        elif key != "base":
            out.append((key, value))
    return out


# -- the packaged files: complete, valid tags ------------------------------------------------


@pytest.mark.parametrize("name", available_models())
def test_every_value_of_a_packaged_file_is_tagged_beside_it(name: str) -> None:
    values = _raw_values(name)
    assert values
    for key, value in values:
        assert isinstance(value, dict) and sorted(value) == ["from", "value"], (
            f"{name}: {key} is not written as {{ value = …, from = TAG }}"
        )
        assert TAG.match(value["from"]), f"{name}: {key} has tag {value['from']!r}"
        _, _, source = value["from"].partition(":")
        if source:
            assert source in model_sources(), f"{name}: {key} names unregistered {source}"
    assert all(tag != UNTAGGED.tag for _, tag, _ in _provenance(name).values())


def test_the_sources_are_registered_as_the_research_file_lists_them() -> None:
    sources = model_sources()
    for key, repository in RESEARCH_SOURCES.items():
        assert sources[key].repository == repository and sources[key].where == repository
        assert sources[key].documents and sources[key].what
    # the maker's own documents SPEC §2 calls verified: no repository, a document
    assert sources["SM"].documents == "MSpa After-sales Service Manual"
    assert sources["APP"].repository == "" and "20–40" in sources["APP"].what
    assert "weak" in sources["EE"].what  # the research file: EE is weak


def test_tags_follow_the_research_file() -> None:
    p4 = _provenance("premium-4")
    capture = (
        "link_report_period_s",
        "link_flow_offset_s",
        "boot_frame_09_s",
        "boot_frame_07_s",
        "boot_first_temperature_s",
        "remote_cycle",
        "remote_cycle_offsets_s",
        "remote_cycle_period_s",
        "remote_frame_0f_s",
        "remote_burst",
        "remote_show_setpoint",
        "setpoint_encoding",  # capture: 04 25 = 37 °C
    )
    for key in capture:
        assert p4[key][1] == "capture", key
    assert p4["setpoint_min_c"][:2] == (10, "source:MW")  # MW: 10 °C "hibernate"
    assert p4["link_watchdog_s"][1] == "model"  # research: "our 30 s figure is a [model] choice"
    assert p4["auto_off_by"][1] == "model"  # research: our design card
    watts = [key for key in p4 if key.endswith("_w") or key == "blower_level_w"]
    assert watts and all(p4[key][1] == "model" for key in watts)  # SPEC §2: load figures [model]
    camaro = _provenance("super-camaro")
    assert camaro["setpoint_encoding"][:2] == ("double", "source:ET")  # ET "double temp"
    assert camaro["remote_burst"][1] == "source:ET"  # ET: no 16 marker
    series_d = _provenance("series-d")
    for key in ("filter_run_on_s", "uvc_command", "boot_repeat_07_s"):
        assert series_d[key][1] == "weak:EE" and series_d[key][2] == "series-d", key
    assert _provenance("aurora-urban")["uvc_command"][:2] == (0x15, "capture")


def test_defaults_follow_the_capture() -> None:
    """Where the capture shows a fact, the base model (which every other starts from) has it."""
    plate = load_model("premium-4")
    assert plate.link_report_period_s == 1.0132 and plate.link_flow_offset_s == 0.81
    assert plate.remote_cycle_offsets_s == (0.0, 1.40, 2.90, 4.41, 5.91, 7.42)
    assert plate.remote_cycle_period_s == 7.517 and plate.remote_frame_0f_s == 0.4
    assert plate.uvc_command == 0x15 and plate.key_marker and plate.remote_show_setpoint


# -- inheritance and user files ----------------------------------------------------------------


def test_inheritance_keeps_the_tag_of_the_file_that_set_each_value() -> None:
    elite = _provenance("elite-6")
    assert elite["uvc_command"] == (0x10, "source:MW", "elite-6")
    assert elite["jets_fitted"] == (True, "source:SM", "elite-6")  # SM: jet pump, Elite only
    assert elite["link_report_period_s"] == (1.0132, "capture", "premium-4")
    assert elite["setpoint_min_c"] == (10, "source:MW", "premium-4")
    assert set(elite) == set(_provenance("premium-4"))


def test_a_user_file_with_bare_values_loads_and_its_values_read_untagged(tmp_path: Path) -> None:
    path = tmp_path / "tank.toml"
    path.write_text(
        'base = "elite-6"\nname = "my-box"\nwater_litres = 20\n'
        '[link]\nreport_period_s = { value = 1.02, from = "model" }\n',
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert (profile.name, profile.water_litres, profile.link_report_period_s) == (
        "my-box",
        20.0,
        1.02,
    )
    assert load_model(path).uvc_command == 0x10
    assert read_model_values(path)["link_report_period_s"] == 1.02  # plain values
    entries = _provenance(path)
    assert entries["water_litres"] == (20, "untagged (user file)", str(path))
    assert entries["link_report_period_s"] == (1.02, "model", str(path))
    assert entries["uvc_command"] == (0x10, "source:MW", "elite-6")


def test_the_readers_return_plain_values() -> None:
    for name in available_models():
        assert not any(isinstance(v, dict) for v in read_model_values(name).values())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('water_litres = { value = 20, from = "measured" }', "unknown provenance tag 'measured'"),
        ('water_litres = { value = 20, from = "source:XX" }', "unregistered source 'XX'"),
        ('water_litres = { value = 20, from = "weak:" }', "unregistered source ''"),
        ('water_litres = { value = 20, from = "capture:MW" }', "unknown provenance tag"),
        ("water_litres = { value = 20 }", "water_litres must be a value or"),
        ("water_litres = { value = 20, from = 3 }", "unknown provenance tag 3"),
        ('[uvc]\ncommand = { value = 0x15, from = "sourced" }', r"\[uvc\] command: unknown"),
    ],
)
def test_a_bad_tag_is_refused_by_name(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'base = "premium-4"\n{line}\n', encoding="utf-8")
    for reader in (load_profile, load_model, model_provenance):
        with pytest.raises(ValueError, match=message):
            reader(path)


def test_parse_tag() -> None:
    assert parse_tag("weak:EE", "x").source == model_sources()["EE"]
    assert str(parse_tag("capture", "x")) == "capture" and parse_tag("model", "x").source is None


# -- spasim profiles --provenance ----------------------------------------------------------------


def _row(out: str, key: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.split()[:1] == [key])
    return re.split(r"\s{2,}", line.strip())


def test_provenance_command_prints_a_variant_fact_with_its_tag_and_repository(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profiles", "--provenance", "elite-6"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["key", "value", "from", "set", "in", "source"]
    assert _row(out, "uvc_command") == [
        "uvc_command",
        "0x10",
        "source:MW",
        "elite-6",
        RESEARCH_SOURCES["MW"],
    ]
    assert _row(out, "link_report_period_s") == [
        "link_report_period_s",
        "1.0132",
        "capture",
        "premium-4",
    ]
    assert "jets_w" in out and "sensor_poll_s" in out  # the rest too, not only the wire facts
    assert f"MW   {RESEARCH_SOURCES['MW']}" in out  # the sources the table names follow it

    assert main(["profiles", "--provenance", "series-d"]) == 0
    out = capsys.readouterr().out
    assert _row(out, "uvc_command") == [
        "uvc_command",
        "0x19",
        "weak:EE",
        "series-d",
        RESEARCH_SOURCES["EE"],
    ]
    assert _row(out, "filter_run_on_s")[1:4] == ["10", "weak:EE", "series-d"]


def test_provenance_command_without_a_name_shows_every_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profiles", "--provenance"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["model", "key"]
    uvc = [line.split()[:4] for line in out.splitlines() if " uvc_command " in line]
    assert [row[0] for row in uvc] == available_models()
    assert ["super-camaro", "uvc_command", "0x15", "model"] in uvc


def test_provenance_command_on_a_user_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tank.toml"
    path.write_text('base = "premium-4"\nname = "my-box"\n', encoding="utf-8")
    assert main(["profiles", "--provenance", str(path)]) == 0
    assert _row(capsys.readouterr().out, "name") == [
        "name",
        "my-box",
        "untagged (user file)",
        str(path),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["profiles", "--provenance", "deluxe"], "known profiles are"),
        (["profiles", "--provenance", "x", "--show", "y"], "not allowed with"),
    ],
)
def test_provenance_command_refuses_bad_arguments_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_provenance_command_refuses_a_bad_value_in_a_user_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('base = "premium-4"\n[uvc]\ncommand = 0x16\n', encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["profiles", "--provenance", str(path)])
    assert exit_info.value.code == 2 and "uvc command must be" in capsys.readouterr().err


# -- the README's model table --------------------------------------------------------------------


def test_the_readme_model_table_is_the_data() -> None:
    """Regenerate with ``python scripts/readme_model_table.py`` after changing a model file."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(README_BEGIN), readme.index(README_END) + len(README_END)
    assert readme[start:end] == readme_model_table()


def test_the_readme_model_table_shows_each_variant_with_its_provenance() -> None:
    rows = {
        line.split("|")[1].strip(" `"): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in readme_model_table().splitlines()
        if line.startswith("| `")
    }
    assert list(rows) == available_models()
    assert rows["elite-6"][1:3] == ["0x10 (B) [source:MW]", "yes [source:SM]"]
    assert rows["aurora-urban"][1] == "0x15 (A) [capture]"
    assert rows["series-d"][1] == "0x19 (C) [weak:EE]"
    assert rows["series-d"][4] == "07 0C every 10 s [weak:EE]"
    assert rows["series-d"][7] == "10 s [weak:EE]"
    assert rows["super-camaro"][3] == "°C × 2 [source:ET]"
    assert rows["super-camaro"][4] == "12 [source:ET], 1A [source:AH], 1B [source:AH]"
    assert rows["super-camaro"][5] == "no [source:ET]"
    assert rows["concept-4"][1] == "not fitted [model]"
    assert all(row[8] == "1.0132 s [capture]" for row in rows.values())
    assert all(row[6] == "box [model]" for row in rows.values())
