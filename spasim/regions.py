"""The control box's state machine (SPEC §4) as parallel regions, one flat machine per region.

Why separate flat machines instead of one hierarchical machine with parallel states: the
regions of SPEC §4 (power, filter pump, heater, blower, ozone, UVC, link watchdog; issue 12
adds the Elite's jets and the F1 flow error) change
independently and only *read* each other (the heater looks at the pump and the flow switch),
so each is a small machine of its own that a diagram shows on one page. Each region *type*
is ONE shared :class:`transitions.Machine` built at import time (``model=None``,
``auto_transitions=False``); a board adds one plain model object per region, so a new board
costs a few attribute assignments, not a machine build. Ozone and UVC share the sanitiser
machine.

The machines say which moves are legal and what happens on entering or leaving a state
(timers); the *decision* which state a follower region should be in is its ``target()``
method, evaluated by the board after every input change, which then fires the one trigger
that leads there (:data:`FOLLOWER_TRIGGERS`). An illegal move raises ``MachineError`` —
a bug shows up in tests instead of a silent impossible state.

No transitions ``Timeout`` states: those run wall-clock threads. Every timer — stage 1 → 2
here, the auto-offs in :mod:`spasim.remote_requests`, boot and watchdog in :mod:`spasim.board` — is
an event on the simulation's :class:`~protocols.clock.Scheduler`, cancelled through the
returned handle, so simulated time can jump and a real-time server runs the same code.

After binding, each model is removed from its machine's model list again: transitions
documents that a removed model keeps its triggers, and a shared machine that held every board
ever built would keep them all alive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from transitions import Machine

from protocols.clock import Event, Scheduler

# Region state names (strings are what transitions stores in ``model.state``).
UNPOWERED, TRIPPED, DEAD, BOOTING, RUNNING = "unpowered", "tripped", "dead", "booting", "running"
OFF = "off"
PUMP_RUNNING, RUN_ON = "running", "run_on"
STAGE1, STAGE2 = "stage1", "stage2"
LOCKED_NO_FLOW, LOCKED_OVERTEMP, LOCKED_SENSOR = (
    "locked_no_flow",
    "locked_overtemp",
    "locked_sensor",
)
LEVEL1, LEVEL2, LEVEL3, INFLATING = "level1", "level2", "level3", "inflating"
ON, NEEDS_FILTER = "on", "needs_filter"
IDLE, LISTENING, FAILSAFE = "idle", "listening", "failsafe"
FLOW_OK, NO_FLOW, F1, AWAITING_FLOW = "ok", "no_flow", "f1", "awaiting_flow"

PUMP_STATES = (OFF, PUMP_RUNNING, RUN_ON)
FLOW_ERROR_STATES = (FLOW_OK, NO_FLOW, F1, AWAITING_FLOW)

HEATER_STATES = (OFF, STAGE1, STAGE2, LOCKED_NO_FLOW, LOCKED_OVERTEMP, LOCKED_SENSOR)
BLOWER_STATES = (OFF, LEVEL1, LEVEL2, LEVEL3, INFLATING)
BLOWER_LEVEL_STATES = (OFF, LEVEL1, LEVEL2, LEVEL3)
SANITISER_STATES = (OFF, ON, NEEDS_FILTER)


def _others(states: tuple[str, ...], *excluded: str) -> list[str]:
    return [state for state in states if state not in excluded]


def _machine(
    name: str, states: list[Any], transitions: list[dict[str, Any]], initial: str
) -> Machine:
    return Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial=initial,
        auto_transitions=False,
        name=name,
    )


POWER_CONFIG: dict[str, Any] = {
    "states": [
        UNPOWERED,
        TRIPPED,
        DEAD,
        {"name": BOOTING, "on_enter": "_enter_booting", "on_exit": "_exit_booting"},
        {"name": RUNNING, "on_enter": "_enter_running", "on_exit": "_exit_running"},
    ],
    "transitions": [
        {"trigger": "mains_on", "source": UNPOWERED, "dest": DEAD, "conditions": "board_faulty"},
        {"trigger": "mains_on", "source": UNPOWERED, "dest": BOOTING, "unless": "board_faulty"},
        {"trigger": "mains_off", "source": [DEAD, BOOTING, RUNNING], "dest": UNPOWERED},
        {"trigger": "trip", "source": [UNPOWERED, DEAD, BOOTING, RUNNING], "dest": TRIPPED},
        {
            "trigger": "reset",
            "source": TRIPPED,
            "dest": UNPOWERED,
            "conditions": "prcd_closes",
            "unless": "has_mains",
        },
        {
            "trigger": "reset",
            "source": TRIPPED,
            "dest": DEAD,
            "conditions": ["prcd_closes", "has_mains", "board_faulty"],
        },
        {
            "trigger": "reset",
            "source": TRIPPED,
            "dest": BOOTING,
            "conditions": ["prcd_closes", "has_mains"],
            "unless": "board_faulty",
        },
        {"trigger": "fail", "source": [BOOTING, RUNNING], "dest": DEAD},
        {"trigger": "revive", "source": DEAD, "dest": BOOTING},
        {"trigger": "booted", "source": BOOTING, "dest": RUNNING},
    ],
    "initial": UNPOWERED,
}
"""Power/PRCD: ``dead`` is "PRCD on, supply present, firmware not running" (a dead
transformer or power board)."""

PUMP_CONFIG: dict[str, Any] = {
    "states": list(PUMP_STATES),
    "transitions": [
        {"trigger": "start", "source": _others(PUMP_STATES, PUMP_RUNNING), "dest": PUMP_RUNNING},
        {"trigger": "stop", "source": _others(PUMP_STATES, OFF), "dest": OFF},
        {"trigger": "run_on", "source": _others(PUMP_STATES, RUN_ON), "dest": RUN_ON},
    ],
    "initial": OFF,
}
"""Filter pump: ``running`` = commanded (filtering); ``run_on`` = no longer commanded but kept
running for the profile's ``[filter] run_on_s`` after the heater stopped heating."""

JETS_CONFIG: dict[str, Any] = {
    "states": [OFF, ON],
    "transitions": [
        {"trigger": "start", "source": OFF, "dest": ON},
        {"trigger": "stop", "source": ON, "dest": OFF},
    ],
    "initial": OFF,
}
"""Jet pump (models with ``[jets] fitted``): on while commanded by 0x0D 01."""

FLOW_ERROR_CONFIG: dict[str, Any] = {
    "states": [
        FLOW_OK,
        {"name": NO_FLOW, "on_enter": "_enter_watch", "on_exit": "_exit_watch"},
        F1,
        {"name": AWAITING_FLOW, "on_enter": "_enter_watch", "on_exit": "_exit_watch"},
    ],
    "transitions": [
        {"trigger": "clear", "source": [NO_FLOW, F1, AWAITING_FLOW], "dest": FLOW_OK},
        {"trigger": "watch", "source": FLOW_OK, "dest": NO_FLOW},
        {"trigger": "latch", "source": [NO_FLOW, AWAITING_FLOW], "dest": F1},
        {"trigger": "reset", "source": F1, "dest": AWAITING_FLOW},
    ],
    "initial": FLOW_OK,
}
"""The panel's F1 flow error, a firmware latch: ``no_flow`` = the pump is commanded but the
firmware does not see both flow switches closed (a timer of ``[errors] f1_after_s`` runs);
``f1`` = latched (heater, ozone and UVC off) until the remote's ``0B 00`` (``reset``) or
power loss (``clear``); ``awaiting_flow`` = reset but not yet proven: heater, ozone and UVC
stay off until the firmware senses both switches closed (``clear``), and F1 latches again
if the pump is commanded and that has not happened ``f1_after_s`` after the reset."""

HEATER_CONFIG: dict[str, Any] = {
    "states": [
        OFF,
        {"name": STAGE1, "on_enter": "_enter_stage1", "on_exit": "_exit_stage1"},
        STAGE2,
        LOCKED_NO_FLOW,
        LOCKED_OVERTEMP,
        LOCKED_SENSOR,
    ],
    "transitions": [
        {"trigger": "switch_off", "source": _others(HEATER_STATES, OFF), "dest": OFF},
        {"trigger": "heat", "source": _others(HEATER_STATES, STAGE1, STAGE2), "dest": STAGE1},
        {"trigger": "stage_up", "source": STAGE1, "dest": STAGE2},
        {
            "trigger": "lock_no_flow",
            "source": _others(HEATER_STATES, LOCKED_NO_FLOW),
            "dest": LOCKED_NO_FLOW,
        },
        {
            "trigger": "lock_overtemp",
            "source": _others(HEATER_STATES, LOCKED_OVERTEMP),
            "dest": LOCKED_OVERTEMP,
        },
        {
            "trigger": "lock_sensor",
            "source": _others(HEATER_STATES, LOCKED_SENSOR),
            "dest": LOCKED_SENSOR,
        },
    ],
    "initial": OFF,
}

BLOWER_CONFIG: dict[str, Any] = {
    "states": list(BLOWER_STATES),
    "transitions": [
        {"trigger": "stop", "source": _others(BLOWER_STATES, OFF), "dest": OFF},
        *(
            {"trigger": f"run_{level}", "source": _others(BLOWER_STATES, level), "dest": level}
            for level in (LEVEL1, LEVEL2, LEVEL3)
        ),
        {"trigger": "inflate", "source": _others(BLOWER_STATES, INFLATING), "dest": INFLATING},
    ],
    "initial": OFF,
}
"""Blower: ``inflating`` = running with the knob (or its stuck reed switch) in the inflation
position, air to the bladder; the level it runs at is the commanded one."""

SANITISER_CONFIG: dict[str, Any] = {
    "states": list(SANITISER_STATES),
    "transitions": [
        {"trigger": "enable", "source": _others(SANITISER_STATES, ON), "dest": ON},
        {"trigger": "disable", "source": _others(SANITISER_STATES, OFF), "dest": OFF},
        {
            "trigger": "wait_filter",
            "source": _others(SANITISER_STATES, NEEDS_FILTER),
            "dest": NEEDS_FILTER,
        },
    ],
    "initial": OFF,
}
"""Ozone and UVC: ``needs_filter`` = commanded on while the box is not filtering (the filter
pump not commanded, or the F1 interlock on: F1 latched, or reset and no flow sensed since)."""

WATCHDOG_CONFIG: dict[str, Any] = {
    "states": [IDLE, LISTENING, {"name": FAILSAFE, "on_enter": "_enter_failsafe"}],
    "transitions": [
        {"trigger": "arm", "source": IDLE, "dest": LISTENING},
        {"trigger": "disarm", "source": [LISTENING, FAILSAFE], "dest": IDLE},
        {"trigger": "expire", "source": LISTENING, "dest": FAILSAFE},
        {"trigger": "hear", "source": FAILSAFE, "dest": LISTENING},
    ],
    "initial": IDLE,
}
"""Remote-link watchdog: ``failsafe`` = no valid frame for the profile's watchdog seconds."""

REGION_CONFIGS: dict[str, dict[str, Any]] = {
    "power": POWER_CONFIG,
    "pump": PUMP_CONFIG,
    "heater": HEATER_CONFIG,
    "blower": BLOWER_CONFIG,
    "sanitiser": SANITISER_CONFIG,
    "watchdog": WATCHDOG_CONFIG,
    "jets": JETS_CONFIG,
    "flow_error": FLOW_ERROR_CONFIG,
}
"""Every region type's machine definition: the runtime machines and the diagrams use these."""

MACHINES: dict[str, Machine] = {
    name: _machine(name, config["states"], config["transitions"], config["initial"])
    for name, config in REGION_CONFIGS.items()
}
"""The shared machine of each region type."""

REGION_TYPES: dict[str, str] = {
    "power": "power",
    "filter": "pump",
    "heater": "heater",
    "blower": "blower",
    "ozone": "sanitiser",
    "uvc": "sanitiser",
    "watchdog": "watchdog",
    "jets": "jets",
    "flow_error": "flow_error",
}
"""Each region of a board → its region type (key of :data:`MACHINES`)."""

FOLLOWER_TRIGGERS: dict[str, dict[str, str]] = {
    "pump": {OFF: "stop", PUMP_RUNNING: "start", RUN_ON: "run_on"},
    "jets": {OFF: "stop", ON: "start"},
    "flow_error": {FLOW_OK: "clear", NO_FLOW: "watch", F1: "latch", AWAITING_FLOW: "reset"},
    "heater": {
        OFF: "switch_off",
        STAGE1: "heat",
        STAGE2: "stage_up",
        LOCKED_NO_FLOW: "lock_no_flow",
        LOCKED_OVERTEMP: "lock_overtemp",
        LOCKED_SENSOR: "lock_sensor",
    },
    "blower": {
        OFF: "stop",
        LEVEL1: "run_level1",
        LEVEL2: "run_level2",
        LEVEL3: "run_level3",
        INFLATING: "inflate",
    },
    "sanitiser": {OFF: "disable", ON: "enable", NEEDS_FILTER: "wait_filter"},
}
"""For follower regions: the trigger that leads to each target state."""


class Region:
    """A model object one shared machine drives; ``state`` and ``trigger`` come from transitions."""

    machine_name = ""
    state: str
    trigger: Callable[..., bool]

    def bind(self) -> None:
        """Attach to the region type's shared machine (initial state, trigger methods)."""
        machine = MACHINES[self.machine_name]
        machine.add_model(self)
        machine.remove_model(self)

    def move_to(self, target: str) -> bool:
        """Fire the trigger that leads to ``target``; False when already there."""
        if target == self.state:
            return False
        self.trigger(FOLLOWER_TRIGGERS[self.machine_name][target])
        return True


class PowerRegion(Region):
    """Mains, PRCD and whether the firmware runs; the host answers the guards."""

    machine_name = "power"

    def __init__(self, host: PowerHost) -> None:
        self.host = host
        self.bind()

    def has_mains(self) -> bool:
        return self.host.mains

    def board_faulty(self) -> bool:
        return self.host.board_faulty

    def prcd_closes(self) -> bool:
        return self.host.prcd_closes

    def _enter_booting(self) -> None:
        self.host._begin_boot()

    def _exit_booting(self) -> None:
        self.host._abort_boot()

    def _enter_running(self) -> None:
        self.host._start_firmware()

    def _exit_running(self) -> None:
        self.host._stop_firmware()


class PowerHost(Protocol):
    """What the power region needs from its board: the guards and the entry/exit actions."""

    @property
    def mains(self) -> bool: ...

    @property
    def board_faulty(self) -> bool: ...

    @property
    def prcd_closes(self) -> bool: ...

    def _begin_boot(self) -> None: ...

    def _abort_boot(self) -> None: ...

    def _start_firmware(self) -> None: ...

    def _stop_firmware(self) -> None: ...


class PumpRegion(Region):
    """Filter pump: runs while commanded and the firmware runs, and runs on after heating.

    Run-on ([weak:EE], ``[filter] run_on_s``, 0 on most models): when the heater stops
    heating, the pump keeps running that long even if its command is off, so the element
    cools in moving water. Only a heater that stops *while the firmware runs and is not in
    the fail-safe* starts it (a pump switched off while the heater was not heating stops at
    once). The fail-safe and power loss end it and :meth:`forget` it for good: the heater
    those events switch off does not start a run-on that would bring the pump back when the
    remote is heard again or the box reboots (SPEC §3: loads return only when commanded
    again). The run-on deadline belongs to the pump, like the stage timer to the heater.
    """

    machine_name = "pump"

    def __init__(
        self, scheduler: Scheduler, run_on_s: float, on_run_on_done: Callable[[], None]
    ) -> None:
        self._scheduler = scheduler
        self.run_on_s = run_on_s
        self._on_run_on_done = on_run_on_done
        self._run_on_event: Event | None = None
        self.bind()

    @property
    def run_on_deadline(self) -> float | None:
        """When the run-on after the last heating ends (None: none pending)."""
        return None if self._run_on_event is None else self._run_on_event.time

    def target(self, running: bool, commanded: bool, heating: bool, failsafe: bool) -> str:
        """``heating``: the heater heats now (it is about to stop if the pump's command is
        off); ``failsafe``: the link watchdog has switched every load off."""
        if not running or failsafe:
            return OFF
        if commanded:
            return PUMP_RUNNING
        if self.run_on_s > 0 and (heating or self._run_on_event is not None):
            return RUN_ON
        return OFF

    def heating_stopped(self, running: bool, failsafe: bool) -> None:
        """The heater just stopped heating: the run-on starts (again) from now — unless the
        firmware is not running or fails safe (then the heater stopped because every load
        did, and no run-on may outlive that)."""
        if self.run_on_s <= 0 or not running or failsafe:
            return
        self.forget()
        self._run_on_event = self._scheduler.call_later(self.run_on_s, self._run_on_due)

    def forget(self) -> None:
        """No run-on pending (fail-safe, power loss)."""
        if self._run_on_event is not None:
            self._run_on_event.cancel()
            self._run_on_event = None

    def _run_on_due(self) -> None:
        self._run_on_event = None
        self._on_run_on_done()


class JetsRegion(Region):
    """Jet pump (Elite): on while commanded (0x0D 01), fitted and the firmware runs;
    independent of the filter pump ([model])."""

    machine_name = "jets"

    def __init__(self, fitted: bool) -> None:
        self.fitted = fitted
        self.bind()

    def target(self, running: bool, commanded: bool) -> str:
        return ON if running and self.fitted and commanded else OFF


class FlowErrorRegion(Region):
    """The F1 flow error as the firmware keeps it (issue 12; DT, ET).

    F1 latches when the filter pump is commanded and the firmware does not see *both* flow
    switches closed for ``after_s`` (the ``no_flow`` state owns that timer). While latched,
    the heater, ozone and UVC are off; the pump keeps its command, the blower and jets are
    unaffected. F1 survives the link fail-safe (an error, not a command); power loss clears
    it.

    **A reset clears the display, not the interlock** ([model]). The remote's ``0B 00`` (its
    keep-alive once a minute, and what a long press of Filter sends) clears the latch
    (:meth:`reset_by_remote`) and the box reports ``08 03`` for ``report_s`` whatever its
    switches say (ET: "08 03 briefly, then 00"), then the true flow. But the firmware keeps
    heater, ozone and UVC off (``awaiting_flow``, :attr:`interlocked`) until its own sensors
    have seen both switches closed since the reset; if that has not happened when the pump is
    commanded ``after_s`` after the reset, F1 latches again. Why: the keep-alive *is* the
    reset, so a box that re-energised on every reset would run ozone, UVC (and the heater,
    were its switches to lie) for ``after_s`` every minute on a dead pump; a reset that only
    lets the firmware look again never energises anything without flow, and a repaired pump
    brings everything back the moment its water closes the switches.

    A ``0B 00`` that arrives while F1 is not latched changes nothing (a keep-alive once a
    minute must neither postpone F1 nor fake ``08 03`` on a healthy box with the pump off).
    """

    machine_name = "flow_error"

    def __init__(
        self,
        scheduler: Scheduler,
        after_s: float,
        report_s: float,
        on_change: Callable[[], None],
    ) -> None:
        self._scheduler = scheduler
        self.after_s = after_s
        self.report_s = report_s
        self._on_change = on_change
        self._timer: Event | None = None
        self._window: Event | None = None
        self.timed_out = False
        self.bind()

    @property
    def latched(self) -> bool:
        return self.state == F1

    @property
    def interlocked(self) -> bool:
        """Heater, ozone and UVC must stay off: F1 latched, or reset and no flow sensed since."""
        return self.state in (F1, AWAITING_FLOW)

    @property
    def reporting_reset(self) -> bool:
        """Inside the ``08 03`` window after a reset."""
        return self._window is not None

    @property
    def deadline(self) -> float | None:
        """When F1 latches if nothing changes (None: not counting)."""
        return None if self._timer is None else self._timer.time

    def target(self, running: bool, commanded: bool, flow_ok: bool) -> str:
        """``flow_ok``: the firmware senses both switches closed now."""
        state = self.state
        if not running:
            return FLOW_OK
        if state == F1:
            return F1
        if state == AWAITING_FLOW:
            if flow_ok:
                return FLOW_OK
            return F1 if commanded and self.timed_out else AWAITING_FLOW
        if commanded and not flow_ok:
            return F1 if self.timed_out and state == NO_FLOW else NO_FLOW
        return FLOW_OK

    def reset_by_remote(self) -> bool:
        """``0B 00`` arrived: clear a latched F1 (the firmware awaits flow) and open the
        ``08 03`` window. True when something changed."""
        if self.state != F1:
            return False
        self.trigger("reset")
        self._cancel_window()
        if self.report_s > 0:
            self._window = self._scheduler.call_later(self.report_s, self._window_due)
        return True

    def forget(self) -> None:
        """Power loss: no report window (the state follows to ``ok`` on the next settle)."""
        self._cancel_window()

    def _cancel_window(self) -> None:
        if self._window is not None:
            self._window.cancel()
            self._window = None

    def _window_due(self) -> None:
        self._window = None
        self._on_change()

    def _enter_watch(self) -> None:
        """Entering ``no_flow`` or ``awaiting_flow``: ``after_s`` to see flow."""
        self.timed_out = False
        self._timer = self._scheduler.call_later(self.after_s, self._timer_due)

    def _exit_watch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timer_due(self) -> None:
        self._timer = None
        self.timed_out = True
        self._on_change()


class HeaterRegion(Region):
    """Heater within its hard limits; stage 1 for the profile's seconds after each start.

    The stage timer is the only timer a region owns: it belongs to being in ``stage1``.
    """

    machine_name = "heater"

    def __init__(
        self, scheduler: Scheduler, stage1_s: float, on_stage_due: Callable[[], None]
    ) -> None:
        self._scheduler = scheduler
        self._stage1_s = stage1_s
        self._on_stage_due = on_stage_due
        self._stage_event: Event | None = None
        self.stage1_done = False
        self.bind()

    @property
    def stage_deadline(self) -> float | None:
        return None if self._stage_event is None else self._stage_event.time

    def target(
        self, running: bool, commanded: bool, flow_ok: bool, sensor_ok: bool, overtemp: bool
    ) -> str:
        """The state the firmware must be in, most restrictive condition first."""
        if not (running and commanded):
            return OFF
        if not sensor_ok:
            return LOCKED_SENSOR
        if not flow_ok:
            return LOCKED_NO_FLOW
        if overtemp:
            return LOCKED_OVERTEMP
        state = self.state
        if state == STAGE1:
            return STAGE2 if self.stage1_done else STAGE1
        if state == STAGE2:
            return STAGE2
        return STAGE1

    def _enter_stage1(self) -> None:
        self.stage1_done = False
        self._stage_event = self._scheduler.call_later(self._stage1_s, self._stage_due)

    def _exit_stage1(self) -> None:
        if self._stage_event is not None:
            self._stage_event.cancel()
            self._stage_event = None

    def _stage_due(self) -> None:
        self._stage_event = None
        self.stage1_done = True
        self._on_stage_due()


class BlowerRegion(Region):
    """Bubble blower: level 1–3 as commanded, ``inflating`` with the knob at inflation."""

    machine_name = "blower"

    def __init__(self) -> None:
        self.bind()

    def target(self, running: bool, level: int, knob_inflate: bool) -> str:
        if not running or level == 0:
            return OFF
        return INFLATING if knob_inflate else BLOWER_LEVEL_STATES[level]


class SanitiserRegion(Region):
    """Ozone generator or UVC lamp: on while commanded, fitted and the box filters (the
    filter pump runs on its command and the F1 interlock is off,
    :attr:`FlowErrorRegion.interlocked`)."""

    machine_name = "sanitiser"

    def __init__(self, fitted: bool) -> None:
        self.fitted = fitted
        self.bind()

    def target(self, running: bool, commanded: bool, pump_running: bool) -> str:
        if not (running and self.fitted and commanded):
            return OFF
        return ON if pump_running else NEEDS_FILTER


class WatchdogRegion(Region):
    """Remote-link watchdog; entering ``failsafe`` calls ``on_failsafe`` (every load off)."""

    machine_name = "watchdog"

    def __init__(self, on_failsafe: Callable[[], None]) -> None:
        self._on_failsafe = on_failsafe
        self.bind()

    def _enter_failsafe(self) -> None:
        self._on_failsafe()
