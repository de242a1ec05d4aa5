"""Instruments with their data sheets' limits (issue 9): what a meter, a multimeter and a
person at the bench can and cannot tell, and plans that respect it.

Expectations come from the data sheets quoted in ``shared/research`` and SPEC §6: an SDM120
reads 0 below its 20 mA starting current (≈ 4.6 W at 230 V), errs within class 1 of
IEC 62053-21 (±1 % from 0.1 Ib = 0.5 A, ±1.5 % from 0.05 Ib = 0.25 A) and sends float32.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.cli import main
from bench.testing.instruments.meter import InstrumentError, ModbusMeter, UnreachableMeter
from bench.testing.instruments.operator import AnswersOperator, OperatorError, VirtualOperator
from bench.testing.instruments.specs import DMM, INSTRUMENT_SETS
from bench.testing.plans import PlanError, load_plan, parse_plan
from bench.testing.runner import Runner
from bench.testing.targets import virtual_box_target
from protocols.meter_model import IDEAL, METER_SPECS, SDM120, WORST_IN_SPEC, MeterErrors
from protocols.sdm120 import MeterReading
from spasim.meter_server import MeterServer

VOLTS = 230.0


def truth(watts: float) -> MeterReading:
    return MeterReading(VOLTS, watts / VOLTS, watts)


# --- the meter specs -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", [SDM120, WORST_IN_SPEC])
@pytest.mark.parametrize("watts", [0.0, 2.0, 4.5])
def test_an_sdm120_reads_nothing_below_its_starting_current(spec: object, watts: float) -> None:
    """2 W standby is invisible to it: 20 mA × 230 V = 4.6 W."""
    reading = MeterErrors(spec, seed=3).spoil(truth(watts))  # type: ignore[arg-type]
    assert reading.power_w == 0.0 and reading.current_a == 0.0
    assert math.isclose(reading.voltage_v, VOLTS, rel_tol=0.006)


def test_an_sdm120_reads_a_load_just_above_its_starting_current() -> None:
    assert MeterErrors(SDM120, seed=3).spoil(truth(5.0)).power_w > 0.0


@given(
    spec=st.sampled_from(list(METER_SPECS.values())),
    seed=st.integers(0, 2**32),
    watts=st.floats(0.0, 3000.0),
)
def test_every_reading_is_within_the_data_sheet(spec: object, seed: int, watts: float) -> None:
    errors = MeterErrors(spec, seed)  # type: ignore[arg-type]
    for _ in range(3):
        reading = errors.spoil(truth(watts))
        bound = spec.error_w(watts)  # type: ignore[attr-defined]
        # float32 registers round to 24 bits of mantissa on top of the meter's own error.
        assert abs(reading.power_w - watts) <= bound + abs(watts) * 2**-23 + 1e-9


@pytest.mark.parametrize("watts", [60.0, 1500.0])
def test_worst_in_spec_errs_at_the_class_1_bound_with_both_signs(watts: float) -> None:
    band = 0.015 if watts / VOLTS < 0.5 else 0.01  # IEC 62053-21 class 1, from 0.05 / 0.1 Ib
    high = MeterErrors(WORST_IN_SPEC, seed=0).spoil(truth(watts)).power_w
    low = MeterErrors(WORST_IN_SPEC, seed=1).spoil(truth(watts)).power_w
    assert math.isclose(high, watts * (1 + band) + 0.3, rel_tol=1e-6)
    assert math.isclose(low, watts * (1 - band) - 0.3, rel_tol=1e-6)


def test_the_ideal_meter_is_the_truth() -> None:
    assert MeterErrors(IDEAL, seed=5).spoil(truth(2.0)) == truth(2.0)


def test_limits_tighter_than_the_meter_resolves_are_named() -> None:
    assert "reads 0 below 4.6 W" in (SDM120.limit_problem(0.5, 15.0, change=False) or "")
    assert IDEAL.limit_problem(0.5, 15.0, change=False) is None
    assert "narrower" in (SDM120.limit_problem(9.5, 10.5, change=True) or "")
    assert SDM120.limit_problem(5.0, 20.0, change=True) is None


# --- plans against the declared instruments ------------------------------------------------

STANDBY_PLAN = """name = "standby-check"
[[step]]
name = "link"
type = "link-up"
stop_on_fail = "no link"
[[step]]
name = "standby"
type = "idle-power"
low = 0.5
"""


def test_a_limit_below_the_declared_meters_floor_is_refused_at_plan_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old full plan judged standby against 0.5 W: on an SDM120 every good box fails."""
    path = tmp_path / "standby.toml"
    path.write_text(STANDBY_PLAN)
    plan = parse_plan(STANDBY_PLAN, str(path))
    with pytest.raises(PlanError, match=r"step 2 \(standby\): idle_w low limit 0.5 W"):
        plan.check_instruments(INSTRUMENT_SETS["sdm120"])
    plan.check_instruments(INSTRUMENT_SETS["ideal"])
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--virtual", "--plan", str(path), "--no-store"])
    assert exit_info.value.code == 2
    assert "step 2 (standby)" in capsys.readouterr().err
    assert main(["run", "--virtual", "--meter-spec", "ideal", "--plan", str(path)]) == 0


def test_every_shipped_plan_suits_every_bench_or_refuses_to_verify_blind() -> None:
    from bench.testing.plans import available_plans

    refused = set()
    for name in available_plans():
        for bench, instruments in INSTRUMENT_SETS.items():
            try:
                load_plan(name).check_instruments(instruments)
            except PlanError:
                refused.add((name, bench))
    blind = {"clamp", "multimeter", "person"}
    assert refused == {(p, b) for p in ("verify-ozone", "verify-uvc") for b in blind}


def test_a_verification_that_cannot_check_its_part_is_refused_not_passed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A new ozone generator "verified" by a bench that cannot see it would hand back a
    dead one: the run is refused before it starts (exit 2), naming what it needs."""
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--virtual", "--no-meter", "--plan", "verify-ozone", "--fault", "ozone-dead"])
    assert exit_info.value.code == 2
    assert "cannot verify ozone-dead" in capsys.readouterr().err
    assert main(["run", "--virtual", "--plan", "verify-ozone", "--fault", "ozone-dead"]) == 1


def test_plans_command_says_what_a_bench_cannot_find(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plans", "full", "--instruments", "person"]) == 0
    out = capsys.readouterr().out
    assert "cannot find" in out
    for fault in ("ozone-dead", "uvc-dead", "transformer-dead", "power-board-dead"):
        assert fault in out
    assert main(["plans", "full", "--instruments", "sdm120"]) == 0
    assert "cannot find" not in capsys.readouterr().out


# --- the person and the multimeter ---------------------------------------------------------


def test_the_virtual_person_perceives_running_loads_but_never_watts() -> None:
    target = virtual_box_target(instruments=INSTRUMENT_SETS["person"])
    box = target.virtual_unit
    person = target.operator
    assert isinstance(person, VirtualOperator)
    for prompt in ("draw-heater", "draw-any", "standby-draw", "draw-ozone"):
        with pytest.raises(OperatorError, match="cannot handle"):
            person.confirm(prompt, "?")
    assert person.confirm("pump-running", "?") is False
    box.inject("prcd-tripped")
    assert person.confirm("prcd-light", "?") is False
    with pytest.raises(OperatorError):  # no multimeter on this bench
        person.number("mm-transformer-vac", "?", "V")
    target.close()


@pytest.mark.parametrize(("fault", "volts"), [(None, 12.0), ("transformer-dead", 0.0)])
def test_the_multimeter_reads_the_transformer_within_its_accuracy(
    fault: str | None, volts: float
) -> None:
    target = virtual_box_target(
        faults=[fault] if fault else [], seed=8, instruments=INSTRUMENT_SETS["multimeter"]
    )
    relative, digits = DMM.ac
    for _ in range(20):
        read = target.operator.number("mm-transformer-vac", "?", "V")
        assert abs(read - volts) <= volts * relative + digits + 0.005
    target.close()


# --- errors and no part ---------------------------------------------------------------------


def test_a_meter_that_answers_nan_is_an_instrument_error() -> None:
    server = MeterServer(lambda: MeterReading(230.0, math.nan, math.nan))
    server.start()
    url = server.url
    try:
        meter = ModbusMeter.open(url, timeout=5.0, retries=1)
        with pytest.raises(InstrumentError, match="not a number"):
            meter.read()
        meter.close()
    finally:
        server.stop()


def test_a_meter_that_stalls_is_an_instrument_error() -> None:
    def slow() -> MeterReading:
        time.sleep(0.3)
        return truth(60.0)

    server = MeterServer(slow)
    server.start()
    url = server.url
    try:
        meter = ModbusMeter.open(url, timeout=5.0, retries=0, stall_s=0.1)
        with pytest.raises(InstrumentError, match="stalled"):
            meter.read()
        meter.close()
    finally:
        server.stop()


def test_an_error_verdict_names_no_part() -> None:
    """A meter that fails mid-plan: the steps that need it error, the verdict is error and no
    part is suggested — however the failed steps before it pointed."""
    target = virtual_box_target(faults=["filter-pump-dead"])
    target.meter = UnreachableMeter("m", "meter m: power reads nan (not a number)")
    record = Runner(load_plan("full"), target).run()
    assert record.verdict == "error"
    assert record.suspected_parts == []
    assert "no part" in record.summary


def test_a_link_step_that_errors_stops_the_plan_like_no_link(tmp_path: Path) -> None:
    """A dead box and nobody to answer the PRCD question: the link gate errors, nothing else
    runs, no part is named."""
    target = virtual_box_target(
        faults=["transformer-dead"], operator=AnswersOperator({}, source="empty answers")
    )
    record = Runner(load_plan("full"), target).run()
    link = record.steps[0]
    assert link.outcome == "error" and "prcd-light" in link.message
    assert {s.outcome for s in record.steps[1:]} == {"skipped"}
    assert record.verdict == "error" and record.suspected_parts == []


def test_a_silent_box_with_no_instrument_to_tell_names_no_part(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    code = main(
        [
            "run", "--virtual", "--fault", "power-board-dead", "--no-meter",
            "--no-multimeter", "--no-store", "--json", str(out),
        ]
    )  # fmt: skip
    record = json.loads(out.read_text())
    assert code == 1
    assert record["suspected_parts"] == []
    assert "needs a multimeter" in record["summary"]
    assert record["steps"][0]["needs"].startswith("a multimeter")


def test_the_stall_limit_follows_the_speed_but_never_below_a_round_trip() -> None:
    """At --speed 1000 (the top speed spasim serve allows) a loopback Modbus round trip of a
    few ms must not count as a stall."""
    from bench.testing.instruments.meter import stall_limit

    assert stall_limit(1.0) == 1.0
    assert stall_limit(20.0) == pytest.approx(0.05)
    assert stall_limit(1000.0) >= 0.05


@pytest.mark.parametrize("watts", [20.0, 60.0, 500.0, 1500.0])
def test_a_clamp_meter_reads_amps_to_its_last_digit(watts: float) -> None:
    """A 0.1 A clamp: readings are whole tenths of an amp, within ±(2 % + 3 digits)."""
    from protocols.meter_model import CLAMP

    errors = MeterErrors(CLAMP, seed=4)
    for _ in range(5):
        reading = errors.spoil(truth(watts))
        assert reading.current_a * 10 == pytest.approx(round(reading.current_a * 10))
        amps = watts / VOLTS
        assert abs(reading.current_a - amps) <= amps * 0.02 + 0.3 + 0.05 + 1e-9


def test_a_clamp_bench_judges_heater_and_blower_but_not_ten_watts() -> None:
    bench = INSTRUMENT_SETS["clamp"]
    assert bench.meter_tells(500.0, 1000.0)  # the heater
    assert bench.meter_tells(150.0, 300.0)  # the blower at level 1
    assert not bench.meter_tells(15.0, 30.0)  # the 60 W pump is judged by ear instead
    assert not bench.meter_sees(10.0)  # an ozone generator
    record = Runner(
        load_plan("full"), virtual_box_target(faults=["heater-open"], instruments=bench)
    ).run()
    assert [p.part_number for p in record.suspected_parts] == ["heater"]
    heater = next(s for s in record.steps if s.name == "heater-draw")
    assert [m.name for m in heater.measurements] == ["unit_running", "draw_w", "flow"]


def test_a_real_clamp_is_read_by_the_technician() -> None:
    from bench.testing.instruments.meter import ClampReadByPerson

    clamp = ClampReadByPerson(AnswersOperator({"clamp-a": 6.5}))
    reading = clamp.read()
    assert reading.current_a == 6.5 and reading.power_w == pytest.approx(1495.0)
    with pytest.raises(InstrumentError, match=r"not 0\.\.100 A"):
        ClampReadByPerson(AnswersOperator({"clamp-a": -1.0})).read()


def test_a_clamp_has_no_url(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--port", "loop://", "--meter", "tcp://127.0.0.1:1", "--meter-spec", "clamp"])
    assert exit_info.value.code == 2
    assert "read by the technician" in capsys.readouterr().err
