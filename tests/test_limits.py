"""One limits table: the console's checks and a plan's steps judge the same reading alike.

The property that makes a disagreement impossible: for any reading and any bench, the
console's troubleshooting check answers yes exactly when the step that measures the same
thing passes it, no exactly when it fails it, and "ask the technician" exactly when the step
cannot judge it with that bench's meter. Both run here against the same scripted unit — a
link that always talks and a meter that reads what the test says — so only their judgments
can differ.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from bench.console import loads as console_loads
from bench.console.checks import CHECKS, Bench, CheckResult
from bench.testing import limits
from bench.testing.instruments.link import RemoteLink
from bench.testing.instruments.specs import INSTRUMENT_SETS, Instruments
from bench.testing.record import StepResult
from bench.testing.steps import STEP_TYPES, StepContext, StepFailure, StepRun
from protocols.driver import SimulatedDriver
from protocols.mspa import FlowSwitches, RemoteState
from protocols.sdm120 import MeterReading

BENCHES = sorted(INSTRUMENT_SETS)


class ScriptedUnit:
    """A box that always talks, reports flow exactly while its pump is commanded, and whose
    water reads ``water_c``: the link side of both a step and a console check."""

    def __init__(self, driver: SimulatedDriver, water_c: float = 20.0, *, talking: bool = True):
        self.driver = driver
        self.state = RemoteState()
        self.water_c = water_c
        self.talking = talking
        self.listeners: list[Any] = []
        self.lost = None

    def now(self) -> float:
        return self.driver.now()

    def set_loads(self, **changes: bool | int) -> None:
        self.state = self.state._replace(**changes)

    def all_off(self) -> None:
        self.set_loads(heater=False, filter=False, bubbles=0, ozone=False, uvc=False)

    def alive(self, within: float = limits.ALIVE_WITHIN_S) -> bool:
        return self.talking

    @property
    def last_frame_at(self) -> float | None:
        return self.now() if self.talking else None

    @property
    def handshake_done(self) -> bool:
        return self.talking

    def power_cycle(self) -> None:
        pass

    def frames_heard(self) -> int:
        return 0

    @property
    def counters(self) -> Any:
        class Counters:
            bad_checksums = discarded_bytes = frames = 0

        return Counters()

    @property
    def flow(self) -> FlowSwitches:
        return FlowSwitches(self.state.filter, self.state.filter)

    @property
    def flow_at(self) -> float:
        return self.now()

    @property
    def water_at(self) -> float:
        return float(int(self.now()))  # one report a second


class ScriptedMeter:
    """Reads ``standby_w``, plus ``change_w`` while ``load`` is commanded on."""

    def __init__(self, unit: ScriptedUnit, load: str, standby_w: float, change_w: float):
        self.unit, self.load, self.standby_w, self.change_w = unit, load, standby_w, change_w

    def read(self) -> MeterReading:
        state = self.unit.state
        on = state.bubbles > 0 if self.load == "blower" else bool(getattr(state, self.load))
        watts = self.standby_w + (self.change_w if on else 0.0)
        return MeterReading(230.0, watts / 230.0, watts)

    def close(self) -> None:
        pass


class Person:
    """Answers every question yes: the PRCD light is on, the pump is heard."""

    name = "person"

    def confirm(self, prompt_id: str, question: str) -> bool:
        return True

    def act(self, prompt_id: str, instruction: str) -> None:
        pass

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        return 12.0


def run_step(
    kind: str, params: dict[str, Any], unit: ScriptedUnit, meter: Any, instruments: Instruments
) -> StepResult:
    """Run one step type with its default parameters (plus ``params``) on the scripted unit."""
    step = STEP_TYPES[kind]
    full = {p.name: p.default for p in step.params} | params
    result = StepResult(
        kind, kind, kind, measurements=[d.new() for d in step.declare(full, instruments)]
    )
    ctx = StepContext(
        unit.driver,
        link=unit,
        meter=meter,
        operator=Person(),
        instruments=instruments,
    )
    run = StepRun(result, full, ctx)
    if step.unmeasurable(full, instruments) is not None:
        return result  # the runner skips it: nothing measured
    with contextlib.suppress(StepFailure):
        step.run(run)
    result.suspects = run.suspects or []
    return result


def run_check(check: str, unit: ScriptedUnit, meter: Any, instruments: Instruments) -> CheckResult:
    return CHECKS[check].run(Bench(unit, meter, unit.driver, instruments))


def answer_of(result: StepResult, measurement: str) -> bool | None:
    """The step's judgment as a check's answer: None when it did not judge by the meter."""
    if all(item.name != measurement for item in result.measurements):
        return None
    outcome = result.measurement(measurement).outcome
    assert outcome != "unset", result
    return outcome in ("pass", "marginal")


DRAW_CHECKS = {"filter": "filter-draw", "heater": "heater-draw", "blower": "blower-draw"}


@st.composite
def draw_readings(draw: st.DrawFn) -> tuple[str, float]:
    """A load and a draw change: on and around its band's edges, inside and near its band,
    or anywhere up to 3 kW."""
    load = draw(st.sampled_from(sorted(DRAW_CHECKS)))
    band = limits.ON_DRAW[limits.draw_key(load)]
    near = [
        edge + offset
        for edge in (band.low, band.high, band.running_w)
        for offset in (-0.06, -0.05, -0.04, 0.0, 0.04, 0.05, 0.06)
    ]
    change = draw(
        st.one_of(
            st.sampled_from(near),
            st.floats(band.low / 2, band.high * 1.5),
            st.floats(-50.0, 3000.0, allow_nan=False),
        )
    )
    return load, change


@settings(max_examples=600, deadline=None)
@given(
    reading=draw_readings(),
    bench=st.sampled_from(BENCHES),
    standby_w=st.floats(0.0, 20.0, allow_nan=False),
)
def test_a_draw_check_answers_as_the_load_power_step_judges(
    reading: tuple[str, float], bench: str, standby_w: float
) -> None:
    load, change_w = reading
    instruments = INSTRUMENT_SETS[bench]
    answers = []
    for judge in ("step", "check"):
        unit = ScriptedUnit(SimulatedDriver())
        meter = ScriptedMeter(unit, load, standby_w, change_w)
        if judge == "step":
            result = run_step("load-power", {"load": load}, unit, meter, instruments)
            answers.append(answer_of(result, "draw_w"))
        else:
            answers.append(run_check(DRAW_CHECKS[load], unit, meter, instruments).answer)
    event(f"{load}: {answers[1]}")
    assert answers[0] is answers[1], (load, bench, change_w)


@settings(max_examples=200, deadline=None)
@given(
    water_c=st.one_of(
        st.sampled_from([0.0, 0.5, 1.0, 50.0, 50.5, 60.0, 127.5]), st.floats(-20, 130)
    )
)
def test_the_temperature_check_answers_as_the_step_judges(water_c: float) -> None:
    instruments = INSTRUMENT_SETS["sdm120"]
    step = run_step(
        "temperature-plausible", {}, ScriptedUnit(SimulatedDriver(), water_c), None, instruments
    )
    check = run_check(
        "temperature-plausible", ScriptedUnit(SimulatedDriver(), water_c), None, instruments
    )
    assert check.answer is answer_of(step, "water_c"), check.detail


@settings(max_examples=200, deadline=None)
@given(bench=st.sampled_from(BENCHES), watts=st.floats(0.0, 30.0, allow_nan=False))
def test_the_standby_check_answers_as_the_link_up_triage_judges(bench: str, watts: float) -> None:
    """A silent unit with the PRCD on: is its power board supplied (the meter's word only)?"""
    instruments = INSTRUMENT_SETS[bench]
    unit = ScriptedUnit(SimulatedDriver(), talking=False)
    step = run_step("link-up", {}, unit, ScriptedMeter(unit, "filter", watts, 0.0), instruments)
    unit = ScriptedUnit(SimulatedDriver(), talking=False)
    check = run_check("standby-draw", unit, ScriptedMeter(unit, "filter", watts, 0.0), instruments)
    measured = any(item.name == "standby_w" for item in step.measurements)
    if not measured:
        assert check.answer is None, check.detail
    else:
        assert check.answer is (step.suspects == ["power-board-dead"]), (
            step.suspects,
            check.detail,
        )


@settings(max_examples=200, deadline=None)
@given(
    bench=st.sampled_from(BENCHES),
    talking=st.booleans(),
    watts=st.one_of(st.sampled_from([0.0, 0.5, 4.6, 92.0]), st.floats(0.0, 200.0)),
)
def test_the_frames_stop_check_answers_as_the_prcd_test_judges(
    bench: str, talking: bool, watts: float
) -> None:
    """After PRCD TEST: silent (or not), the meter reading ``watts`` (or nothing, without one)."""
    instruments = INSTRUMENT_SETS[bench]
    answers = []
    for judge in ("step", "check"):
        unit = ScriptedUnit(SimulatedDriver(), talking=talking)
        meter = ScriptedMeter(unit, "filter", watts, 0.0) if instruments.has_meter else None
        if judge == "step":
            answers.append(
                answer_of(run_step("prcd-test", {}, unit, meter, instruments), "unit_stopped")
            )
        else:
            answers.append(run_check("frames-stop", unit, meter, instruments).answer)
    assert answers[0] is answers[1]


def test_the_console_says_which_band_it_judged_against() -> None:
    unit = ScriptedUnit(SimulatedDriver())
    result = run_check(
        "filter-draw", unit, ScriptedMeter(unit, "filter", 2.0, 20.0), INSTRUMENT_SETS["sdm120"]
    )
    assert result.answer is False and "below the 30–120 W band" in result.detail
    unit = ScriptedUnit(SimulatedDriver())
    result = run_check(
        "blower-draw", unit, ScriptedMeter(unit, "blower", 2.0, 500.0), INSTRUMENT_SETS["clamp"]
    )
    assert result.answer is True and "inside the 300–800 W band" in result.detail


def test_a_check_whose_band_the_meter_cannot_resolve_asks_before_switching() -> None:
    unit = ScriptedUnit(SimulatedDriver())
    result = run_check(
        "filter-draw", unit, ScriptedMeter(unit, "filter", 2.0, 60.0), INSTRUMENT_SETS["clamp"]
    )
    assert result.answer is None and "clamp meter cannot resolve the 30–120 W band" in result.detail
    assert unit.state == RemoteState() and unit.driver.now() == 0.0


def test_one_loads_tuple_one_alive_window_one_settle_time() -> None:
    assert console_loads.LOADS is limits.LOADS
    assert RemoteLink.alive.__defaults__ == (limits.ALIVE_WITHIN_S,)
    assert STEP_TYPES["load-power"].param_map()["load"].choices == limits.LOADS
    for kind in ("load-power", "idle-power", "bubbles"):
        assert STEP_TYPES[kind].param_map()["settle"].default == limits.SETTLE_S


def test_every_packaged_profile_draws_inside_the_table() -> None:
    """Why the table needs no per-model override: every model's figures fall inside it."""
    from spasim.profiles import available_profiles, load_profile

    for profile in available_profiles():
        _inside_the_table(profile, load_profile(profile))


def _inside_the_table(profile: str, p: Any) -> None:
    figures = {
        "filter": p.filter_pump_w,
        "heater": p.heater_stage1_w,
        "blower-1": p.blower_level_w[0],
        "blower-2": p.blower_level_w[1],
        "blower-3": p.blower_level_w[2],
    }
    if p.ozone_fitted:
        figures["ozone"] = p.ozone_w
    if p.uvc_fitted:
        figures["uvc"] = p.uvc_w
    for key, watts in figures.items():
        band = limits.ON_DRAW[key]
        assert band.low <= watts <= band.high, (profile, key, watts)
    assert limits.ON_DRAW["heater"].low <= p.heater_stage2_w <= limits.ON_DRAW["heater"].high
    assert p.standby_w <= limits.IDLE_HIGH_W
    low, high = limits.AUTO_OFF_S
    assert low <= p.blower_auto_off_min * 60 <= high
