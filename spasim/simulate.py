"""Accelerated simulation of one box run by its panel: the trace behind ``spasim simulate``.

A spa owner's question is "how long until it is warm, what does it cost, what happens when
someone presses bubbles"; a developer's is "does the thermostat hold, does the auto-off
fire". Both are answered by running the real pieces — a :class:`~spasim.board.VirtualBox`
and a :class:`~spasim.remote.VirtualRemote` talking the wire protocol over a
:class:`~protocols.ports.SimCable` — on a :class:`~protocols.driver.SimulatedDriver`, so a day
costs seconds and nothing here models behaviour of its own: the thermostat is the panel's,
the hard limits are the box's.

What is recorded, and why this way:

* **Rows** (:class:`Row`): one every ``sample_s`` simulated seconds, plus one at *every*
  change the box makes (region states, over-temperature latch, blower level) and at every
  scenario action and thermostat decision. The box never tells anyone about a change, so
  after each scheduler event the recorder compares what a technician could see (region
  states, the latch) with what it saw last; a row holds "the state from this instant on",
  which makes step plots and energy integrals exact, not sampled.
* **Events** (:class:`TraceEvent`): the same changes as one-line texts with a kind, so the
  plot marks the notable ones (key presses, auto-offs, over-temperature cut, lid, faults)
  and the CSV says what happened on each row.
* **Summary** (:class:`Summary`): energy per load, time to the set-point (the first time the
  panel's thermostat stops asking for heat, i.e. the panel shows the set-point), heater
  duty cycle while holding, and the thermostat's cycles.

Times in a :class:`Scenario` are minutes after mains on (as a person plans them: "bubbles
after half an hour"); the trace is in seconds.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, TextIO

from protocols.clock import Scheduler
from protocols.driver import SimulatedDriver
from protocols.mspa import RemoteState
from protocols.ports import SimCable
from spasim.board import LOADS, VirtualBox
from spasim.faults import fault_spec, parse_fault
from spasim.profiles import Profile, load_profile
from spasim.regions import (
    BOOTING,
    DEAD,
    FAILSAFE,
    INFLATING,
    LEVEL1,
    LEVEL2,
    LEVEL3,
    LISTENING,
    LOCKED_NO_FLOW,
    LOCKED_OVERTEMP,
    LOCKED_SENSOR,
    NEEDS_FILTER,
    OFF,
    ON,
    PUMP_RUNNING,
    RUNNING,
    STAGE1,
    STAGE2,
    TRIPPED,
    UNPOWERED,
)
from spasim.remote import VirtualRemote

DEFAULT_PROFILE = "premium-4"
DEFAULT_SAMPLE_S = 10.0
MAX_HOURS = 24.0 * 366
"""A year: beyond that the lumped water model says nothing new."""
MAX_ROWS = 1_000_000
"""Sample rows a run may produce (memory for the trace and the plot stays in the 100 MB
range); a longer run needs a longer sample period."""
AMBIENT_RANGE_C = (-30.0, 50.0)
WATER_RANGE_C = (0.0, 99.0)
"""Liquid water; the over-temperature lock-out is part of what can be simulated."""

SETPOINT_BAND_C = 1.5
"""When the panel first shows the set-point, a healthy box's true water is at most this far
below it (1 °C hysteresis, 0.5 °C steps, ±0.3 °C noise); colder, the sensor lied."""

KEY_ECHO_S = 1.0
"""A load that stops within this long after its key was pressed was stopped by the key (the
burst takes ~30 ms on the wire); later, by the box's own auto-off."""

NOTABLE_KINDS = ("key", "auto-off", "overtemp", "safety", "lid", "fault", "setpoint")
"""Event kinds a plot marks; ``thermostat`` and ``state`` happen every cycle and would
hide them."""

CSV_COLUMNS = (
    "time_s",
    "water_c",
    "reported_c",
    "setpoint_c",
    *(f"{name}_{suffix}" for name in LOADS[:-1] for suffix in ("on", "w")),
    "standby_w",
    "total_w",
    "flow_in",
    "flow_out",
    "lid_on",
    "heat_request",
    "event",
)
"""The CSV header: true and reported water, each switched load's on/off and watts, standby
and total watts, the flow bits as 0x08 reports them, the lid, what 0x01 asks for, events."""


# -------------------------------------------------------------------- the scenario


@dataclass(frozen=True, slots=True)
class LidOff:
    """The lid is off from ``start_min`` until ``end_min`` (None: until the end)."""

    start_min: float
    end_min: float | None = None


@dataclass(frozen=True, slots=True)
class TimedFault:
    """A catalogue fault (``id`` or ``id:mode``) that appears ``at_min`` into the run."""

    fault: str
    at_min: float = 0.0


def _default_profile() -> Profile:
    return load_profile(DEFAULT_PROFILE)


@dataclass(frozen=True)
class Scenario:
    """What to simulate: a box with the panel's heater and filter keys on.

    ``setpoint`` defaults to the profile's power-on set-point; ``water_c`` to ``ambient_c``.
    ``bubbles_at`` / ``ozone_at`` are key presses (minutes); each press does what the key
    does (bubbles step off → 1 → 2 → 3 → off, ozone toggles). Construction checks
    everything and raises ``ValueError`` with one line naming the culprit.
    """

    hours: float
    profile: Profile = field(default_factory=_default_profile)
    setpoint: int | None = None
    ambient_c: float = 20.0
    water_c: float | None = None
    seed: int = 0
    faults: tuple[TimedFault, ...] = ()
    bubbles_at: tuple[float, ...] = ()
    ozone_at: tuple[float, ...] = ()
    lid_off: tuple[LidOff, ...] = ()
    sample_s: float = DEFAULT_SAMPLE_S

    def __post_init__(self) -> None:
        problem = _scenario_problem(self)
        if problem:
            raise ValueError(problem)

    @property
    def target_c(self) -> int:
        """The set-point the panel holds."""
        return self.profile.setpoint_default_c if self.setpoint is None else self.setpoint

    @property
    def start_water_c(self) -> float:
        return self.ambient_c if self.water_c is None else self.water_c

    @property
    def seconds(self) -> float:
        return self.hours * 3600.0

    def describe(self) -> str:
        """One line for titles and the summary: profile and every parameter that matters."""
        parts = [
            f"{self.profile.name}",
            f"{self.hours:g} h",
            f"set-point {self.target_c} °C",
            f"water {self.start_water_c:g} °C",
            f"ambient {self.ambient_c:g} °C",
            f"seed {self.seed}",
        ]
        if self.bubbles_at:
            parts.append("bubbles at " + ", ".join(f"{m:g}" for m in self.bubbles_at) + " min")
        if self.ozone_at:
            parts.append("ozone at " + ", ".join(f"{m:g}" for m in self.ozone_at) + " min")
        for lid in self.lid_off:
            end = "end" if lid.end_min is None else f"{lid.end_min:g}"
            parts.append(f"lid off {lid.start_min:g}–{end} min")
        for fault in self.faults:
            when = f" at {fault.at_min:g} min" if fault.at_min else ""
            parts.append(f"fault {fault.fault}{when}")
        return ", ".join(parts)


def _scenario_problem(s: Scenario) -> str:
    """The first thing wrong with ``s`` (empty when it can run)."""
    if not (s.hours > 0 and math.isfinite(s.hours)) or s.hours > MAX_HOURS:
        return f"hours must be more than 0 and at most {MAX_HOURS:g}, got {s.hours:g}"
    if not (s.sample_s > 0 and math.isfinite(s.sample_s)):
        return f"sample period must be a positive number of seconds, got {s.sample_s:g}"
    if s.seconds / s.sample_s > MAX_ROWS:
        return (
            f"{s.hours:g} h at one sample every {s.sample_s:g} s is more than {MAX_ROWS:,} rows: "
            "use a longer sample period"
        )
    p = s.profile
    if s.setpoint is not None and not p.setpoint_min_c <= s.setpoint <= p.setpoint_max_c:
        return (
            f"set-point must be {p.setpoint_min_c}–{p.setpoint_max_c} °C on {p.name}, "
            f"got {s.setpoint}"
        )
    low, high = AMBIENT_RANGE_C
    if not low <= s.ambient_c <= high:
        return f"ambient must be {low:g}–{high:g} °C, got {s.ambient_c:g}"
    low, high = WATER_RANGE_C
    if s.water_c is not None and not low <= s.water_c <= high:
        return f"water must be {low:g}–{high:g} °C, got {s.water_c:g}"
    minutes = s.hours * 60.0
    times: list[tuple[str, float]] = [("--bubbles-at", m) for m in s.bubbles_at]
    times += [("--ozone-at", m) for m in s.ozone_at]
    times += [("--fault", f.at_min) for f in s.faults]
    for lid in s.lid_off:
        times.append(("--lid-off-at", lid.start_min))
        if lid.end_min is not None:
            if not lid.end_min > lid.start_min:
                return f"--lid-off-at: the lid must go back on after it came off ({lid})"
            times.append(("--lid-off-at", lid.end_min))
    for option, at in times:
        if not 0.0 <= at <= minutes:
            return f"{option} {at:g} min is outside the run (0–{minutes:g} min)"
    for fault in s.faults:
        try:
            parse_fault(fault.fault)
        except ValueError as error:
            return str(error)
    return ""


# -------------------------------------------------------------------- the trace


class Row(NamedTuple):
    """The box and panel from ``time_s`` on (until the next row)."""

    time_s: float
    water_c: float
    """True water temperature."""
    reported_c: float | None
    """The last 0x06 the panel heard (noise and 0.5 °C steps included); None before one."""
    setpoint_c: int
    powers: tuple[float, ...]
    """Watts per load, in :data:`spasim.board.LOADS` order."""
    flow_in: bool
    flow_out: bool
    lid_on: bool
    heat_request: bool
    """What the panel's 0x01 asks for: heater key and thermostat."""
    event: str
    """What happened at this instant ("; "-separated), empty for a plain sample."""

    @property
    def total_w(self) -> float:
        return sum(self.powers)

    def power(self, load: str) -> float:
        return self.powers[LOADS.index(load)]


class TraceEvent(NamedTuple):
    """Something that happened: when, what kind (see :data:`NOTABLE_KINDS`), a line."""

    time_s: float
    kind: str
    text: str


@dataclass(frozen=True)
class Summary:
    """The figures a person asks for after a run."""

    seconds: float
    energy_kwh: dict[str, float]
    setpoint_reached_s: float | None
    """First time the panel's thermostat stopped asking for heat (None: never)."""
    heater_on_s: float
    heater_on_holding_s: float
    """Heater energised time after the set-point was reached."""
    heater_starts: int
    thermostat_cycles: int
    """Times the thermostat asked for heat again after the set-point was reached."""
    final_water_c: float
    min_water_holding_c: float | None
    max_water_holding_c: float | None

    @property
    def total_kwh(self) -> float:
        return sum(self.energy_kwh.values())

    @property
    def heater_duty(self) -> float:
        """Share of the whole run the heater drew power."""
        return self.heater_on_s / self.seconds if self.seconds else 0.0

    @property
    def heater_duty_holding(self) -> float | None:
        """Share of the time after the set-point was reached that the heater drew power."""
        if self.setpoint_reached_s is None or self.setpoint_reached_s >= self.seconds:
            return None
        return self.heater_on_holding_s / (self.seconds - self.setpoint_reached_s)


@dataclass
class Trace:
    """Everything a run produced: the scenario, the rows, the events."""

    scenario: Scenario
    rows: list[Row]
    events: list[TraceEvent]
    wall_s: float = 0.0
    """Wall-clock seconds the run took (not part of the simulation)."""
    events_run: int = 0
    """Scheduler events the run took."""

    def intervals(self, load: str) -> list[tuple[float, float]]:
        """``(on, off)`` seconds of each period ``load`` drew power (off = end of run if on)."""
        index = LOADS.index(load)
        spans: list[tuple[float, float]] = []
        since: float | None = None
        for row in self.rows:
            on = row.powers[index] > 0
            if on and since is None:
                since = row.time_s
            elif not on and since is not None:
                spans.append((since, row.time_s))
                since = None
        if since is not None:
            spans.append((since, self.scenario.seconds))
        return spans

    def summary(self) -> Summary:
        rows = self.rows
        end = self.scenario.seconds
        joules = [0.0] * len(LOADS)
        heater = LOADS.index("heater")
        heater_on_s = 0.0
        for row, following in zip(rows, [*rows[1:], None], strict=True):
            span = (end if following is None else following.time_s) - row.time_s
            for index, watts in enumerate(row.powers):
                joules[index] += watts * span
            if row.powers[heater] > 0:
                heater_on_s += span
        reached = next((e.time_s for e in self.events if e.kind == "setpoint"), None)
        holding_on = 0.0
        cycles = 0
        low: float | None = None
        high: float | None = None
        if reached is not None:
            for start, stop in self.intervals("heater"):
                holding_on += max(0.0, stop - max(start, reached))
            cycles = sum(
                1
                for e in self.events
                if e.kind == "thermostat" and e.time_s > reached and "heat on" in e.text
            )
            holding = [row.water_c for row in rows if row.time_s >= reached]
            low, high = min(holding), max(holding)
        return Summary(
            seconds=end,
            energy_kwh={name: j / 3.6e6 for name, j in zip(LOADS, joules, strict=True)},
            setpoint_reached_s=reached,
            heater_on_s=heater_on_s,
            heater_on_holding_s=holding_on,
            heater_starts=len(self.intervals("heater")),
            thermostat_cycles=cycles,
            final_water_c=rows[-1].water_c,
            min_water_holding_c=low,
            max_water_holding_c=high,
        )

    def write_csv(self, stream: TextIO) -> int:
        """The rows as CSV (header :data:`CSV_COLUMNS`); returns the number of data rows."""
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in self.rows:
            cells: list[str] = [
                f"{row.time_s:.3f}",
                f"{row.water_c:.3f}",
                "" if row.reported_c is None else f"{row.reported_c:.1f}",
                str(row.setpoint_c),
            ]
            for watts in row.powers[:-1]:
                cells += ["1" if watts > 0 else "0", f"{watts:g}"]
            cells += [
                f"{row.powers[-1]:g}",
                f"{row.total_w:g}",
                str(int(row.flow_in)),
                str(int(row.flow_out)),
                str(int(row.lid_on)),
                str(int(row.heat_request)),
                row.event,
            ]
            writer.writerow(cells)
        return len(self.rows)


def format_summary(trace: Trace) -> str:
    """A few lines for a person: what ran, energy per load, set-point, duty, cycles."""
    s = trace.summary()
    scenario = trace.scenario
    lines = [f"simulated {scenario.describe()}"]
    energy = ", ".join(
        f"{name} {kwh:.3f}" for name, kwh in s.energy_kwh.items() if kwh > 0 or name == "heater"
    )
    lines.append(f"energy kWh: {energy}; total {s.total_kwh:.3f}")
    if s.setpoint_reached_s is None:
        lines.append(
            f"set-point {scenario.target_c} °C not reached; water "
            f"{scenario.start_water_c:.1f} → {s.final_water_c:.1f} °C"
        )
    else:
        band = ""
        if s.min_water_holding_c is not None and s.max_water_holding_c is not None:
            band = f", then held {s.min_water_holding_c:.1f}–{s.max_water_holding_c:.1f} °C"
        lines.append(
            f"set-point {scenario.target_c} °C reached after "
            f"{_duration(s.setpoint_reached_s)}{band}"
        )
    holding = s.heater_duty_holding
    duty = f"heater duty {s.heater_duty:.1%} of the run"
    if holding is not None:
        duty += f", {holding:.1%} while holding"
    lines.append(
        f"{duty}; {s.heater_starts} heater starts, {s.thermostat_cycles} thermostat cycles"
    )
    notable = [e for e in trace.events if e.kind in NOTABLE_KINDS and e.kind != "setpoint"]
    for event in notable[:12]:
        lines.append(f"  {_duration(event.time_s):>10}  {event.text}")
    if len(notable) > 12:
        lines.append(f"  … {len(notable) - 12} more events in the CSV")
    if trace.wall_s > 0:
        lines.append(
            f"({len(trace.rows)} rows, {trace.events_run} events, {trace.wall_s:.2f} s wall, "
            f"{scenario.seconds / trace.wall_s:,.0f}× real time)"
        )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """``1 h 05 min``, ``12 min 30 s``, ``6.1 s``: what a person reads at a glance."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# -------------------------------------------------------------------- running it

_REGION_TEXT: dict[str, dict[str, str]] = {
    "power": {
        UNPOWERED: "mains off",
        TRIPPED: "PRCD tripped: everything off",
        DEAD: "box dead: supply present, no firmware",
        BOOTING: "box booting",
        RUNNING: "box running",
    },
    "filter": {OFF: "filter pump off", PUMP_RUNNING: "filter pump on"},
    "heater": {
        OFF: "heater off",
        STAGE1: "heater on (stage 1)",
        STAGE2: "heater stage 2",
        LOCKED_NO_FLOW: "heater locked out: no flow",
        LOCKED_OVERTEMP: "heater locked out: over-temperature",
        LOCKED_SENSOR: "heater locked out: sensor fault",
    },
    "blower": {
        OFF: "bubbles off",
        LEVEL1: "bubbles level 1",
        LEVEL2: "bubbles level 2",
        LEVEL3: "bubbles level 3",
        INFLATING: "blower inflating (knob)",
    },
    "ozone": {OFF: "ozone off", ON: "ozone on", NEEDS_FILTER: "ozone waits for the filter"},
    "uvc": {OFF: "UVC off", ON: "UVC on", NEEDS_FILTER: "UVC waits for the filter"},
    "watchdog": {FAILSAFE: "remote silent: fail-safe, every load off"},
}
_HEATER_LOCK_KINDS = {LOCKED_SENSOR: "safety", LOCKED_OVERTEMP: "overtemp"}
"""Heater lock-outs worth a marker. ``locked_no_flow`` is not: it also lasts the 4 ms
between the burst's 0x01 and 0x02 at every start (the CSV still shows it)."""
_AUTO_OFF_REGIONS = {"blower": "bubbles", "ozone": "ozone", "uvc": "uvc"}
"""Regions that switch themselves off → the panel key that switches them on."""


class _Recorder:
    """Runs one scenario and writes down every change (see the module docstring)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = s = scenario
        p = s.profile
        self.scheduler = Scheduler()
        self.driver = SimulatedDriver(self.scheduler)
        cable = SimCable(self.scheduler)
        at_start = [f.fault for f in s.faults if f.at_min == 0]
        box_faults = [f for f in at_start if fault_spec(f.partition(":")[0]).role == "box"]
        self.box = VirtualBox(
            self.scheduler,
            cable.box,
            p,
            seed=s.seed,
            faults=box_faults,
            water_c=s.start_water_c,
            ambient_c=s.ambient_c,
        )
        self.remote = VirtualRemote(
            self.scheduler,
            cable.remote,
            profile=p,
            faults=[f for f in at_start if f not in box_faults],
            state=RemoteState(heater=True, filter=True, setpoint=s.target_c),
        )
        self.rows: list[Row] = []
        self.events: list[TraceEvent] = []
        self._pending: list[tuple[str, str]] = []
        self._regions = self.box.region_states()
        self._latched = self.box.overtemp_latched
        self._level = self.box.blower_level
        self._request = self.remote.duty.heater_output
        self._reached = False
        self._on_since: dict[str, float] = {}
        self._level_at: dict[str, float] = {}
        """When a load already on last changed level (its auto-off restarts then)."""
        self._pressed_at: dict[str, float] = {}
        for fault in at_start:
            self._note("fault", f"fault present: {fault}")
        self._schedule_actions()

    # -- scenario actions (events on the scheduler, like everything else) --------------

    def _schedule_actions(self) -> None:
        s = self.scenario
        call_at = self.scheduler.call_at
        for minute in s.bubbles_at:
            call_at(minute * 60.0, self._press, "bubbles", self.remote.press_bubbles)
        for minute in s.ozone_at:
            call_at(minute * 60.0, self._press, "ozone", self.remote.press_ozone)
        for lid in s.lid_off:
            call_at(lid.start_min * 60.0, self._lid, False)
            if lid.end_min is not None:
                call_at(lid.end_min * 60.0, self._lid, True)
        for fault in s.faults:
            if fault.at_min > 0:
                call_at(fault.at_min * 60.0, self._inject, fault.fault)
        call_at(0.0, self._note, "state", "mains on")
        self.scheduler.call_every(s.sample_s, self._note, "", "", first=s.sample_s)

    def _press(self, key: str, press: Callable[[], RemoteState]) -> None:
        state = press()
        self._pressed_at[key] = self.scheduler.now()
        value = getattr(state, key)
        shown = f"level {value}" if key == "bubbles" else ("on" if value else "off")
        self._note("key", f"{key} key pressed: {shown}")

    def _lid(self, on: bool) -> None:
        self.box.set_lid(on)
        self._note("lid", "lid on" if on else "lid off")

    def _inject(self, fault: str) -> None:
        if fault_spec(fault.partition(":")[0]).role == "box":
            self.box.inject(fault)
        else:
            self.remote.inject(fault)
        self._note("fault", f"fault injected: {fault}")

    def _note(self, kind: str, text: str) -> None:
        """Something to write down at this instant (empty text: a plain sample)."""
        self._pending.append((kind, text))

    # -- change detection ------------------------------------------------------------------

    def _changed(self) -> bool:
        """After each scheduler event: did anything a row shows change? (The box reports no
        changes of its own, so this is the only way to see them at the instant they happen.)"""
        return bool(
            self._pending
            or self.remote.duty.heater_output != self._request
            or self.box.overtemp_latched != self._latched
            or self.box.blower_level != self._level
            or self.box.region_states() != self._regions
        )

    def _record(self) -> None:
        now = self.scheduler.now()
        box = self.box
        texts: list[tuple[str, str]] = [(k, t) for k, t in self._pending if t]
        self._pending.clear()
        before = self._regions
        regions = self._regions = box.region_states()
        for region, state in regions.items():
            if state != before[region]:
                texts.append(self._region_event(region, before[region], state, regions))
        latched = box.overtemp_latched
        if latched != self._latched:
            self._latched = latched
            water = box.water_c
            texts.append(
                ("overtemp", f"over-temperature cut at {water:.1f} °C")
                if latched
                else ("overtemp", f"over-temperature recovered at {water:.1f} °C")
            )
        level = box.blower_level
        if level != self._level and regions["blower"] == before["blower"]:
            texts.append(("state", f"blower level {level}"))
        self._level = level
        duty = self.remote.duty
        request = duty.heater_output
        if request != self._request:
            self._request = request
            shown = "?" if duty.water_c is None else f"{duty.water_c:.1f}"
            if not request and not self._reached and duty.state.heater:
                water = box.water_c
                target = self.scenario.target_c
                if water >= target - SETPOINT_BAND_C:
                    self._reached = True
                    texts.append(("setpoint", f"set-point {target} °C reached (panel {shown} °C)"))
                else:
                    # A lying sensor satisfies the thermostat; the water is not there.
                    texts.append(
                        (
                            "safety",
                            f"thermostat satisfied by a reading of {shown} °C "
                            f"with the water at {water:.1f} °C",
                        )
                    )
            texts.append(
                ("thermostat", f"thermostat: heat {'on' if request else 'off'} (panel {shown} °C)")
            )
        texts = [(kind, text) for kind, text in texts if text]
        self.events.extend(TraceEvent(now, kind, text) for kind, text in texts)
        self._append_row(now, "; ".join(text for _, text in texts))

    def _region_event(
        self, region: str, before: str, state: str, regions: dict[str, str]
    ) -> tuple[str, str]:
        now = self.scheduler.now()
        text = _REGION_TEXT.get(region, {}).get(state, "")
        if region == "watchdog":
            if state == LISTENING and before == FAILSAFE:
                return ("safety", "remote heard again")
            return ("safety" if text else "state", text)
        if region == "power":
            return ("safety" if state in (TRIPPED, DEAD) else "state", text)
        if region == "heater" and state in _HEATER_LOCK_KINDS:
            return (_HEATER_LOCK_KINDS[state], text)
        key = _AUTO_OFF_REGIONS.get(region)
        if key is None:
            return ("state", text)
        if state == OFF:
            since = self._on_since.pop(region, None)
            pressed = self._pressed_at.get(key)
            by_key = pressed is not None and now - pressed <= KEY_ECHO_S
            if (
                since is not None
                and not by_key
                and regions["power"] == RUNNING
                and regions["watchdog"] != FAILSAFE
            ):
                # The timer runs from the command that switched the load on or changed its
                # level (SPEC §4 inv. 3), not from other key presses.
                armed = max(since, self._level_at.pop(region, since))
                ran = "" if armed == since else f" (ran {(now - since) / 60:.1f} min)"
                return ("auto-off", f"{text}: auto-off after {(now - armed) / 60:.1f} min{ran}")
        elif before in (OFF, NEEDS_FILTER):
            self._on_since[region] = now
        else:
            self._level_at[region] = now  # a new level of a load already on
        return ("state", text)

    def _append_row(self, now: float, event: str) -> None:
        box = self.box
        flow = box.flow
        row = Row(
            time_s=now,
            water_c=box.water_c,
            reported_c=self.remote.duty.water_c,
            setpoint_c=self.scenario.target_c,
            powers=tuple(box.load_powers().values()),
            flow_in=flow.inlet,
            flow_out=flow.outlet,
            lid_on=box.lid_on,
            heat_request=self.remote.duty.heater_output,
            event=event,
        )
        rows = self.rows
        if rows and rows[-1].time_s == now:
            # Several things at one instant: one row with the final state and every event.
            merged = "; ".join(text for text in (rows[-1].event, event) if text)
            rows[-1] = row._replace(event=merged)
        else:
            rows.append(row)

    def run(self) -> None:
        self.remote.start()
        end = self.scenario.seconds
        driver = self.driver
        scheduler = self.scheduler
        self._record()
        while scheduler.now() < end:
            if driver.wait_until(self._changed, end - scheduler.now()):
                self._record()
        if self.rows[-1].time_s < end:
            self._record()
        self.remote.stop()
        self.box.close()


def simulate(scenario: Scenario) -> Trace:
    """Run ``scenario`` in simulated time and return its trace."""
    recorder = _Recorder(scenario)
    began = time.perf_counter()
    recorder.run()
    wall = time.perf_counter() - began
    return Trace(
        scenario,
        recorder.rows,
        recorder.events,
        wall_s=wall,
        events_run=recorder.scheduler.events_run,
    )
