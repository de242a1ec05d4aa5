"""Meaning of frame parameters: temperature, flow bits, set-point, bubble level, on/off.

Encoding refuses what the protocol cannot carry (``ValueError`` with the allowed range);
decoding never "fixes" a value: an out-of-range parameter comes back with ``problem`` set,
so a bench can flag it and a simulator can ignore it (SPEC §4 invariant 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from protocols.mspa.frames import Command, Direction, Frame

if TYPE_CHECKING:
    from protocols.mspa.models import ModelPlate

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


def decode_setpoint(parameter: int, plate: ModelPlate) -> int | None:
    """The set-point a box of ``plate`` takes from 0x04's ``parameter``: whole °C, or °C × 2
    (``setpoint_encoding = "double"``); None when the box ignores the frame — outside the
    plate's range, or an odd parameter on a °C × 2 model (half a degree: the box keeps whole
    degrees). One reading for everyone who must agree with the box: the virtual box, the
    bench playing the box, :func:`describe`."""
    if plate.setpoint_encoding == "double":
        celsius, half = divmod(parameter, 2)
        if half:
            return None
    else:
        celsius = parameter
    if not plate.setpoint_min_c <= celsius <= plate.setpoint_max_c:
        return None
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
}

LED_BITS = ("heater", "filter", "bubbles", "ozone", "uvc", "jets")
"""[model] The 1A parameter (LED flags): bit *n* lit when the load ``LED_BITS[n]`` runs. AH
names 1A "LED flags" but publishes no layout; this one layout is what a box we play sends
(:func:`led_flags`) and what :func:`describe` reads (:func:`decode_led_flags`)."""
_LED_SHOWN = {"uvc": "UVC"}
"""How a key light is named on a line for a person."""


def led_flags(
    *,
    heater: bool = False,
    filter: bool = False,
    bubbles: bool = False,
    ozone: bool = False,
    uvc: bool = False,
    jets: bool = False,
) -> int:
    """The 1A parameter for the loads that run (layout :data:`LED_BITS`, **[model]**)."""
    flags = 0
    for bit, on in enumerate((heater, filter, bubbles, ozone, uvc, jets)):
        if on:
            flags |= 1 << bit
    return flags


def decode_led_flags(parameter: int) -> tuple[list[str], int]:
    """The inverse of :func:`led_flags`: the loads lit (names of :data:`LED_BITS`, in bit
    order) and the bits the layout does not know."""
    lit = [name for bit, name in enumerate(LED_BITS) if parameter >> bit & 1]
    return lit, parameter & ~((1 << len(LED_BITS)) - 1)


STATUS_SETPOINT_MASK = 0x3F
STATUS_BUBBLES_SHIFT = 6


def status_parameter(setpoint_c: int, bubbles: int) -> int:
    """The 1B parameter: **[model]** the set-point in whole °C in bits 0–5 (10–40 fits) and
    the bubble level (0–3) in bits 6–7. The sources say only "set-point + bubbles"."""
    if not 0 <= setpoint_c <= STATUS_SETPOINT_MASK:
        raise ValueError(f"set-point must be 0..63 °C for the 1B frame, got {setpoint_c}")
    if not 0 <= bubbles <= BUBBLE_LEVEL_MAX:
        raise ValueError(f"bubble level must be 0..{BUBBLE_LEVEL_MAX}, got {bubbles}")
    return setpoint_c | bubbles << STATUS_BUBBLES_SHIFT


def decode_status(parameter: int) -> tuple[int, int]:
    """The inverse of :func:`status_parameter`: ``(set-point °C, bubble level)``."""
    return parameter & STATUS_SETPOINT_MASK, parameter >> STATUS_BUBBLES_SHIFT


def _switch(name: str, parameter: int) -> Reading:
    if parameter in (0, 1):
        return Reading(name, bool(parameter), f"{name} {'on' if parameter else 'off'}")
    return Reading(name, None, f"{name} ?{parameter:#04x}", f"{name} parameter must be 0 or 1")


def _setpoint(parameter: int, plate: ModelPlate | None) -> Reading:
    """0x04: whole °C or °C × 2 per the plate; without one, the reading says what is
    ambiguous (a parameter that fits both encodings is read as whole °C, as the capture's)."""
    if plate is not None:
        low, high = plate.setpoint_min_c, plate.setpoint_max_c
        double = plate.setpoint_encoding == "double"
        shown = parameter / 2 if double else float(parameter)
        text = f"set-point {shown:g} °C" + (" (°C × 2)" if double else "")
        celsius = decode_setpoint(parameter, plate)
        if celsius is not None:
            return Reading("setpoint", celsius, text)
        if shown != int(shown):
            return Reading("setpoint", None, text, "half a degree: the box takes whole °C only")
        return Reading("setpoint", None, text, f"set-point outside {low}–{high} °C")
    fits_whole = SETPOINT_MIN <= parameter <= SETPOINT_MAX
    fits_double = parameter % 2 == 0 and SETPOINT_MIN <= parameter // 2 <= SETPOINT_MAX
    if fits_whole:
        text = f"set-point {parameter} °C"
        if fits_double:
            text += f" (or {parameter // 2} °C on a °C × 2 model)"
        return Reading("setpoint", parameter, text)
    if fits_double:
        return Reading("setpoint", parameter // 2, f"set-point {parameter // 2} °C (°C × 2 model)")
    return Reading(
        "setpoint",
        None,
        f"set-point {parameter} °C",
        f"set-point outside {SETPOINT_MIN}–{SETPOINT_MAX} °C (or its double)",
    )


def _uvc(command: int, parameter: int, plate: ModelPlate | None) -> Reading:
    variant = {Command.UVC: "A", Command.INIT_10: "B", Command.UVC_C: "C"}[Command(command)]
    if plate is not None and plate.uvc_command != command:
        if command == Command.INIT_10:
            return Reading("init-10", parameter, f"init-10 {parameter:02X}")
        return Reading(
            "uvc",
            None,
            f"UVC (variant {variant}) {parameter:02X}",
            f"{plate.name} enables UVC on {plate.uvc_command:02X}, not {command:02X}",
        )
    reading = _switch("UVC", parameter)
    if command == Command.INIT_10 and plate is not None and parameter == 0:
        return Reading("uvc", False, "UVC off (variant B) / init-10")
    if command == Command.INIT_10 and plate is None:
        return Reading(
            "init-10", parameter, f"init-10 / UVC (variant B) {parameter:02X}", reading.problem
        )
    return Reading(
        reading.name, reading.value, f"{reading.text} (variant {variant})", reading.problem
    )


def _jets(parameter: int, plate: ModelPlate | None) -> Reading:
    if plate is not None and not plate.jets_fitted:
        problem = None if parameter == 0 else f"{plate.name} has no jets: 0D should carry 00"
        return Reading("cycle-0d", parameter, f"cycle 0D {parameter:02X} (no jets)", problem)
    reading = _switch("jets", parameter)
    if plate is None:
        return Reading(
            reading.name,
            reading.value,
            f"{reading.text} (0D: jets on a model with a jet pump, else 00 in the cycle)",
            reading.problem,
        )
    return reading


def _led_flags(parameter: int) -> Reading:
    lit, unknown = decode_led_flags(parameter)
    shown = [_LED_SHOWN.get(name, name) for name in lit]
    text = "LEDs " + (", ".join(shown) if shown else "none")
    problem = f"unknown LED bits {unknown:#04x}" if unknown else None
    return Reading("led-flags", parameter, text, problem)


def _status(parameter: int, plate: ModelPlate | None) -> Reading:
    """1B in the layout a box we play sends (:func:`status_parameter`)."""
    setpoint, bubbles = decode_status(parameter)
    text = f"status: set-point {setpoint} °C, " + (
        "bubbles off" if bubbles == 0 else f"bubbles level {bubbles}"
    )
    low, high = (
        (plate.setpoint_min_c, plate.setpoint_max_c)
        if plate is not None
        else (SETPOINT_MIN, SETPOINT_MAX)
    )
    problem = None if low <= setpoint <= high else f"set-point outside {low}–{high} °C"
    return Reading("status", parameter, text, problem)


def interpret(frame: Frame, plate: ModelPlate | None = None) -> Reading:
    """The meaning of one frame (each code means one thing per SPEC §3 and the public
    research). ``plate`` settles what depends on the model: 0x04 in whole °C or °C × 2,
    which code is the UVC's (0x15, 0x10 or 0x19), whether 0x0D switches jets; without it the
    reading names the ambiguity."""
    command, parameter = frame
    if command in _SWITCH_NAMES:
        return _switch(_SWITCH_NAMES[Command(command)], parameter)
    if command in (Command.UVC, Command.UVC_C) or (
        command == Command.INIT_10 and parameter in (0, 1)
    ):
        return _uvc(command, parameter, plate)
    if command == Command.BUBBLES:
        if parameter <= BUBBLE_LEVEL_MAX:
            text = "bubbles off" if parameter == 0 else f"bubbles level {parameter}"
            return Reading("bubbles", parameter, text)
        return Reading("bubbles", None, f"bubbles ?{parameter}", "bubble level must be 0–3")
    if command == Command.SETPOINT:
        return _setpoint(parameter, plate)
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
        if parameter == 0x00:
            text = "keep-alive / reset (long press Filter clears F1, A0)"
        elif parameter == 0x86:
            text = "keep-alive answer"
        else:
            text = f"keep-alive {parameter:02X}"
        return Reading("keepalive", parameter, text)
    if command == Command.INIT_10:
        return Reading("init-10", parameter, f"init-10 {parameter:02X}")
    if command == Command.KEY_PRESS:
        return Reading("key-press", parameter, "key press")
    if command == Command.BOOT_07:
        return Reading("boot-07", parameter, f"power-on 07 {parameter:02X}")
    if command == Command.BOOT_09:
        return Reading("boot-09", parameter, f"power-on 09 {parameter:02X}")
    if command == Command.BOOT_0F:
        return Reading("frame-0f", parameter, f"0F {parameter:02X} (once after the first 0D)")
    if command == Command.CYCLE_0D:
        return _jets(parameter, plate)
    if command == Command.BLOWER:
        if parameter in (0, 1):
            text = "blower running" if parameter else "blower stopped"
            return Reading("blower", bool(parameter), text)
        return Reading(
            "blower", None, f"blower ?{parameter:#04x}", "blower parameter must be 0 or 1"
        )
    if command == Command.LED_FLAGS:
        return _led_flags(parameter)
    if command == Command.STATUS:
        return _status(parameter, plate)
    return Reading("unknown", parameter, f"unknown command {command:02X} param {parameter:02X}")


def describe(frame: Frame, direction: Direction, plate: ModelPlate | None = None) -> str:
    """One human line: ``box→remote A5 06 2F DA  water 23.5 °C`` (problems in brackets);
    ``plate`` settles the model-dependent codes (see :func:`interpret`)."""
    reading = interpret(frame, plate)
    line = f"{direction.value} {frame.hex()}  {reading.text}"
    if reading.problem:
        line += f"  [{reading.problem}]"
    return line
