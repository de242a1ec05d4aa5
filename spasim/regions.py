"""The control box's state machine (SPEC §4) as parallel regions, one flat machine per region.

Why separate flat machines instead of one hierarchical machine with parallel states: the
regions of SPEC §4 (power, filter pump, heater, blower, ozone, UVC, link watchdog) change
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
PUMP_RUNNING = "running"
STAGE1, STAGE2 = "stage1", "stage2"
LOCKED_NO_FLOW, LOCKED_OVERTEMP, LOCKED_SENSOR = (
    "locked_no_flow",
    "locked_overtemp",
    "locked_sensor",
)
LEVEL1, LEVEL2, LEVEL3, INFLATING = "level1", "level2", "level3", "inflating"
ON, NEEDS_FILTER = "on", "needs_filter"
IDLE, LISTENING, FAILSAFE = "idle", "listening", "failsafe"

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
    "states": [OFF, PUMP_RUNNING],
    "transitions": [
        {"trigger": "start", "source": OFF, "dest": PUMP_RUNNING},
        {"trigger": "stop", "source": PUMP_RUNNING, "dest": OFF},
    ],
    "initial": OFF,
}

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
"""Ozone and UVC: ``needs_filter`` = commanded on while the filter pump is off."""

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
}
"""Each region of a board → its region type (key of :data:`MACHINES`)."""

FOLLOWER_TRIGGERS: dict[str, dict[str, str]] = {
    "pump": {OFF: "stop", PUMP_RUNNING: "start"},
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
    """Filter pump: runs while commanded and the firmware runs."""

    machine_name = "pump"

    def __init__(self) -> None:
        self.bind()

    def target(self, running: bool, commanded: bool) -> str:
        return PUMP_RUNNING if running and commanded else OFF


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
    """Ozone generator or UVC lamp: on while commanded, fitted and the filter pump runs."""

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
