"""``spasim simulate``: the thermostat holds, the box keeps its limits, the trace adds up.

One four-hour run on the default profile (shared by most tests: a simulated hour costs a
fraction of a wall second) is checked against the physics and SPEC §4, and the command line
end to end: CSV, SVG/PNG plots, summary, and one-line exit-2 errors.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from pathlib import Path

import pytest

from spasim.board import LOADS
from spasim.cli import main
from spasim.physics import capacity_j_per_k
from spasim.profiles import load_profile
from spasim.simulation import (
    CSV_COLUMNS,
    LidOff,
    Scenario,
    TimedFault,
    Trace,
    format_summary,
    simulate,
)

SETPOINT = 37
START_C = 34.0
HOURS = 4.0
BUBBLES_MIN = 30.0
HYSTERESIS_BAND_C = 1.5
"""SPEC §3 hysteresis 1 °C, plus 0.5 °C quantisation and sensor noise around it."""


@pytest.fixture(scope="module")
def trace() -> Trace:
    return simulate(
        Scenario(hours=HOURS, setpoint=SETPOINT, water_c=START_C, bubbles_at=(BUBBLES_MIN,), seed=3)
    )


def _column(trace: Trace, load: str) -> list[float]:
    index = LOADS.index(load)
    return [row.powers[index] for row in trace.rows]


# ------------------------------------------------------------------ thermostat & limits


def test_water_rises_to_the_setpoint_then_holds_within_the_hysteresis(trace: Trace) -> None:
    summary = trace.summary()
    reached = summary.setpoint_reached_s
    assert reached is not None
    # 3 °C at ~2.5 °C/h (2 kW into 700 L, minus losses): between one and two hours.
    assert 3600 < reached < 2 * 3600
    heating_from = trace.intervals("heater")[0][0]  # before the handshake the water cools
    assert heating_from < 10.0
    rising = [row.water_c for row in trace.rows if heating_from <= row.time_s <= reached]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(rising))
    assert rising[-1] == pytest.approx(SETPOINT, abs=HYSTERESIS_BAND_C)
    holding = [row for row in trace.rows if row.time_s >= reached]
    assert holding[-1].time_s - holding[0].time_s > 2 * 3600
    for row in holding:
        assert abs(row.water_c - SETPOINT) <= HYSTERESIS_BAND_C, row
        if row.reported_c is not None:
            assert abs(row.reported_c - SETPOINT) <= HYSTERESIS_BAND_C, row
    # Holding means cycling: the heater ran again after the set-point, but not all the time.
    assert summary.thermostat_cycles >= 1
    holding_duty = summary.heater_duty_holding
    assert holding_duty is not None
    assert 0.0 < holding_duty < 0.6


def test_heater_never_draws_power_without_the_filter(trace: Trace) -> None:
    heater = _column(trace, "heater")
    filter_pump = _column(trace, "filter")
    assert any(heater), "the heater never ran: the test would prove nothing"
    for row, heater_w, filter_w in zip(trace.rows, heater, filter_pump, strict=True):
        if heater_w > 0:
            assert filter_w > 0 and row.flow_in and row.flow_out, row


def test_heat_request_follows_the_reported_temperature(trace: Trace) -> None:
    """The panel's thermostat (SPEC §3): toggles around the set-point, hysteresis 1 °C —
    off half a degree above it, on again half a degree below."""
    for event in trace.events:
        if event.kind != "thermostat":
            continue
        shown = float(event.text.split("panel ")[1].split(" °C")[0])
        if "heat off" in event.text:
            assert shown >= SETPOINT + 0.5
        else:
            assert shown <= SETPOINT - 0.5


def test_bubbles_run_exactly_the_auto_off_minutes(trace: Trace) -> None:
    auto_off_s = load_profile("premium-4").blower_auto_off_min * 60.0
    (span,) = trace.intervals("blower")
    start, stop = span
    assert start == pytest.approx(BUBBLES_MIN * 60.0, abs=0.1)
    # Timer armed by the key-press marker that ends the burst, ~30 ms after the level frame.
    assert stop - start == pytest.approx(auto_off_s, abs=0.1)
    kinds = {(e.kind, e.text.split(":")[0]) for e in trace.events}
    assert ("key", "bubbles key pressed") in kinds
    assert ("auto-off", "bubbles off") in kinds


def test_energy_matches_the_water_s_heat_balance(trace: Trace) -> None:
    """C·ΔT = heater energy − losses: the trace's energy integral and its water curve agree
    (losses integrated from the rows, exact at the 10 s sample spacing to well under 1 %)."""
    p = load_profile("premium-4")
    rows = trace.rows
    ambient = trace.scenario.ambient_c
    loss_j = 0.0
    for row, following in itertools.pairwise(rows):
        bubbling = row.power("blower") > 0
        ua = p.thermal_ua_w_per_k * (p.thermal_blower_factor if bubbling else 1.0)
        mean_excess = (row.water_c + following.water_c) / 2 - ambient
        extra = p.blower_loss_w if bubbling else 0.0
        loss_j += (ua * mean_excess + extra) * (following.time_s - row.time_s)
    heater_j = trace.summary().energy_kwh["heater"] * 3.6e6
    stored_j = capacity_j_per_k(p.water_litres) * (rows[-1].water_c - rows[0].water_c)
    assert heater_j > 0
    assert stored_j == pytest.approx(heater_j - loss_j, rel=0.01)


def test_rows_sample_every_ten_seconds_and_at_every_change(trace: Trace) -> None:
    times = [row.time_s for row in trace.rows]
    assert times[0] == 0.0
    assert times[-1] == HOURS * 3600
    assert all(b > a for a, b in itertools.pairwise(times))
    on_grid = {round(t, 6) for t in times if abs(t / 10 - round(t / 10)) < 1e-9}
    assert len(on_grid) == int(HOURS * 360) + 1
    # Every heater switch is a row of its own, at the instant it happened.
    starts = [e.time_s for e in trace.events if e.text.startswith("heater on")]
    assert starts and set(starts) <= set(times)
    assert len(trace.rows) < int(HOURS * 360) + 40 * len(starts)


def test_same_seed_same_trace_other_seed_other_noise(trace: Trace) -> None:
    again = simulate(trace.scenario)
    assert again.rows == trace.rows
    other = simulate(Scenario(hours=0.5, setpoint=SETPOINT, water_c=START_C, bubbles_at=(), seed=4))
    same_seed = simulate(
        Scenario(hours=0.5, setpoint=SETPOINT, water_c=START_C, bubbles_at=(), seed=3)
    )
    assert [r.reported_c for r in other.rows] != [r.reported_c for r in same_seed.rows]
    assert [r.water_c for r in other.rows] == [r.water_c for r in same_seed.rows]


def test_summary_names_the_figures(trace: Trace) -> None:
    text = format_summary(trace)
    assert "energy kWh: heater" in text
    assert f"set-point {SETPOINT} °C reached after 1 h" in text
    assert "thermostat cycles" in text and "while holding" in text
    assert "bubbles off: auto-off after 10.0 min" in text


def test_auto_off_is_timed_from_the_command_the_firmware_armed_it_with() -> None:
    """A knob stuck at "inflate" changes what the blower does, not its timer: the summary
    says what the box's own timer counted (10 min from the key press), not the time since
    the blower's last change of state."""
    trace = simulate(
        Scenario(hours=0.5, bubbles_at=(1.0,), faults=(TimedFault("knob-reed-switch-stuck", 5.0),))
    )
    (auto_off,) = [e for e in trace.events if e.kind == "auto-off"]
    assert auto_off.text == "bubbles off: auto-off after 10.0 min"
    assert auto_off.time_s == pytest.approx(60.0 + 600.0, abs=0.1)


# ------------------------------------------------------------------ scenario actions


def test_over_temperature_cut_with_a_welded_heater_relay() -> None:
    """A welded contact heats whatever the thermostat says; the box's latch still flips on
    its own reading (41.8 °C is over the 42 − 0.6 °C threshold from the first poll at boot;
    the firmware cannot open a welded relay, but it must know)."""
    trace = simulate(Scenario(hours=0.5, water_c=41.8, faults=(TimedFault("heater-relay-welded"),)))
    cuts = [e for e in trace.events if e.kind == "overtemp"]
    assert cuts and cuts[0].time_s < 7.0 and "cut at 41.8 °C" in cuts[0].text
    assert trace.summary().setpoint_reached_s is not None  # 41.8 °C is above 40 °C at once
    assert all(row.heat_request is False for row in trace.rows if row.time_s > 10)
    assert all(row.power("heater") > 0 for row in trace.rows if row.time_s > 0)


def test_a_shorted_sensor_satisfies_the_thermostat_but_is_not_the_setpoint() -> None:
    """127.5 °C on the wire stops the panel asking for heat; the summary must not call that
    "set-point reached" while the water sits at 20 °C."""
    trace = simulate(Scenario(hours=0.2, faults=(TimedFault("temp-sensor-short"),)))
    assert trace.summary().setpoint_reached_s is None
    lies = [e for e in trace.events if e.kind == "safety" and "127.5" in e.text]
    assert len(lies) == 1 and "water at 20.0 °C" in lies[0].text
    assert trace.summary().energy_kwh["heater"] == 0.0


def test_fault_mid_run_and_lid_window() -> None:
    trace = simulate(
        Scenario(
            hours=1.0,
            setpoint=40,
            water_c=30.0,
            faults=(TimedFault("heater-open", 20.0),),
            lid_off=(LidOff(10.0, 15.0),),
        )
    )
    at = {e.text: e.time_s for e in trace.events}
    assert at["fault injected: heater-open"] == 20 * 60
    assert at["lid off"] == 10 * 60 and at["lid on"] == 15 * 60
    for row in trace.rows:
        assert row.lid_on == (not 600 <= row.time_s < 900), row
        if row.time_s >= 20 * 60:
            assert row.power("heater") == 0 and row.heat_request, row
    after = [row.water_c for row in trace.rows if row.time_s >= 20 * 60]
    assert after[-1] < after[0]  # no heat: the water cools


def test_silent_panel_puts_the_box_in_fail_safe() -> None:
    trace = simulate(Scenario(hours=0.5, water_c=30.0, faults=(TimedFault("panel-dead", 10.0),)))
    failsafe = [e for e in trace.events if e.kind == "safety" and "fail-safe" in e.text]
    assert len(failsafe) == 1
    # Last frame heard before minute 10, watchdog 30 s: fail-safe within 10:00–10:31.
    assert 600 < failsafe[0].time_s <= 631
    for row in trace.rows:
        if row.time_s >= failsafe[0].time_s:
            assert row.total_w == pytest.approx(load_profile("premium-4").standby_w), row


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hours": 0.0}, "hours must be"),
        ({"setpoint": 41}, "set-point must be 10–40"),
        ({"bubbles_at": (61.0,)}, "--bubbles-at 61 min is outside"),
        ({"ambient_c": 80.0}, "ambient must be"),
        ({"water_c": -5.0}, "water must be"),
        ({"lid_off": (LidOff(20.0, 10.0),)}, "lid must go back on"),
        ({"faults": (TimedFault("no-such-fault"),)}, "unknown fault"),
        ({"sample_s": 0.001}, "use a longer sample period"),
    ],
)
def test_scenario_refuses_what_cannot_run(changes: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"hours": 1.0, **changes}
    with pytest.raises(ValueError, match=message):
        Scenario(**arguments)  # type: ignore[arg-type]


# ------------------------------------------------------------------ command line


def test_cli_writes_csv_svg_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "trace.csv"
    svg_path = tmp_path / "trace.svg"
    code = main(
        [
            "simulate",
            "--hours",
            "1",
            "--water",
            "35",
            "--setpoint",
            "36",
            "--bubbles-at",
            "5",
            "--csv",
            str(csv_path),
            "--plot",
            str(svg_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "energy kWh:" in out and "bubbles off: auto-off after 10.0 min" in out
    with csv_path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert 361 <= len(rows) < 500
    assert float(rows[-1]["time_s"]) == 3600.0
    for row in rows:
        # Each load draws one of the profile's figures (the total is their sum by definition).
        assert float(row["heater_w"]) in (0.0, 1500.0, 2000.0)
        assert float(row["filter_w"]) in (0.0, 60.0) and float(row["standby_w"]) == 2.0
        assert row["heater_on"] == ("1" if float(row["heater_w"]) > 0 else "0")
        assert not (row["heater_on"] == "1" and row["filter_on"] == "0")
    assert any(row["blower_on"] == "1" for row in rows)
    svg = svg_path.read_text(encoding="utf-8")
    assert "<svg" in svg and "<path" in svg and len(svg) > 20_000
    assert "premium-4" in svg  # the title names the profile


def test_cli_png_plot_and_csv_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png_path = tmp_path / "trace.png"
    assert main(["simulate", "--hours", "0.5", "--csv", "-", "--plot", str(png_path)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) - 1 >= 181
    assert "energy kWh:" in captured.err and "energy kWh:" not in captured.out
    data = png_path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--hours", "0"],
        ["--hours", "nan"],
        ["--hours", "1", "--setpoint", "41"],
        ["--hours", "1", "--bubbles-at", "90"],
        ["--hours", "1", "--ozone-at", "-1"],
        ["--hours", "1", "--lid-off-at", "30-20"],
        ["--hours", "1", "--fault", "no-such-fault"],
        ["--hours", "1", "--fault", "heater-open@61"],
        ["--hours", "1", "--profile", "no-such-profile"],
        ["--hours", "1", "--plot", "trace.pdf"],
        ["--hours", "1", "--csv", "/no/such/folder/trace.csv"],
        ["--hours", "1", "--water", "150"],
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as leave:
        main(["simulate", *arguments])
    assert leave.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("spasim simulate: error:")


def test_csv_writer_matches_the_rows(trace: Trace) -> None:
    stream = io.StringIO()
    assert trace.write_csv(stream) == len(trace.rows)
    parsed = list(csv.reader(io.StringIO(stream.getvalue())))
    assert len(parsed) == len(trace.rows) + 1
    for cells, row in zip(parsed[1:], trace.rows, strict=True):
        assert math.isclose(float(cells[0]), row.time_s, abs_tol=5e-4)
        assert math.isclose(float(cells[1]), row.water_c, abs_tol=5e-4)
        assert cells[-1] == row.event
