"""Captured traffic of SPEC §3 as data a test or a virtual unit can replay.

``POWER_ON`` is the order seen on a real box after mains on, with the capture's times;
``STATE_CYCLE`` is the capture's order of the remote's periodic state frames;
:func:`key_press_burst` builds what a remote sends when a key is pressed. A model's plate
(:class:`~protocols.mspa.models.ModelPlate`) names its cycle and burst entries
(``remote_cycle``, ``remote_burst``); :func:`entry_frame` turns an entry into its frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from protocols.mspa.frames import Command, Direction, Frame, as_command

BOX = Direction.BOX_TO_REMOTE
REMOTE = Direction.REMOTE_TO_BOX


class TimedFrame(NamedTuple):
    """A frame with the time it was seen (seconds after mains on) and its direction."""

    time: float
    direction: Direction
    frame: Frame


def _f(time: float, direction: Direction, command: Command, parameter: int) -> TimedFrame:
    return TimedFrame(time, direction, Frame(command, parameter))


POWER_ON: tuple[TimedFrame, ...] = (
    _f(5.46, BOX, Command.BOOT_09, 0x00),
    _f(5.66, BOX, Command.BOOT_07, 0x0C),
    _f(5.89, REMOTE, Command.KEEPALIVE, 0x00),
    _f(5.89, REMOTE, Command.HANDSHAKE, 0x00),
    _f(5.89, BOX, Command.KEEPALIVE, 0x86),
    _f(5.89, BOX, Command.HANDSHAKE, 0x01),
    _f(5.90, REMOTE, Command.HANDSHAKE_11, 0x00),
    _f(5.91, BOX, Command.HANDSHAKE_11, 0x00),
    _f(5.91, REMOTE, Command.INIT_10, 0x00),
    _f(5.92, BOX, Command.INIT_10, 0x00),
    _f(6.06, BOX, Command.WATER_TEMP, 0x2F),
    _f(6.09, REMOTE, Command.HEATER, 0x00),
    _f(6.87, BOX, Command.FLOW, 0x00),
)
"""Captured power-on order; the 0x06 parameter is the capture's (23.5 °C)."""

BOX_BOOT_FRAMES: tuple[Frame, ...] = (Frame(Command.BOOT_09, 0x00), Frame(Command.BOOT_07, 0x0C))
"""What a box sends by itself once it has booted, before anyone speaks to it."""

HANDSHAKE_REPLIES: Mapping[Command | int, Frame] = {
    Command.HANDSHAKE: Frame(Command.HANDSHAKE, 0x01),
    Command.KEEPALIVE: Frame(Command.KEEPALIVE, 0x86),
    Command.HANDSHAKE_11: Frame(Command.HANDSHAKE_11, 0x00),
    Command.INIT_10: Frame(Command.INIT_10, 0x00),
}
"""What a box answers at once to each handshake/keep-alive frame from the remote (param 0x00)."""

REMOTE_HANDSHAKE: tuple[Frame, ...] = (
    Frame(Command.KEEPALIVE, 0x00),
    Frame(Command.HANDSHAKE, 0x00),
    Frame(Command.HANDSHAKE_11, 0x00),
    Frame(Command.INIT_10, 0x00),
)
"""What a remote sends at power-on, in order."""

STATE_CYCLE: tuple[Command, ...] = (
    Command.HEATER,
    Command.FILTER,
    Command.BUBBLES,
    Command.CYCLE_0D,
    Command.OZONE,
    Command.UVC,
)
"""The capture's order of the remote's periodic state frames (01 02 03 0D 0E 15; variant B
sends 0x10 and variant C 0x19 for UVC). A model's plate may order its cycle otherwise
(``remote_cycle``)."""

STATE_CYCLE_SECONDS = 7.517
"""The capture's cycle period: a box hears every state at least this often."""


class RemoteState(NamedTuple):
    """Everything the remote tells the box: what the user asked for."""

    heater: bool = False
    filter: bool = False
    bubbles: int = 0
    ozone: bool = False
    uvc: bool = False
    setpoint: int = 40
    jets: bool = False
    """The jet pump (0x0D 0/1) on a model that has one; always off on the others."""

    def parameter_for(self, command: Command | int) -> int:
        """The state-cycle parameter of ``command`` (UVC for every UVC code; 0x0D is the
        jets; the set-point in whole °C)."""
        if command == Command.HEATER:
            return int(self.heater)
        if command == Command.FILTER:
            return int(self.filter)
        if command == Command.BUBBLES:
            return self.bubbles
        if command == Command.OZONE:
            return int(self.ozone)
        if command in UVC_CODES:
            return int(self.uvc)
        if command == Command.CYCLE_0D:
            return int(self.jets)
        if command == Command.SETPOINT:
            return self.setpoint
        return 0


UVC_CODES = (int(Command.UVC), int(Command.INIT_10), int(Command.UVC_C))
"""The UVC enable code of variant A, B and C boxes."""

ENTRY_COMMANDS: Mapping[str, Command] = {
    "heater": Command.HEATER,
    "filter": Command.FILTER,
    "bubbles": Command.BUBBLES,
    "jets": Command.CYCLE_0D,
    "ozone": Command.OZONE,
    "uvc": Command.UVC,
    "marker": Command.KEY_PRESS,
    "setpoint": Command.SETPOINT,
}
"""The frame each entry name of a plate's ``remote_cycle``/``remote_burst`` stands for
(``uvc`` goes out on the model's UVC code)."""

CAPTURE_CYCLE = ("heater", "filter", "bubbles", "jets", "ozone", "uvc")
"""The capture's state cycle by entry name."""
CAPTURE_BURST = ("heater", "filter", "bubbles", "jets", "ozone", "uvc", "marker", "setpoint")
"""The capture's key-press burst by entry name: 01 02 03 0D 0E 15 16 04."""


def encode_setpoint_parameter(celsius: int, encoding: str = "celsius") -> int:
    """0x04's parameter for ``celsius``: whole °C, or °C × 2 (``encoding="double"``)."""
    if encoding == "celsius":
        return celsius
    if encoding == "double":
        return celsius * 2
    raise ValueError(f"set-point encoding must be celsius or double, got {encoding!r}")


def entry_frame(
    entry: str,
    state: RemoteState,
    *,
    uvc_command: int = Command.UVC,
    jets_fitted: bool = True,
    setpoint_encoding: str = "celsius",
) -> Frame:
    """The frame of one cycle/burst entry for ``state`` (``jets`` is 0D 00 without a jet
    pump; ``setpoint`` is encoded per ``setpoint_encoding``)."""
    command = ENTRY_COMMANDS.get(entry)
    if command is None:
        raise ValueError(f"unknown remote entry {entry!r}: known are {', '.join(ENTRY_COMMANDS)}")
    if command == Command.UVC:
        return Frame(as_command(uvc_command), int(state.uvc))
    if command == Command.CYCLE_0D:
        return Frame(command, int(state.jets and jets_fitted))
    if command == Command.KEY_PRESS:
        return Frame(command, 0x00)
    if command == Command.SETPOINT:
        return Frame(command, encode_setpoint_parameter(state.setpoint, setpoint_encoding))
    return Frame(command, state.parameter_for(command))


def state_frames(
    state: RemoteState,
    uvc_command: int = Command.UVC,
    *,
    cycle: Sequence[str] = CAPTURE_CYCLE,
    jets_fitted: bool = True,
) -> list[Frame]:
    """One frame for each entry of the state cycle, in cycle order."""
    return [
        entry_frame(entry, state, uvc_command=uvc_command, jets_fitted=jets_fitted)
        for entry in cycle
    ]


def key_press_burst(
    state: RemoteState,
    *,
    setpoint_changed: bool = False,
    uvc_command: int = Command.UVC,
    burst: Sequence[str] = CAPTURE_BURST,
    jets_fitted: bool = True,
    setpoint_encoding: str = "celsius",
) -> list[Frame]:
    """What a remote sends on a key press, in ``burst`` order (the capture's: 01 02 03 0D 0E
    15, then 16 00, then 04 <set-point> when the set-point is shown or changed; a burst
    without ``marker`` sends no 16, one without ``setpoint`` never sends 04)."""
    return [
        entry_frame(
            entry,
            state,
            uvc_command=uvc_command,
            jets_fitted=jets_fitted,
            setpoint_encoding=setpoint_encoding,
        )
        for entry in burst
        if entry != "setpoint" or setpoint_changed
    ]
