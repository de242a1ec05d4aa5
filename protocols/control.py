"""The control channel of a served unit: what a person at the bench does and sees, over TCP.

``spasim serve --control 127.0.0.1:PORT`` opens it (see :mod:`spasim.control`); this module
is its client side and the protocol, at the bottom layer so the bench (a rehearsal operator,
a CI script) uses it without loading the simulator.

The protocol is line-oriented UTF-8 over TCP: one command per line, words separated by
spaces (command words are case-insensitive), and exactly one reply line per command, a JSON
object. ``{"ok": true, ...}`` carries what the command returns; ``{"ok": false, "error":
"..."}`` says why a command was refused, and a refused command changes nothing. Every action
replies with ``look`` (what a person sees after it). Commands:

============================  ===============================================================
``help``                      the command list
``status``                    role, model, simulated time, mains, faults, knob, lid, water...
``look``                      what a person sees and hears: PRCD light, bubbles, pump, blower,
                              jets, knob position, lid (and the panel display, role remote)
``plate``                     the model plate: model, profile and the optional parts fitted
``prcd test`` / ``prcd reset`` press the PRCD's TEST / RESET button
``knob off|inflate``          turn the rotation knob
``lid on|off``                put the lid on / take it off
``ambient °C`` / ``water °C`` change the air temperature / pour in water at that temperature
``mains on|off``              plug the unit in / pull the plug
``inject FAULT`` / ``clear FAULT``  break / repair a part (any fault id of ``spasim faults``)
``faults``                    the faults injected now
``probe POINT``               volts a multimeter finds at a test point (``transformer-secondary``)
``key KEY``                   role remote: press a panel key (heater, filter, bubbles, jets,
                              ozone, uvc, up, down, long-filter; jets only on a model with
                              a jet pump)
``panel``                     role remote: what the panel displays
============================  ===============================================================

Example session (``>`` sent, ``<`` received)::

    > inject flow-switch-stuck-open
    < {"ok": true, "look": {"prcd_light": true, "bubbles": false, ...}}
    > knob sideways
    < {"ok": false, "error": "knob position must be 'off' or 'inflate', got 'sideways'"}

:class:`ControlClient` speaks it; :class:`ControlWorkbench` is a client dressed as a
:class:`Workbench`, the small interface a (virtual) person needs — implemented in-process by
:class:`spasim.control.BoxWorkbench` too, so the bench's virtual operator acts the same way
on a box in its own process and on one served elsewhere.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Protocol

CONTROL_SCHEME = "control://"
"""How a control channel is named where a URL is expected (``--operator control://…``)."""

MAX_LINE_BYTES = 4096
"""Longest command line a server takes; a longer one is refused (and discarded)."""

DEFAULT_TIMEOUT_S = 10.0
"""Wall seconds a client waits for connecting and for each reply."""


class ControlError(Exception):
    """The channel could not be reached, or the served unit refused the command."""


class ControlRefused(ControlError):
    """The served unit refused the command (the reply's reason); nothing was changed."""


class Workbench(Protocol):
    """A unit on the bench as a person meets it: what they see, hear and do.

    Implemented in-process over a virtual box (:class:`spasim.control.BoxWorkbench`) and
    remotely over the control channel (:class:`ControlWorkbench`); the bench's virtual
    operator needs nothing else. Nothing here is a simulator internal: no watts, no states.
    """

    @property
    def prcd_light(self) -> bool:
        """The PRCD's indicator light is on."""
        ...

    @property
    def bubbles_visible(self) -> bool:
        """Bubbles rise in the tank."""
        ...

    def hears(self, load: str) -> bool:
        """A motor (``filter`` pump, ``blower``, ``jets``) can be heard running."""
        ...

    def test_point_v(self, name: str) -> float:
        """Volts at a test point (the truth; a multimeter adds its own error)."""
        ...

    def model_plate(self) -> str:
        """The model named on the unit's plate (its model file's key, ``elite-6``)."""
        ...

    def press_prcd_test(self) -> None: ...

    def press_prcd_reset(self) -> None: ...

    def set_knob(self, position: str) -> None: ...


def parse_address(text: str) -> tuple[str, int]:
    """``control://HOST:PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` → (host, port)."""
    rest = text.removeprefix(CONTROL_SCHEME)
    host, colon, port_text = rest.rpartition(":")
    if not colon or not host:
        raise ValueError(f"control address must be HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"control address must be HOST:PORT, got {text!r}") from None
    if not 0 < port <= 65535:
        raise ValueError(f"control port must be 1–65535, got {port}")
    return host, port


def reply_line(reply: dict[str, Any]) -> bytes:
    """One reply as it goes on the wire: compact JSON and a newline."""
    return (json.dumps(reply, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")


class ControlClient:
    """A connection to a served unit's control channel; one request at a time.

    :meth:`request` sends one command line and returns the reply's fields, or raises
    :class:`ControlRefused` (the unit refused the command) or :class:`ControlError` (the
    channel is gone or unreachable).
    """

    def __init__(self, address: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        try:
            self.host, self.port = parse_address(address)
        except ValueError as error:
            raise ControlError(str(error)) from None
        self.address = f"{self.host}:{self.port}"
        try:
            self._socket = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as error:
            raise ControlError(
                f"control channel {self.address}: {error.strerror or error}"
            ) from None
        self._buffer = bytearray()

    def request(self, command: str) -> dict[str, Any]:
        """Send ``command`` (one line), wait for its reply; the reply's fields."""
        if "\n" in command or "\r" in command:
            raise ControlError("one command per request: no line breaks")
        try:
            self._socket.sendall(command.encode("utf-8") + b"\n")
            line = self._read_line()
        except OSError as error:
            raise ControlError(f"control channel {self.address}: {error}") from None
        try:
            reply = json.loads(line)
        except ValueError:
            raise ControlError(f"control channel {self.address}: not a reply: {line!r}") from None
        if not isinstance(reply, dict):
            raise ControlError(f"control channel {self.address}: not a reply: {line!r}")
        if not reply.get("ok", False):
            raise ControlRefused(str(reply.get("error", "refused")))
        return reply

    def _read_line(self) -> str:
        while b"\n" not in self._buffer:
            chunk = self._socket.recv(4096)
            if not chunk:
                raise OSError("the server closed the channel")
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.decode("utf-8", "replace")

    def look(self) -> dict[str, Any]:
        """What a person sees and hears now (``look``)."""
        seen = self.request("look")["look"]
        assert isinstance(seen, dict)
        return seen

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ControlWorkbench:
    """A :class:`Workbench` over a control channel: every look and act is one request."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client

    @property
    def prcd_light(self) -> bool:
        return bool(self.client.look()["prcd_light"])

    @property
    def bubbles_visible(self) -> bool:
        return bool(self.client.look()["bubbles"])

    def hears(self, load: str) -> bool:
        return bool(self.client.look().get(load, False))

    def test_point_v(self, name: str) -> float:
        return float(self.client.request(f"probe {name}")["volts"])

    def press_prcd_test(self) -> None:
        self.client.request("prcd test")

    def press_prcd_reset(self) -> None:
        self.client.request("prcd reset")

    def set_knob(self, position: str) -> None:
        self.client.request(f"knob {position}")

    def plate(self) -> dict[str, Any]:
        """The model plate (``plate``)."""
        return self.client.request("plate")

    def model_plate(self) -> str:
        return str(self.plate()["profile"])

    def fitted(self, part: str) -> bool | None:
        """Is an optional part (``ozone``, ``uvc``, ``jet``) fitted, read off the plate."""
        value = self.plate().get("fitted", {}).get(part)
        return None if value is None else bool(value)
