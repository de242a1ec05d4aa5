"""Meaning of frame parameters: temperature, flow bits, set-point, bubble level, on/off.

Encoding refuses what the protocol cannot carry (``ValueError`` with the allowed range);
decoding never "fixes" a value: an out-of-range parameter comes back with ``problem`` set,
so a bench can flag it and a simulator can ignore it (SPEC §4 invariant 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from protocols.mspa.frames import Command, Direction, Frame

TEMPERATURE_MAX = 127.5
"""Largest reportable water temperature (parameter 0xFF); a shorted sensor reads this."""
SETPOINT_MIN = 10
SETPOINT_MAX = 40
"""The widest set-point range in whole °C any shipped model takes (MW's bridge sends 10 °C,
"hibernate"; the maker's app stops at 20–40). A model's plate narrows it
(``setpoint_min_c``/``setpoint_max_c``)."""
BUBBLE_LEVEL_MAX = 3
AUTO_OFF_MINUTES = {"bubbles": 10.0, "ozone": 120.0, "uvc": 120.0}
"""The loads that switch themselves off and after how long, by remote-state field (SPEC §2;
a model's plate may say otherwise)."""


def auto_off_change(previous: int, level: int) -> bool | None:
    """What a remote-state change does to a self-switching load's auto-off timer (SPEC §4
    invariant 3): True — (re)start it (the load was switched on or changed its level);
    False — stop it (the load is off); None — leave it running (the same level repeated, as
    every key press's burst and the state cycle do).

    One rule for everyone who must follow the box's timer: the remote's own mirror, the
    console's countdown (the box's firmware keeps its own memory, judged the same way).
    """
    if not level:
        return False
    return True if level != previous else None


FLOW_IN = 0x01
FLOW_OUT = 0x02


def encode_temperature(celsius: float) -> int:
    """°C → parameter (°C × 2); only 0.5 °C steps from 0.0 to 127.5 are representable."""
    doubled = celsius * 2
    if not 0 <= doubled <= 255 or doubled != int(doubled):
        raise ValueError(
            f"water temperature must be 0.0–{TEMPERATURE_MAX} °C in 0.5 °C steps, got {celsius!r}"
        )
    return int(doubled)


def quantise_temperature(celsius: float) -> float:
    """Nearest reportable temperature (0.5 °C steps, clamped to 0.0–127.5): what a sensor sends."""
    return min(max(round(celsius * 2) / 2, 0.0), TEMPERATURE_MAX)


def decode_temperature(parameter: int) -> float:
    return parameter / 2


def encode_setpoint(celsius: int, *, low: int = SETPOINT_MIN, high: int = SETPOINT_MAX) -> int:
    """A set-point in whole °C within ``low``–``high`` (the model's range; the widest by
    default). The wire's 0x04 parameter may carry it doubled: see
    :func:`protocols.mspa.sequences.encode_setpoint_parameter`."""
    if isinstance(celsius, bool) or not isinstance(celsius, int):
        raise ValueError(f"set-point must be whole °C, got {celsius!r}")
    if not low <= celsius <= high:
        raise ValueError(f"set-point must be {low}–{high} °C, got {celsius}")
    return celsius


def encode_bubble_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= BUBBLE_LEVEL_MAX:
        raise ValueError(f"bubble level must be 0 (off) to {BUBBLE_LEVEL_MAX}, got {level!r}")
    return level


def encode_switch(on: bool) -> int:
    if not isinstance(on, bool | int) or on not in (0, 1):
        raise ValueError(f"an enable parameter is 0 or 1, got {on!r}")
    return int(on)


class FlowSwitches(NamedTuple):
    """The two reed switches of the heating loop as the box reports them in 0x08."""

    inlet: bool
    outlet: bool

    @property
    def flowing(self) -> bool:
        return self.inlet or self.outlet

    def to_parameter(self) -> int:
        return (FLOW_IN if self.inlet else 0) | (FLOW_OUT if self.outlet else 0)

    @classmethod
    def from_parameter(cls, parameter: int) -> FlowSwitches:
        return cls(bool(parameter & FLOW_IN), bool(parameter & FLOW_OUT))


@dataclass(frozen=True)
class Reading:
    """What one frame says, in a user's words; ``problem`` is set when it cannot be right."""

    name: str
    value: float | int | bool | FlowSwitches | None
    text: str
    problem: str | None = None


_SWITCH_NAMES = {
    Command.HEATER: "heater",
    Command.FILTER: "filter",
    Command.OZONE: "ozone",
    Command.UVC: "UVC",
}


def _switch(name: str, parameter: int) -> Reading:
    if parameter in (0, 1):
        return Reading(name, bool(parameter), f"{name} {'on' if parameter else 'off'}")
    return Reading(name, None, f"{name} ?{parameter:#04x}", f"{name} parameter must be 0 or 1")


def interpret(frame: Frame) -> Reading:
    """The meaning of one frame (direction-independent: each code means one thing per SPEC §3)."""
    command, parameter = frame
    if command in _SWITCH_NAMES:
        return _switch(_SWITCH_NAMES[Command(command)], parameter)
    if command == Command.BUBBLES:
        if parameter <= BUBBLE_LEVEL_MAX:
            text = "bubbles off" if parameter == 0 else f"bubbles level {parameter}"
            return Reading("bubbles", parameter, text)
        return Reading("bubbles", None, f"bubbles ?{parameter}", "bubble level must be 0–3")
    if command == Command.SETPOINT:
        text = f"set-point {parameter} °C"
        if SETPOINT_MIN <= parameter <= SETPOINT_MAX:
            return Reading("setpoint", parameter, text)
        return Reading(
            "setpoint", None, text, f"set-point outside {SETPOINT_MIN}–{SETPOINT_MAX} °C"
        )
    if command == Command.WATER_TEMP:
        celsius = decode_temperature(parameter)
        return Reading("water", celsius, f"water {celsius:.1f} °C")
    if command == Command.FLOW:
        flow = FlowSwitches.from_parameter(parameter)
        text = f"flow in={int(flow.inlet)} out={int(flow.outlet)}"
        if parameter & ~(FLOW_IN | FLOW_OUT):
            return Reading("flow", flow, text, f"unknown flow bits {parameter:#04x}")
        return Reading("flow", flow, text)
    if command == Command.HANDSHAKE:
        return Reading("handshake", parameter, f"handshake {parameter:02X}")
    if command == Command.HANDSHAKE_11:
        return Reading("handshake-11", parameter, f"handshake-11 {parameter:02X}")
    if command == Command.KEEPALIVE:
        return Reading("keepalive", parameter, f"keep-alive {parameter:02X}")
    if command == Command.INIT_10:
        return Reading("init-10", parameter, f"init-10 / UVC(B) {parameter:02X}")
    if command == Command.KEY_PRESS:
        return Reading("key-press", parameter, "key press")
    if command == Command.BOOT_07:
        return Reading("boot-07", parameter, f"power-on 07 {parameter:02X}")
    if command == Command.BOOT_09:
        return Reading("boot-09", parameter, f"power-on 09 {parameter:02X}")
    if command == Command.BOOT_0F:
        return Reading("boot-0f", parameter, f"power-on 0F {parameter:02X}")
    if command == Command.CYCLE_0D:
        return Reading("cycle-0d", parameter, f"cycle 0D {parameter:02X}")
    return Reading("unknown", parameter, f"unknown command {command:02X} param {parameter:02X}")


def describe(frame: Frame, direction: Direction) -> str:
    """One human line: ``box→remote A5 06 2F DA  water 23.5 °C`` (problems in brackets)."""
    reading = interpret(frame)
    line = f"{direction.value} {frame.hex()}  {reading.text}"
    if reading.problem:
        line += f"  [{reading.problem}]"
    return line
