"""Captured traffic of SPEC §3 as data a test or a virtual unit can replay.

``POWER_ON`` is the order seen on a real box after mains on, with the capture's times;
``STATE_CYCLE`` is the order of the remote's periodic state frames; :func:`key_press_burst`
builds what a remote sends when a key is pressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from protocols.mspa.frames import Command, Direction, Frame

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
    Command.BUBBLES,
    Command.CYCLE_0D,
    Command.OZONE,
    Command.UVC,
    Command.HEATER,
    Command.FILTER,
)
"""Order of the remote's periodic state frames (variant A; variant B sends INIT_10 for UVC)."""

STATE_CYCLE_SECONDS = 7.5
"""A box hears every state at least this often."""


class RemoteState(NamedTuple):
    """Everything the remote tells the box: what the user asked for."""

    heater: bool = False
    filter: bool = False
    bubbles: int = 0
    ozone: bool = False
    uvc: bool = False
    setpoint: int = 40

    def parameter_for(self, command: Command) -> int:
        """The state-cycle parameter of ``command`` (UVC for both UVC codes)."""
        if command == Command.HEATER:
            return int(self.heater)
        if command == Command.FILTER:
            return int(self.filter)
        if command == Command.BUBBLES:
            return self.bubbles
        if command == Command.OZONE:
            return int(self.ozone)
        if command in (Command.UVC, Command.INIT_10):
            return int(self.uvc)
        if command == Command.SETPOINT:
            return self.setpoint
        return 0


def state_frames(state: RemoteState, uvc_command: Command = Command.UVC) -> list[Frame]:
    """One frame for each entry of the state cycle, in cycle order."""
    frames = []
    for command in STATE_CYCLE:
        code = uvc_command if command == Command.UVC else command
        frames.append(Frame(code, state.parameter_for(command)))
    return frames


def key_press_burst(
    state: RemoteState, *, setpoint_changed: bool = False, uvc_command: Command = Command.UVC
) -> list[Frame]:
    """What a remote sends on a key press: every state frame, then 16 00, then 04 <°C> for a
    set-point change (SPEC §3)."""
    frames = state_frames(state, uvc_command)
    frames.append(Frame(Command.KEY_PRESS, 0x00))
    if setpoint_changed:
        frames.append(Frame(Command.SETPOINT, state.setpoint))
    return frames
