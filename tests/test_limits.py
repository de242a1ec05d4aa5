"""One limits table: the console's checks and a plan's steps judge the same reading alike.

The property that makes a disagreement impossible: for any reading and any bench, the
console's troubleshooting check answers yes exactly when the step that measures the same
thing passes it, no exactly when it fails it, and "ask the technician" exactly when the step
cannot judge it with that bench's meter. Both run here against the same scripted unit — a
box whose reports come at SPEC §3's times on the simulated clock, falling silent or losing
flow when the test says, and a meter that reads what the test says — so only their
judgments can differ, timing included: a check waiting with another silence window or
taking a flow report the step would call stale answers differently.

Agreement alone cannot see a wrong figure in the table or a bug in a function both sides
share, so readings taken from SPEC.md are judged against the answers SPEC.md gives; and a
scan of the bench's source finds the table's timing copied as a number where it judges.
"""

from __future__ import annotations

import ast
import contextlib
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bench.console import loads as console_loads
from bench.console.checks import CHECKS, Bench, CheckResult
from bench.testing import limits
from bench.testing.instruments.link import RemoteLink
from bench.testing.instruments.meter import InstrumentError
from bench.testing.instruments.specs import INSTRUMENT_SETS, Instruments
from bench.testing.record import StepResult
from bench.testing.steps import STEP_TYPES, StepContext, StepFailure, StepRun
from protocols.driver import SimulatedDriver
from protocols.mspa import FlowSwitches, RemoteState
from protocols.sdm120 import MeterReading

BENCHES = sorted(INSTRUMENT_SETS)

REPORT_PERIOD_S = 1.0132
"""SPEC §3: the box reports 0x06 (water) and 0x08 (flow) every 1.0132 s..."""
FLOW_AFTER_WATER_S = 0.81
"""...the 0x08 0.81 s after the 0x06 (SPEC §3)."""
RESTART_REPORTS_S = (6.06, 6.87)
"""SPEC §3, captured power-on: the first 0x06 and 0x08, seconds after mains on."""


class ScriptedUnit:
    """A box as the bench's link sees it, scripted on the simulated clock: the link side of
    both a step and a console check, so only their judgments can differ.

    It reports as SPEC §3 says a box does — a 0x06 every 1.0132 s from ``phase`` and a 0x08
    0.81 s after each — and had been reporting before the test began (``talking=False``: it
    was never heard). Each report is an event on the driver's scheduler, so a judgment sees
    the last frame, the water and the flow at the times a box would send them, and an
    ``alive(within)`` or a flow report's age decides exactly as it would on a real link.

    Each 0x08 carries what the flow switch read ``report_age`` seconds before it was sent.
    The switch is closed while the pump is commanded on and ``pump_works``, and until
    ``coasting_until`` whatever the pump does (water still moving from an earlier run). The
    box falls silent ``test_stops_after`` seconds after PRCD TEST (None: TEST does not stop
    it), and ``blower_trips_after`` seconds after the blower starts (None: never; SPEC §5's
    check-valve leak trips the PRCD when the blower starts); PRCD RESET brings the reports
    back at their power-on times.
    """

    def __init__(
        self,
        driver: SimulatedDriver,
        water_c: float = 20.0,
        *,
        talking: bool = True,
        phase: float = 0.0,
        report_age: float = 0.0,
        pump_works: bool = True,
        coasting_until: float = -math.inf,
        test_stops_after: float | None = 0.0,
        blower_trips_after: float | None = None,
    ):
        assert 0.0 <= phase < REPORT_PERIOD_S
        self.driver = driver
        self.state = RemoteState()
        self.water_c = water_c
        self.listeners: list[Any] = []
        self.lost = None
        self.report_age = report_age
        self.pump_works = pump_works
        self.coasting_until = coasting_until
        self.test_stops_after = test_stops_after
        self.blower_trips_after = blower_trips_after
        self.pressed: list[tuple[str, float]] = []
        """PRCD buttons pressed and when (a step and a check must press at the same time)."""
        self._pump: list[tuple[float, bool]] = [(-math.inf, False)]
        self.silent_from: float | None = None if talking else -math.inf
        self.last_frame_at: float | None = None
        self.water_at: float | None = None
        self.flow_at: float | None = None
        self.flow: FlowSwitches | None = None
        self._ended: set[str] = set()
        if talking:
            now = self.now()
            water = now + phase - REPORT_PERIOD_S  # the last 0x06 before the test began
            flow = water + FLOW_AFTER_WATER_S
            if flow > now:
                flow -= REPORT_PERIOD_S
            self._hear("water", water)
            self._hear("flow", flow)
            self._schedule("water", water + REPORT_PERIOD_S)
            self._schedule("flow", flow + REPORT_PERIOD_S)
        else:
            self._ended = {"water", "flow"}

    # -- the box ----------------------------------------------------------------------------

    def _schedule(self, kind: str, at: float) -> None:
        self.driver.scheduler.call_at(at, self._report, kind)

    def _report(self, kind: str) -> None:
        now = self.now()
        if self.silent_from is not None and now >= self.silent_from:
            self._ended.add(kind)  # silent: this report's chain ends until RESET
            return
        self._hear(kind, now)
        self._schedule(kind, now + REPORT_PERIOD_S)

    def _hear(self, kind: str, at: float) -> None:
        self.last_frame_at = at if self.last_frame_at is None else max(self.last_frame_at, at)
        if kind == "water":
            self.water_at = at
        else:
            closed = self.switch_closed(at - self.report_age)
            self.flow, self.flow_at = FlowSwitches(closed, closed), at

    def pump_commanded(self, at: float) -> bool:
        return [on for since, on in self._pump if since <= at][-1]

    def switch_closed(self, at: float) -> bool:
        """What the flow switch read at ``at``."""
        return at < self.coasting_until or (self.pump_works and self.pump_commanded(at))

    def _silence(self, at: float) -> None:
        self.silent_from = at if self.silent_from is None else min(self.silent_from, at)

    def press_test(self) -> None:
        self.pressed.append(("test", self.now()))
        if self.test_stops_after is not None:
            self._silence(self.now() + self.test_stops_after)

    def press_reset(self) -> None:
        self.pressed.append(("reset", self.now()))
        if self.silent_from is None or not self._ended:
            return
        self.silent_from = None
        for kind, after in zip(("water", "flow"), RESTART_REPORTS_S, strict=True):
            if kind in self._ended:
                self._schedule(kind, self.now() + after)
        self._ended.clear()

    # -- what a RemoteLink offers -----------------------------------------------------------

    def now(self) -> float:
        return self.driver.now()

    def set_loads(self, **changes: bool | int) -> None:
        now = self.now()
        if "filter" in changes and bool(changes["filter"]) != self.state.filter:
            self._pump.append((now, bool(changes["filter"])))
        starts_blower = int(changes.get("bubbles", 0)) > 0 and self.state.bubbles == 0
        if starts_blower and self.blower_trips_after is not None:
            self._silence(now + self.blower_trips_after)
        self.state = self.state._replace(**changes)

    def all_off(self) -> None:
        self.set_loads(heater=False, filter=False, bubbles=0, ozone=False, uvc=False)

    def alive(self, within: float = limits.ALIVE_WITHIN_S) -> bool:
        """:meth:`RemoteLink.alive`'s rule on the scripted frames (the window is the caller's)."""
        last = self.last_frame_at
        return last is not None and self.now() - last <= within

    @property
    def handshake_done(self) -> bool:
        return self.alive()

    def power_cycle(self) -> None:
        pass

    def frames_heard(self) -> int:
        return 0

    @property
    def counters(self) -> Any:
        class Counters:
            bad_checksums = discarded_bytes = frames = 0

        return Counters()


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
    """Answers every question yes (the PRCD light is on, the pump is heard) and presses the
    PRCD's buttons on ``unit`` when asked to."""

    name = "person"

    def __init__(self, unit: ScriptedUnit) -> None:
        self.unit = unit

    def confirm(self, prompt_id: str, question: str) -> bool:
        return True

    def act(self, prompt_id: str, instruction: str) -> None:
        if prompt_id == "prcd-test":
            self.unit.press_test()
        elif prompt_id == "prcd-reset":
            self.unit.press_reset()

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
        operator=Person(unit),
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


PRESS_AT_S = 1.0
"""When the ``prcd-test`` step presses TEST: it switches everything off and waits a second."""

stop_delays = st.one_of(
    st.none(),
    st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 2.2, 2.5, 2.9, 3.0, 3.5, 4.5]),
    st.floats(0.0, 6.0),
)
"""Seconds after which a unit falls silent (None: it never does): at once, around the
windows' edges, or anywhere up to past every wait."""
phases = st.floats(0.0, REPORT_PERIOD_S, exclude_max=True)


@settings(max_examples=300, deadline=None)
@given(
    bench=st.sampled_from(BENCHES),
    stops_after=stop_delays,
    phase=phases,
    watts=st.one_of(st.sampled_from([0.0, 0.5, 4.6, 92.0]), st.floats(0.0, 200.0)),
)
def test_the_frames_stop_check_answers_as_the_prcd_test_judges(
    bench: str, stops_after: float | None, phase: float, watts: float
) -> None:
    """TEST pressed at the same moment of the same report stream; the unit falls silent
    ``stops_after`` s later (or never) and the meter then reads ``watts`` (no meter: none).
    Both must judge the silence with the same window (:data:`limits.STOPPED_QUIET_S`) and
    the same wait for it."""
    instruments = INSTRUMENT_SETS[bench]
    answers, pressed = [], []
    for judge in ("step", "check"):
        unit = ScriptedUnit(SimulatedDriver(), phase=phase, test_stops_after=stops_after)
        meter = ScriptedMeter(unit, "filter", watts, 0.0) if instruments.has_meter else None
        if judge == "step":
            answers.append(
                answer_of(run_step("prcd-test", {}, unit, meter, instruments), "unit_stopped")
            )
        else:
            unit.driver.sleep(PRESS_AT_S)
            unit.press_test()  # the tree tells the technician to press TEST, then checks
            answers.append(run_check("frames-stop", unit, meter, instruments).answer)
        pressed.append(unit.pressed[0])
    event(f"stopped: {answers[1]}")
    assert pressed[0] == pressed[1] == ("test", PRESS_AT_S)
    assert answers[0] is answers[1], (answers, stops_after, phase)


@settings(max_examples=300, deadline=None)
@given(
    pump_works=st.booleans(),
    coasting=st.one_of(
        st.sampled_from([-math.inf, 0.2, 0.45, 0.5, 0.6, 1.0]), st.floats(-2.0, 3.0)
    ),
    report_age=st.one_of(
        st.sampled_from([0.0, limits.FLOW_REPORT_LAG_S]),
        st.floats(0.0, limits.FLOW_REPORT_LAG_S),
    ),
    phase=phases,
)
def test_the_flow_with_filter_check_answers_as_the_flow_step_judges(
    pump_works: bool, coasting: float, report_age: float, phase: float
) -> None:
    """The pump switched on at the same moment of the same report stream; the switch reads
    closed while the pump works, and until ``coasting`` s whatever it does; a report may
    carry a reading up to :data:`limits.FLOW_REPORT_LAG_S` old. Both must refuse the same
    stale reports: a report that predates the switch says nothing about the pump."""
    answers = []
    for judge in ("step", "check"):
        unit = ScriptedUnit(
            SimulatedDriver(),
            phase=phase,
            pump_works=pump_works,
            coasting_until=coasting,
            report_age=report_age,
        )
        instruments = INSTRUMENT_SETS["person"]  # the check reads no meter
        if judge == "step":
            result = run_step("flow", {"filter": True}, unit, None, instruments)
            answers.append(answer_of(result, "flow"))
        else:
            answers.append(run_check("flow-with-filter", unit, None, instruments).answer)
        assert unit.pump_commanded(0.0) and not unit.pump_commanded(-1e-9)  # switched at 0
    event(f"flow: {answers[1]}")
    assert answers[0] is answers[1], (answers, pump_works, coasting, report_age, phase)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["load-power", "bubbles"]),
    trips_after=stop_delays,
    phase=phases,
)
def test_the_blower_trips_check_answers_as_the_load_steps_judge(
    kind: str, trips_after: float | None, phase: float
) -> None:
    """The blower started at the same moment of the same report stream; the unit falls
    silent ``trips_after`` s later (or never). "Does the unit stop when the blower starts?"
    is yes exactly when the step's ``unit_running`` (the link still alive after the
    step's settle time) fails."""
    params: dict[str, Any] = {"load": "blower"} if kind == "load-power" else {}
    answers = []
    for judge in ("step", "check"):
        unit = ScriptedUnit(SimulatedDriver(), phase=phase, blower_trips_after=trips_after)
        instruments = INSTRUMENT_SETS["person"]  # the check reads no meter
        if judge == "step":
            running = answer_of(run_step(kind, params, unit, None, instruments), "unit_running")
            answers.append(None if running is None else not running)
        else:
            answers.append(run_check("blower-trips", unit, None, instruments).answer)
    event(f"trips: {answers[1]}")
    assert answers[0] is answers[1], (answers, trips_after, phase)


# -- absolute examples: the figures of the specification, not of the code ------------------
#
# The agreement tests above cannot see a bug in a function both sides share (``judge_draw``,
# ``water_plausible``, ``board_supplied``, ``unit_stopped``...) or a wrong figure in the
# table: both would be wrong alike. These readings and their answers come from SPEC.md.

DRAW_EXAMPLES = [
    ("filter", 60.0, True, "SPEC §2: the filter pump draws 60 W"),
    ("filter", 40.0, True, "a weak pump, two thirds of SPEC §2's 60 W, still runs"),
    ("filter", 5.0, False, "SPEC §5 filter-pump-dead: no pump draw"),
    ("filter", 0.0, False, "SPEC §5 filter-pump-dead: no pump draw"),
    ("heater", 1500.0, True, "SPEC §2/§3: stage 1 (the first 10 s) draws 1500 W"),
    ("heater", 2000.0, True, "SPEC §2: stage 2 draws 2000 W"),
    ("heater", 60.0, False, "SPEC §5 heater-open: no heater draw (a pump's worth is none)"),
    ("heater", 0.0, False, "SPEC §5 heater-open: no heater draw"),
    ("blower", 0.0, False, "SPEC §5 blower-dead: bubbles on, no blower draw"),
    ("blower", 10.0, False, "SPEC §5 blower-dead: an ozone generator's worth is no blower"),
]


@pytest.mark.parametrize(("load", "change_w", "expected", "why"), DRAW_EXAMPLES)
@pytest.mark.parametrize("bench", ["sdm120", "ideal", "worst-in-spec"])
def test_a_draw_is_judged_as_the_specification_says(
    load: str, change_w: float, expected: bool, why: str, bench: str
) -> None:
    """Metered benches that resolve these bands (an SDM120 is the default bench), SPEC §2's
    2 W standby under every reading."""
    instruments = INSTRUMENT_SETS[bench]
    unit = ScriptedUnit(SimulatedDriver())
    check = run_check(
        DRAW_CHECKS[load], unit, ScriptedMeter(unit, load, 2.0, change_w), instruments
    )
    assert check.answer is expected, (why, check.detail)
    unit = ScriptedUnit(SimulatedDriver())
    meter = ScriptedMeter(unit, load, 2.0, change_w)
    step = run_step("load-power", {"load": load}, unit, meter, instruments)
    assert answer_of(step, "draw_w") is expected, (why, step)
    if load == "heater" and not expected:
        assert step.suspects == ["heater-open"], step.suspects


@pytest.mark.parametrize(
    ("load", "level", "watts", "outcome"),
    [
        ("filter", 1, 60.0, "pass"),  # SPEC §2
        ("heater", 1, 1500.0, "pass"),  # SPEC §2, stage 1
        ("heater", 1, 2000.0, "pass"),  # SPEC §2, stage 2
        ("blower", 3, 900.0, "pass"),  # SPEC §2: 900 W at level 3
        ("ozone", 1, 10.0, "pass"),  # SPEC §2
        ("uvc", 1, 15.0, "pass"),  # SPEC §2
        ("ozone", 1, 0.0, "fail"),  # SPEC §5 ozone-dead
        ("uvc", 1, 0.0, "fail"),  # SPEC §5 uvc-dead
        ("blower", 3, 0.0, "fail"),  # SPEC §5 blower-dead
        ("filter", 1, 2000.0, "fail"),  # a heater's draw is no pump's
    ],
)
def test_judge_draw_on_the_specification_figures(
    load: str, level: int, watts: float, outcome: str
) -> None:
    """Every load's SPEC §2 figure passes its band on an ideal meter; nothing drawn fails."""
    band = limits.draw_band(load, level=level)
    assert limits.judge_draw(band, INSTRUMENT_SETS["ideal"], watts) == outcome
    assert limits.load_runs(load, watts) is (watts > 0.0)  # each figure runs; nothing does not


@pytest.mark.parametrize(
    ("water_c", "plausible", "why"),
    [
        (0.0, False, "SPEC §5 temp-sensor-open: the report is stuck at 0.0 °C"),
        (127.5, False, "SPEC §5 temp-sensor-short: stuck at its maximum, 127.5 °C"),
        (23.5, True, "SPEC §3: 0x2F = 23.5 °C, the wire's own example"),
        (40.0, True, "SPEC §2: the default set-point"),
        (20.0, True, "SPEC §2: the lowest set-point"),
        (42.0, True, "SPEC §3: the heater's over-temperature cut"),
        (5.0, True, "SPEC §5: the coldest ambient a healthy box must pass in"),
        (35.0, True, "SPEC §5: the warmest ambient"),
    ],
)
def test_a_water_report_is_judged_as_the_specification_says(
    water_c: float, plausible: bool, why: str
) -> None:
    assert limits.water_plausible(water_c) is plausible, why
    instruments = INSTRUMENT_SETS["sdm120"]
    check = run_check(
        "temperature-plausible", ScriptedUnit(SimulatedDriver(), water_c), None, instruments
    )
    assert check.answer is plausible, (why, check.detail)
    step = run_step(
        "temperature-plausible", {}, ScriptedUnit(SimulatedDriver(), water_c), None, instruments
    )
    assert answer_of(step, "water_c") is plausible, (why, step)
    if not plausible:
        expected = "temp-sensor-open" if water_c == 0.0 else "temp-sensor-short"
        assert step.suspects == [expected], step.suspects


@pytest.mark.parametrize(
    ("watts", "supplied", "part"),
    [
        (2.0, True, "power-board-dead"),  # SPEC §2: 2 W standby; §5: standby present
        (0.0, False, "transformer-dead"),  # SPEC §5: PRCD on, standby draw ~0
    ],
)
def test_a_silent_units_standby_is_judged_as_the_specification_says(
    watts: float, supplied: bool, part: str
) -> None:
    """SPEC §5 tells the transformer from the power board by the standby draw; an ideal meter
    sees SPEC §2's 2 W."""
    instruments = INSTRUMENT_SETS["ideal"]
    assert limits.meter_sees_standby(instruments)
    assert limits.board_supplied(watts, instruments) is supplied
    unit = ScriptedUnit(SimulatedDriver(), talking=False)
    check = run_check("standby-draw", unit, ScriptedMeter(unit, "filter", watts, 0.0), instruments)
    assert check.answer is supplied, check.detail
    unit = ScriptedUnit(SimulatedDriver(), talking=False)
    step = run_step("link-up", {}, unit, ScriptedMeter(unit, "filter", watts, 0.0), instruments)
    assert step.suspects == [part]


@pytest.mark.parametrize(
    ("bench", "stops_after", "watts", "stopped", "why"),
    [
        ("ideal", 0.0, 0.0, True, "SPEC §2: press TEST, the unit must stop; §4: no frames"),
        ("person", 0.0, 0.0, True, "no meter: the silence alone"),
        ("ideal", None, 0.0, False, "SPEC §5 prcd-faulty: TEST does not stop the unit"),
        ("person", None, 0.0, False, "SPEC §5 prcd-faulty, no meter"),
        ("ideal", 0.0, 60.0, False, "SPEC §4: tripped ⇒ nothing energised; a pump still runs"),
    ],
)
def test_prcd_test_is_judged_as_the_specification_says(
    bench: str, stops_after: float | None, watts: float, stopped: bool, why: str
) -> None:
    instruments = INSTRUMENT_SETS[bench]
    silent = stops_after is not None
    reading = watts if instruments.has_meter else None
    assert limits.unit_stopped(silent, reading, instruments) is stopped, why
    unit = ScriptedUnit(SimulatedDriver(), test_stops_after=stops_after)
    meter = ScriptedMeter(unit, "filter", watts, 0.0) if instruments.has_meter else None
    unit.press_test()
    assert run_check("frames-stop", unit, meter, instruments).answer is stopped, why
    unit = ScriptedUnit(SimulatedDriver(), test_stops_after=stops_after)
    meter = ScriptedMeter(unit, "filter", watts, 0.0) if instruments.has_meter else None
    step = run_step("prcd-test", {}, unit, meter, instruments)
    assert answer_of(step, "unit_stopped") is stopped, why
    if stopped:  # SPEC §2: press RESET, it must run again (reports 6.06 s after mains on)
        assert answer_of(step, "unit_restarted") is True, step


class DeadMeter:
    """A meter fitted on the bench that stopped answering (its adapter pulled)."""

    def read(self) -> MeterReading:
        raise InstrumentError("meter: no answer")

    def close(self) -> None:
        pass


def test_prcd_test_with_a_fitted_meter_that_cannot_be_read_is_not_called_stopped() -> None:
    """Silence alone does not prove the unit stopped when the bench has a meter to prove it
    with: the step errs on the unreadable meter, the console's check asks the technician."""
    instruments = INSTRUMENT_SETS["sdm120"]
    unit = ScriptedUnit(SimulatedDriver(), test_stops_after=0.5)
    unit.press_test()
    assert run_check("frames-stop", unit, DeadMeter(), instruments).answer is None
    unit = ScriptedUnit(SimulatedDriver(), test_stops_after=0.5)
    with pytest.raises(InstrumentError):
        run_step("prcd-test", {}, unit, DeadMeter(), instruments)


@pytest.mark.parametrize(
    ("pump_works", "flowing", "why"),
    [
        (True, True, "SPEC §2: the heater's flow switch closes with the pump running"),
        (False, False, "SPEC §5 filter-pump-dead / flow-switch-stuck-open: flow stays 0"),
    ],
)
def test_flow_with_the_filter_is_judged_as_the_specification_says(
    pump_works: bool, flowing: bool, why: str
) -> None:
    instruments = INSTRUMENT_SETS["person"]
    unit = ScriptedUnit(SimulatedDriver(), pump_works=pump_works)
    assert run_check("flow-with-filter", unit, None, instruments).answer is flowing, why
    unit = ScriptedUnit(SimulatedDriver(), pump_works=pump_works)
    step = run_step("flow", {"filter": True}, unit, None, instruments)
    assert answer_of(step, "flow") is flowing, why


@pytest.mark.parametrize(
    ("trips_after", "trips", "why"),
    [
        (None, False, "a healthy blower: the box keeps reporting every 1.0132 s (SPEC §3)"),
        (0.0, True, "SPEC §5 check-valve-leak: the PRCD trips when the blower starts"),
    ],
)
def test_a_blower_that_trips_the_unit_is_judged_as_the_specification_says(
    trips_after: float | None, trips: bool, why: str
) -> None:
    instruments = INSTRUMENT_SETS["person"]
    unit = ScriptedUnit(SimulatedDriver(), blower_trips_after=trips_after)
    assert run_check("blower-trips", unit, None, instruments).answer is trips, why
    unit = ScriptedUnit(SimulatedDriver(), blower_trips_after=trips_after)
    step = run_step("load-power", {"load": "blower"}, unit, None, instruments)
    assert answer_of(step, "unit_running") is not trips, why
    if trips:
        assert step.suspects == ["check-valve-leak"], step.suspects


@pytest.mark.parametrize(
    ("volts", "mains", "transformer"),
    [(230.0, True, True), (12.0, False, True), (0.0, False, False)],
)
def test_supply_volts_are_judged_as_the_specification_says(
    volts: float, mains: bool, transformer: bool
) -> None:
    """230 V mains (SPEC §2: a mains cord), the transformer's 12 V secondary (SPEC §2: a
    12 V pump), nothing."""
    assert limits.mains_present(volts) is mains
    assert limits.transformer_present(volts) is transformer


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


def test_the_loads_the_alive_window_and_the_settle_time_are_the_tables_own_objects() -> None:
    """Where a module hands on the table's value, it is the table's object, not an equal copy
    (a re-typed ``2.5`` or ``3.0`` is another object; the source scan below names it)."""
    assert console_loads.LOADS is limits.LOADS
    assert STEP_TYPES["load-power"].param_map()["load"].choices is limits.STEP_LOADS
    assert limits.STEP_LOADS[: len(limits.LOADS)] == limits.LOADS  # the console's, then jets
    assert RemoteLink.alive.__defaults__ is not None
    assert RemoteLink.alive.__defaults__[0] is limits.ALIVE_WITHIN_S
    for kind in ("load-power", "idle-power", "bubbles"):
        assert STEP_TYPES[kind].param_map()["settle"].default is limits.SETTLE_S, kind


BENCH_ROOT = Path(limits.__file__).resolve().parent.parent
"""The ``bench`` package's folder (``bench/testing/limits.py`` is two levels in)."""
TABLE_CONSTANT = re.compile(r"ALIVE|SETTLE|QUIET|LOADS")
"""Names of constants that would be a second copy of the table's timing and loads."""
WINDOWS = {limits.ALIVE_WITHIN_S, limits.STOPPED_QUIET_S}


def _number(node: ast.expr | None) -> float | None:
    """The value of a numeric literal (``-1.5`` too), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _literal_loads(node: ast.expr | None) -> bool:
    """A tuple, list or set of string literals (a copied ``LOADS``), bare or wrapped."""
    if isinstance(node, ast.Call) and len(node.args) == 1:
        node = node.args[0]  # frozenset((...)), tuple([...])
    return (
        isinstance(node, (ast.Tuple, ast.List, ast.Set))
        and bool(node.elts)
        and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    )


def _copied_judgments(source: str) -> list[str]:
    """Where ``source`` judges by a number of the table written out instead of named:

    * ``x.alive(<number>)`` — an alive window that is not :data:`limits.ALIVE_WITHIN_S` or
      :data:`limits.STOPPED_QUIET_S` by name;
    * a parameter named ``within``, ``*alive*`` or ``*settle*`` defaulting to a number;
    * ``Param("settle" | "within", type, <number>)`` with the value of a table figure;
    * ``sleep`` / ``wait`` / ``wait_for`` / ``wait_until`` for exactly :data:`limits.SETTLE_S`;
    * an elapsed time (``a - b``) compared with the number of a window or the settle time;
    * a module- or class-level constant named like ``*ALIVE*``, ``*SETTLE*``, ``*QUIET*`` or
      ``*LOADS*`` given a number or a tuple of names.
    """
    found: list[str] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            values = [_number(a) for a in (*node.args, *(k.value for k in node.keywords))]
            if name == "alive" and any(v is not None for v in values):
                found.append(f"line {node.lineno}: .alive({values})")
            if name in ("sleep", "wait", "wait_for", "wait_until") and limits.SETTLE_S in values:
                found.append(f"line {node.lineno}: {name}({limits.SETTLE_S:g}) is SETTLE_S")
            if (
                name == "Param"
                and len(node.args) > 2
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in ("settle", "within")
                and _number(node.args[2]) in {limits.SETTLE_S, *WINDOWS}
            ):
                found.append(f"line {node.lineno}: Param({node.args[0].value!r}, ..., literal)")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            elapsed = any(isinstance(o, ast.BinOp) and isinstance(o.op, ast.Sub) for o in operands)
            if elapsed and {_number(o) for o in operands} & {limits.SETTLE_S, *WINDOWS}:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            defaulted = positional[len(positional) - len(arguments.defaults) :]
            pairs = [
                *zip(defaulted, arguments.defaults, strict=True),
                *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
            ]
            for argument, default in pairs:
                named = argument.arg == "within" or any(
                    word in argument.arg for word in ("alive", "settle")
                )
                if named and _number(default) is not None:
                    found.append(f"line {node.lineno}: {node.name}({argument.arg}=<number>)")
    bodies = [tree.body, *(c.body for c in ast.walk(tree) if isinstance(c, ast.ClassDef))]
    for body in bodies:
        for statement in body:
            if isinstance(statement, ast.Assign):
                targets, value = statement.targets, statement.value
            elif isinstance(statement, ast.AnnAssign):
                targets, value = [statement.target], statement.value
            else:
                continue
            for target in targets:
                if not (isinstance(target, ast.Name) and TABLE_CONSTANT.search(target.id)):
                    continue
                if _number(value) is not None or _literal_loads(value):
                    found.append(f"line {statement.lineno}: {target.id} = <literal>")
    return found


def test_no_bench_module_judges_by_a_copy_of_the_tables_timing() -> None:
    """The table's alive window, stop window, settle time and loads are named wherever the
    bench judges by them: a copy (``alive(2.5)``, ``SETTLE = 3.0``, ``sleep(3.0)``) would be
    right today and silently stay behind the day the table changes."""
    copies = {
        str(path.relative_to(BENCH_ROOT.parent)): found
        for path in sorted(BENCH_ROOT.rglob("*.py"))
        if path.resolve() != Path(limits.__file__).resolve()
        and (found := _copied_judgments(path.read_text(encoding="utf-8")))
    }
    assert not copies, copies


@pytest.mark.parametrize(
    "source",
    [
        "ok = link.alive(2.5)",
        "ok = link.alive(within=1.5)",
        "def alive(self, within: float = 2.5) -> bool: ...",
        "def check(bench, settle_s=3.0): ...",
        "driver.sleep(3.0)",
        "ctx.wait(3.0, 'settling')",
        "ok = now - last <= 2.5",
        "quiet = 1.5 < now - link.last_frame_at",
        "P = Param('settle', 'float', 3.0, 'seconds')",
        "SETTLE = 3.0",
        "ALIVE_WINDOW_S: float = 2.5",
        "class Watch:\n    STOP_QUIET = 1.5",
        "LOADS = ('filter', 'heater', 'blower', 'ozone', 'uvc')",
        "CONSOLE_LOADS = frozenset(('filter', 'heater'))",
    ],
)
def test_the_source_scan_finds_each_kind_of_copy(source: str) -> None:
    assert _copied_judgments(source), source


@pytest.mark.parametrize(
    "source",
    [
        "ok = link.alive()",
        "ok = link.alive(STOPPED_QUIET_S)",
        "def alive(self, within: float = ALIVE_WITHIN_S) -> bool: ...",
        "driver.sleep(1.0)",
        "ctx.wait(2.0, 'switching off')",
        "finished.wait(10.0)",
        "ok = now - last <= ALIVE_WITHIN_S",
        "high = volts > 2.5",
        "P = Param('settle', 'float', 2.0, 'seconds to wait afterwards')",
        "SETTLE_TIME = SETTLE_S",
        "_LOAD_ACTIONS = frozenset(('switch', 'bubbles'))",
        "KEEP = 2.5",
        "def f():\n    SETTLE = 3.0\n    return SETTLE",  # a local, not a module constant
    ],
)
def test_the_source_scan_leaves_unrelated_numbers_alone(source: str) -> None:
    assert _copied_judgments(source) == [], source


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


# -- the F1 reset window (issue 12 review, bug 6) --------------------------------------------


class LateResetBox:
    """A box whose pump runs without flow (08 00) and which, after each 0B 00, reports 08 03
    for the model's ``errors_f1_reset_report_s`` *plus one report period*: its reset's last
    08 03 comes one report late. Played by :class:`~protocols.mspa.box.BoxDuty` on the
    plate's report schedule (SPEC §3: 06 every 1.0132 s, 08 0.81 s after)."""

    def __init__(self, scheduler: Any, plate: Any) -> None:
        self.scheduler, self.plate = scheduler, plate
        self.reset_at: float | None = None

    def flow_parameter(self) -> int:
        plate, reset = self.plate, self.reset_at
        late = plate.errors_f1_reset_report_s + plate.link_report_period_s
        if reset is not None and self.scheduler.now() - reset <= late:
            return 0x03
        return 0x00

    def on_frame(self, command: int, parameter: int) -> bool:
        if command == 0x0B and parameter == 0x00:
            self.reset_at = self.scheduler.now()
        return True

    def temperature_parameter(self) -> int:
        return 0x28

    def blower_running(self) -> bool:
        return False

    def led_flags(self) -> int:
        return 0

    def status_parameter(self) -> int:
        return 0

    def booted(self) -> None:
        pass

    def watchdog_expired(self) -> None:
        pass

    def watchdog_restored(self) -> None:
        pass


def test_a_reset_report_one_period_late_is_not_trusted() -> None:
    """Issue 12: after 0B 00 the box reports 08 03 for 2 s whatever the flow. A box whose
    last such 08 03 comes one report period late must not pass for one with flow: the
    window is the box's own report schedule, not a wall-time margin that shrinks to
    milliseconds when the box is served fast."""
    from protocols.mspa.box import BoxDuty
    from protocols.mspa.models import load_model
    from protocols.ports import SimCable

    plate = load_model("premium-4")
    driver = SimulatedDriver()
    cable = SimCable(driver.scheduler)
    owner = LateResetBox(driver.scheduler, plate)
    box = BoxDuty(driver.scheduler, cable.box, plate, owner)
    link = RemoteLink(driver, cable.remote, plate=plate)
    flows: list[tuple[float, int]] = []
    trusted: list[tuple[float, int]] = []

    def heard(t: float, who: str, frame: Any) -> None:
        if frame.command == 0x08:
            flows.append((t, frame.parameter))
            if link.flow_at == t:  # the link took it as the flow (listeners hear it after)
                trusted.append((t, frame.parameter))

    link.listeners.append(heard)
    box.power_on()
    link.start()
    driver.sleep(20.0)
    assert link.handshake_done and link.flow == FlowSwitches(False, False)
    # Press at a time that puts a report 2.9 s after the 0B 00: past the box's 2 s (and
    # past 2 s + half a period), inside 2 s + one period — the late report.
    last = flows[-1][0]
    period = plate.link_report_period_s
    press_at = last - (plate.errors_f1_reset_report_s + 0.9)
    while press_at <= driver.now():
        press_at += period
    driver.sleep(press_at - driver.now())
    link.long_press_filter()
    sent = driver.now()
    driver.sleep(plate.errors_f1_reset_report_s + 3 * period)
    resets = [(round(t - sent, 2), p) for t, p in flows if t > sent and p == 0x03]
    assert any(t > plate.errors_f1_reset_report_s + period / 2 for t, _ in resets), resets
    assert [(t, p) for t, p in trusted if t > sent and p == 0x03] == [], resets
    assert link.reset_flow == FlowSwitches(True, True)
    assert link.flow == FlowSwitches(False, False)
    assert link.flow_at is not None and link.flow_at > sent  # the truth after the window
