"""Frames of the MSpa remote-connector protocol (SPEC §3).

Both directions use the same 4-byte frame ``A5 CMD PARAM SUM`` with
``SUM = (0xA5 + CMD + PARAM) mod 256``: no escaping, no length, no acknowledgement.
A frame is a tiny immutable value; it is a ``NamedTuple`` rather than a dataclass because
decoders create millions of them and tuple construction is the cheapest immutable object
Python has.
"""

from __future__ import annotations

import functools
from enum import Enum, IntEnum
from typing import NamedTuple

SYNC = 0xA5
"""First byte of every frame; receivers hunt for it."""
FRAME_LENGTH = 4
BAUD_RATE = 9600
BITS_PER_BYTE = 10
"""8N1 on the wire: start bit, 8 data bits, stop bit."""
FRAME_SECONDS = FRAME_LENGTH * BITS_PER_BYTE / BAUD_RATE
"""Time one frame occupies on the line at 9600 bit/s (≈ 4.17 ms)."""
PARTIAL_FRAME_TIMEOUT = 0.100
"""A receiver drops a partial frame older than this (seconds)."""


class Direction(Enum):
    """Which way a frame travels on the 4-wire cable."""

    BOX_TO_REMOTE = "box→remote"
    """Green wire: the control box talks, the remote (panel) listens."""
    REMOTE_TO_BOX = "remote→box"
    """Black wire: the remote talks, the control box listens."""

    @property
    def sender(self) -> str:
        """``"box"`` or ``"remote"``: the short name used in captures."""
        return "box" if self is Direction.BOX_TO_REMOTE else "remote"

    @classmethod
    def from_sender(cls, sender: str) -> Direction:
        if sender == "box":
            return cls.BOX_TO_REMOTE
        if sender == "remote":
            return cls.REMOTE_TO_BOX
        raise ValueError(f"unknown sender {sender!r}: expected 'box' or 'remote'")


class Command(IntEnum):
    """Every command code seen on the wire (SPEC §3); unknown codes still decode as plain ints."""

    HEATER = 0x01
    """remote→box: heater enable 0/1."""
    FILTER = 0x02
    """remote→box: filter pump enable 0/1."""
    BUBBLES = 0x03
    """remote→box: bubble level, 0 off, 1–3."""
    SETPOINT = 0x04
    """remote→box: target temperature in whole °C, sent right after KEY_PRESS."""
    WATER_TEMP = 0x06
    """box→remote: water temperature, °C × 2, every report period (1.0132 s captured)."""
    BOOT_07 = 0x07
    """box→remote: meaning unknown, 0x0C once at power-on."""
    FLOW = 0x08
    """box→remote: flow switches, bit0 inlet, bit1 outlet, 0.81 s after each WATER_TEMP."""
    BOOT_09 = 0x09
    """box→remote: meaning unknown, 0x00 once at power-on."""
    HANDSHAKE = 0x0A
    """both: power-on handshake, remote sends 0x00, box answers 0x01."""
    KEEPALIVE = 0x0B
    """both: remote sends 0x00 once a minute, box answers 0x86 at once."""
    CYCLE_0D = 0x0D
    """remote→box: jets 0/1 on a model with a jet pump (Elite); 0x00 in the cycle otherwise."""
    OZONE = 0x0E
    """remote→box: ozone enable 0/1."""
    BOOT_0F = 0x0F
    """remote→box: meaning unknown, 0x00 once, 0.4 s after the first 0x0D after a handshake."""
    INIT_10 = 0x10
    """both: power-on exchange (remote 0x00, box echoes); UVC enable on box variant B."""
    HANDSHAKE_11 = 0x11
    """both: power-on handshake, remote 0x00, box echoes 0x00."""
    BLOWER = 0x12
    """box→remote (some models): 01 twice a second while the blower runs, 00 once when it stops."""
    UVC = 0x15
    """remote→box: UVC enable 0/1 (box variant A)."""
    KEY_PRESS = 0x16
    """remote→box: key-press marker 0x00, before SETPOINT and with key presses."""
    UVC_C = 0x19
    """remote→box: UVC ("sanitize") enable 0/1 (box variant C, weak source)."""
    LED_FLAGS = 0x1A
    """box→remote (some models): the panel's LED flags, with every temperature report."""
    STATUS = 0x1B
    """box→remote (some models): set-point and bubbles, with every flow report."""


NEVER_SEEN_CODES = frozenset({0x05, 0x0C, 0x13, 0x14, 0x17})
"""Codes in the known range that no capture has shown; receivers must tolerate them."""

_COMMAND_BY_CODE: tuple[Command | int, ...] = tuple(
    Command(code) if code in Command._value2member_map_ else code for code in range(256)
)


def as_command(code: int) -> Command | int:
    """The ``Command`` for a known code, the plain int for an unknown one (no exception)."""
    return _COMMAND_BY_CODE[code]


def checksum(command: int, parameter: int) -> int:
    """``(0xA5 + command + parameter) mod 256`` (SPEC §3)."""
    return (SYNC + command + parameter) & 0xFF


def _check_byte(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must be an integer 0..255, got {value!r}")


class Frame(NamedTuple):
    """One 4-byte frame: ``bytes(frame)`` gives the wire bytes.

    Build frames with :meth:`make` (validates) or :func:`encode`; the decoder builds them
    directly because it has already checked every byte.
    """

    command: Command | int
    parameter: int

    @classmethod
    def make(cls, command: int, parameter: int) -> Frame:
        _check_byte("command", command)
        _check_byte("parameter", parameter)
        return cls(as_command(command), parameter)

    @property
    def checksum(self) -> int:
        return checksum(self.command, self.parameter)

    @property
    def known(self) -> bool:
        """True when the command code is one of :class:`Command`."""
        return isinstance(self.command, Command)

    def __bytes__(self) -> bytes:
        return bytes((SYNC, self.command, self.parameter, checksum(self.command, self.parameter)))

    def hex(self) -> str:
        """``"A5 06 2F DA"``: the wire bytes as a technician reads them."""
        return _hex(self.command, self.parameter)

    def __repr__(self) -> str:
        name = self.command.name if isinstance(self.command, Command) else f"0x{self.command:02X}"
        return f"Frame({name}, 0x{self.parameter:02X})"


@functools.lru_cache(maxsize=1024)
def _hex(command: int, parameter: int) -> str:
    """Every run records every frame as hex; a box says the same few frames all day."""
    return bytes((SYNC, command, parameter, checksum(command, parameter))).hex(" ").upper()


def encode(command: int, parameter: int) -> bytes:
    """The 4 wire bytes of one frame; ``ValueError`` for a byte out of 0..255."""
    _check_byte("command", command)
    _check_byte("parameter", parameter)
    return bytes((SYNC, command, parameter, checksum(command, parameter)))


def parse(data: bytes) -> Frame:
    """Exactly one frame from exactly 4 bytes; ``ValueError`` says what is wrong."""
    if len(data) != FRAME_LENGTH:
        raise ValueError(f"a frame is {FRAME_LENGTH} bytes, got {len(data)}: {data.hex(' ')}")
    if data[0] != SYNC:
        raise ValueError(f"a frame starts with A5, got {data[0]:02X}")
    expected = checksum(data[1], data[2])
    if data[3] != expected:
        raise ValueError(f"bad checksum: expected {expected:02X}, got {data[3]:02X}")
    return Frame(as_command(data[1]), data[2])
