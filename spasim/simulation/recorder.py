"""Runs a :class:`~spasim.simulation.scenario.Scenario` on the simulated clock and writes
down every change: the recorder behind :func:`simulate`.

Nothing here models behaviour of its own: the real pieces — a
:class:`~spasim.board.VirtualBox` and a :class:`~spasim.remote.VirtualRemote` talking the
wire protocol over a :class:`~protocols.ports.SimCable` (:func:`spasim.rig.build_box_rig`) —
run on a :class:`~protocols.driver.SimulatedDriver`, so a day costs seconds; the thermostat
is the panel's, the hard limits and the auto-off timers are the box's.

A row is written every ``sample_s`` simulated seconds, plus one at *every* change the box
makes (region states, over-temperature latch, blower level) and at every scenario action and
thermostat decision. The box never tells anyone about a change, so after each scheduler
event the recorder compares what a technician could see (region states, the latch) with what
it saw last.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from protocols.mspa import RemoteState
from spasim.faults import fault_spec
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
from spasim.rig import build_box_rig
from spasim.simulation.scenario import Scenario
from spasim.simulation.trace import Row, Trace, TraceEvent

SETPOINT_BAND_C = 1.5
"""When the panel's thermostat first stops heating, a healthy box's true water is at most this
far below the set-point (the band is centred on it; 0.5 °C steps, ±0.3 °C noise); colder,
the sensor lied."""

PROGRESS_STEPS = 200
"""How often a run tells its progress callback, at most: every 0.5 % of the run."""

Progress = Callable[[float], None]
"""Told the simulated seconds done so far."""

KEY_ECHO_S = 1.0
"""A load that stops within this long after its key was pressed was stopped by the key (the
burst takes ~30 ms on the wire); later, by the box's own auto-off."""

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


class Recorder:
    """Runs one scenario and writes down every change (see the module docstring)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = s = scenario
        at_start = [f.fault for f in s.faults if f.at_min == 0]
        box_faults = [f for f in at_start if fault_spec(f.partition(":")[0]).role == "box"]
        rig = build_box_rig(
            s.profile,
            seed=s.seed,
            faults=box_faults,
            water_c=s.start_water_c,
            ambient_c=s.ambient_c,
        )
        self.scheduler = rig.scheduler
        self.driver = rig.driver
        self.box = rig.box
        self.remote = VirtualRemote(
            self.scheduler,
            rig.port,
            profile=s.profile,
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
        """One row (and its events) for everything that changed at this instant."""
        now = self.scheduler.now()
        texts: list[tuple[str, str]] = [(k, t) for k, t in self._pending if t]
        self._pending.clear()
        texts += self._box_changes()
        texts += self._thermostat_changes()
        texts = [(kind, text) for kind, text in texts if text]
        self.events.extend(TraceEvent(now, kind, text) for kind, text in texts)
        self._append_row(now, "; ".join(text for _, text in texts))

    def _box_changes(self) -> list[tuple[str, str]]:
        """What the box changed since the last row: regions, the latch, the blower level."""
        box = self.box
        texts: list[tuple[str, str]] = []
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
        return texts

    def _thermostat_changes(self) -> list[tuple[str, str]]:
        """The panel's thermostat switched the heat request: say so, and whether that was
        the set-point reached (once) or a lying sensor."""
        duty = self.remote.duty
        request = duty.heater_output
        if request == self._request:
            return []
        self._request = request
        texts: list[tuple[str, str]] = []
        shown = "?" if duty.water_c is None else f"{duty.water_c:.1f}"
        if not request and not self._reached and duty.state.heater:
            water = self.box.water_c
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
        return texts

    def _region_event(
        self, region: str, before: str, state: str, regions: dict[str, str]
    ) -> tuple[str, str]:
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
        now = self.scheduler.now()
        if state == OFF:
            since = self._on_since.pop(region, None)
            if since is not None and self._timed_out(key, regions):
                return ("auto-off", self._auto_off_text(key, text, since))
        elif before in (OFF, NEEDS_FILTER):
            self._on_since[region] = now
        return ("state", text)

    def _timed_out(self, key: str, regions: dict[str, str]) -> bool:
        """A load went off: by its own timer, not by its key, a power loss or the fail-safe."""
        pressed = self._pressed_at.get(key)
        by_key = pressed is not None and self.scheduler.now() - pressed <= KEY_ECHO_S
        return not by_key and regions["power"] == RUNNING and regions["watchdog"] != FAILSAFE

    def _auto_off_text(self, key: str, text: str, since: float) -> str:
        """``bubbles off: auto-off after 10.0 min``, timed as the firmware timed it: from the
        command that switched the load on or changed its level (SPEC §4 inv. 3), which only
        the box's own memory knows (:attr:`~spasim.remote_requests.AutoOffRequest.armed_at`)."""
        now = self.scheduler.now()
        armed_at = self.box.requests.auto_offs[key].armed_at
        armed = since if armed_at is None else armed_at
        ran = "" if armed == since else f" (ran {(now - since) / 60:.1f} min)"
        return f"{text}: auto-off after {(now - armed) / 60:.1f} min{ran}"

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

    def run(self, progress: Progress | None = None) -> None:
        """Run to the end; ``progress`` (if any) is called with the simulated seconds done,
        at most :data:`PROGRESS_STEPS` times and once at the end."""
        self.remote.start()
        end = self.scenario.seconds
        driver = self.driver
        scheduler = self.scheduler
        tick = end / PROGRESS_STEPS
        next_report = tick
        self._record()
        while scheduler.now() < end:
            if driver.wait_until(self._changed, end - scheduler.now()):
                self._record()
            if progress is not None and scheduler.now() >= next_report:
                progress(min(scheduler.now(), end))
                next_report = (scheduler.now() // tick + 1) * tick
        if self.rows[-1].time_s < end:
            self._record()
        if progress is not None:
            progress(end)
        self.remote.stop()
        self.box.close()


def simulate(scenario: Scenario, progress: Progress | None = None) -> Trace:
    """Run ``scenario`` in simulated time and return its trace; ``progress`` hears the
    simulated seconds done as the run goes (a long run takes a while of wall time)."""
    recorder = Recorder(scenario)
    began = time.perf_counter()
    recorder.run(progress)
    wall = time.perf_counter() - began
    return Trace(
        scenario,
        recorder.rows,
        recorder.events,
        wall_s=wall,
        events_run=recorder.scheduler.events_run,
    )
