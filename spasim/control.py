"""The served unit's control channel: a person's hands and eyes at the box, over loopback TCP.

``spasim serve --control 127.0.0.1:PORT`` (see :mod:`spasim.cli.serve`) opens it; the
protocol (one command line in, one JSON reply line out) is documented, with its client, in
:mod:`protocols.control`. Here:

* :class:`BoxWorkbench` — a :class:`~protocols.control.Workbench` over an in-process
  :class:`~spasim.board.VirtualBox`: what a person sees, hears and does. The control channel
  answers ``look`` from it, and the bench's in-process virtual operator perceives through it,
  so a rehearsal over the channel and a virtual run cannot perceive differently.
* :class:`BoxCommands` / :class:`PanelCommands` — the command set of each role: parse a
  line, check every word *before* acting (a refused command changes nothing), act through
  the unit's public world actions, reply.
* :class:`ControlServer` — the listening socket and its clients, watched by the serving
  loop's own driver (``add_reader``): every command runs in the thread that runs the unit's
  scheduler, between its events, never from another thread. Several clients may be
  connected at once (a CI script and a rehearsal operator); a client that sends a line
  longer than :data:`~protocols.control.MAX_LINE_BYTES` gets an error and the line is
  dropped; one that stops reading its replies is disconnected (its
  :class:`~protocols.links.SocketLink` bounds what waits for it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from protocols.control import MAX_LINE_BYTES, reply_line
from protocols.driver import Driver
from protocols.links import LinkLost, SocketLink
from spasim.faults import Role, parse_fault
from spasim.serve import ListeningSocket, bind_listener
from spasim.simulation import AMBIENT_RANGE_C, WATER_RANGE_C

if TYPE_CHECKING:
    from spasim.board import VirtualBox
    from spasim.remote import VirtualRemote

HEARD_LOADS = ("filter", "blower", "jets")
"""Motors a person hears running (the heater, ozone and UVC make no sound a person trusts)."""

TEST_POINTS = ("transformer-secondary",)


class CommandError(ValueError):
    """A command the channel refuses: the reply's ``error``; nothing was changed."""


def _words_on_off(word: str, what: str) -> bool:
    lowered = word.lower()
    if lowered in ("on", "1", "true", "yes"):
        return True
    if lowered in ("off", "0", "false", "no"):
        return False
    raise CommandError(f"{what} takes on or off, got {word!r}")


def _celsius(word: str, what: str, bounds: tuple[float, float]) -> float:
    try:
        value = float(word)
    except ValueError:
        raise CommandError(f"{what} takes a temperature in °C, got {word!r}") from None
    low, high = bounds
    if not math.isfinite(value) or not low <= value <= high:
        raise CommandError(f"{what} must be {low:g}–{high:g} °C, got {word}")
    return value


def _plate(profile: Any) -> dict[str, Any]:
    """What the unit's model plate says (the parts a person sees fitted)."""
    return {
        "profile": profile.name,
        "model": profile.model,
        "fitted": {
            "ozone": bool(profile.ozone_fitted),
            "uvc": bool(profile.uvc_fitted),
            "jet": bool(getattr(profile, "jets_fitted", False)),
        },
    }


class BoxWorkbench:
    """A virtual box as a person at the bench meets it (a :class:`protocols.control.Workbench`).

    Perception only: the PRCD's light, bubbles in the tank, motors that can be heard, the
    knob and the lid, a multimeter's probe on a test point. Never watts or firmware states.
    """

    def __init__(self, box: VirtualBox) -> None:
        self.box = box

    @property
    def prcd_light(self) -> bool:
        return bool(self.box.prcd_light)

    @property
    def bubbles_visible(self) -> bool:
        return bool(self.box.bubbles_visible)

    def hears(self, load: str) -> bool:
        """The pump (``filter``), the ``blower`` or the ``jets`` pump runs: a person hears it."""
        return float(self.box.load_powers().get(load, 0.0)) > 0.0

    def test_point_v(self, name: str) -> float:
        return float(self.box.test_point_v(name))

    def model_plate(self) -> str:
        return str(self.box.profile.name)

    def press_prcd_test(self) -> None:
        self.box.press_prcd_test()

    def press_prcd_reset(self) -> None:
        self.box.press_prcd_reset()

    def set_knob(self, position: str) -> None:
        self.box.set_knob(position)

    def look(self) -> dict[str, Any]:
        """Everything a person perceives at once (the channel's ``look``)."""
        seen: dict[str, Any] = {
            "prcd_light": self.prcd_light,
            "bubbles": self.bubbles_visible,
        }
        for load in HEARD_LOADS:
            seen[load] = self.hears(load)
        seen["knob"] = self.box.knob
        seen["lid"] = "on" if self.box.lid_on else "off"
        return seen


Handler = Callable[[list[str]], dict[str, Any]]


class _Commands:
    """What both roles share: dispatch, ``help``, ``faults``, ``inject``/``clear``, ``plate``."""

    role: Role = "box"

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.handlers: dict[str, tuple[str, Handler]] = {
            "help": ("", self._help),
            "status": ("", self._status),
            "look": ("", self._look),
            "plate": ("", self._plate),
            "faults": ("", self._faults),
            "inject": ("FAULT", self._inject),
            "clear": ("FAULT", self._clear),
        }

    def __call__(self, line: str) -> dict[str, Any]:
        """One command line → its reply (``ok`` true or false)."""
        words = line.split()
        if not words:
            return {"ok": False, "error": "empty command (try: help)"}
        name, arguments = words[0].lower(), words[1:]
        entry = self.handlers.get(name)
        if entry is None:
            return {"ok": False, "error": f"unknown command {words[0]!r} (try: help)"}
        usage, handler = entry
        wanted = len(usage.split())
        if len(arguments) != wanted:
            shown = f"{name} {usage}".strip()
            return {"ok": False, "error": f"usage: {shown}"}
        try:
            reply = handler(arguments)
        except ValueError as error:  # CommandError, or a unit refusing an action
            return {"ok": False, "error": str(error.args[0] if error.args else error)}
        return {"ok": True, **reply}

    def _help(self, _: list[str]) -> dict[str, Any]:
        return {
            "commands": [f"{name} {usage}".strip() for name, (usage, _h) in self.handlers.items()]
        }

    def _look(self, _: list[str]) -> dict[str, Any]:
        return {"look": self.look()}

    def look(self) -> dict[str, Any]:
        raise NotImplementedError

    def _status(self, _: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _plate(self, _: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _faults(self, _: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _inject(self, words: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _clear(self, words: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _fault(self, word: str) -> str:
        """A fault id of this role, checked before anything is touched."""
        try:
            return str(parse_fault(word, role=self.role))
        except ValueError as error:
            raise CommandError(str(error.args[0] if error.args else error)) from None

    def _acted(self) -> dict[str, Any]:
        return {"look": self.look()}


class BoxCommands(_Commands):
    """The control channel's commands for a served box (``--role box``)."""

    role: Role = "box"

    def __init__(self, box: VirtualBox) -> None:
        super().__init__(box.scheduler.now)
        self.box = box
        self.bench = BoxWorkbench(box)
        self.handlers.update(
            {
                "prcd": ("test|reset", self._prcd),
                "knob": ("off|inflate", self._knob),
                "lid": ("on|off", self._lid),
                "ambient": ("°C", self._ambient),
                "water": ("°C", self._water),
                "mains": ("on|off", self._mains),
                "probe": ("POINT", self._probe),
            }
        )

    def look(self) -> dict[str, Any]:
        return self.bench.look()

    def _status(self, _: list[str]) -> dict[str, Any]:
        box = self.box
        return {
            "role": self.role,
            "profile": box.profile.name,
            "time": round(self.now(), 3),
            "mains": box.mains,
            "running": box.running,
            "faults": list(box.active_faults),
            "water_c": round(box.water_c, 2),
            "ambient_c": round(box.ambient_c, 2),
            "cable": box.port is not None,
            "look": self.look(),
        }

    def _plate(self, _: list[str]) -> dict[str, Any]:
        return _plate(self.box.profile)

    def _faults(self, _: list[str]) -> dict[str, Any]:
        return {"faults": list(self.box.active_faults)}

    def _inject(self, words: list[str]) -> dict[str, Any]:
        self.box.inject(self._fault(words[0]))
        return self._acted()

    def _clear(self, words: list[str]) -> dict[str, Any]:
        self.box.clear(self._fault(words[0]))
        return self._acted()

    def _prcd(self, words: list[str]) -> dict[str, Any]:
        button = words[0].lower()
        if button == "test":
            self.bench.press_prcd_test()
        elif button == "reset":
            self.bench.press_prcd_reset()
        else:
            raise CommandError(f"prcd takes test or reset, got {words[0]!r}")
        return self._acted()

    def _knob(self, words: list[str]) -> dict[str, Any]:
        position = words[0].lower()
        if position not in ("off", "inflate"):
            raise CommandError(f"knob position must be 'off' or 'inflate', got {words[0]!r}")
        self.bench.set_knob(position)
        return self._acted()

    def _lid(self, words: list[str]) -> dict[str, Any]:
        self.box.set_lid(_words_on_off(words[0], "lid"))
        return self._acted()

    def _mains(self, words: list[str]) -> dict[str, Any]:
        self.box.set_mains(_words_on_off(words[0], "mains"))
        return self._acted()

    def _ambient(self, words: list[str]) -> dict[str, Any]:
        self.box.set_ambient(_celsius(words[0], "ambient", AMBIENT_RANGE_C))
        return self._acted()

    def _water(self, words: list[str]) -> dict[str, Any]:
        self.box.set_water(_celsius(words[0], "water", WATER_RANGE_C))
        return self._acted()

    def _probe(self, words: list[str]) -> dict[str, Any]:
        point = words[0].lower()
        if point not in TEST_POINTS:
            raise CommandError(f"unknown test point {words[0]!r} ({', '.join(TEST_POINTS)})")
        return {"point": point, "volts": round(self.bench.test_point_v(point), 3)}


PANEL_KEYS = (
    "heater",
    "filter",
    "bubbles",
    "jets",
    "ozone",
    "uvc",
    "up",
    "down",
    "long-filter",
)
"""The panel keys ``key KEY`` presses (``jets`` only on a model with a jet pump: refused
with the model's name on the others, as its panel has no such key)."""


class PanelCommands(_Commands):
    """The control channel's commands for a served panel (``--role remote``): its keys, its
    display, its faults."""

    role: Role = "remote"

    def __init__(self, remote: VirtualRemote) -> None:
        super().__init__(remote.scheduler.now)
        self.remote = remote
        self.handlers.update(
            {
                "key": ("KEY", self._key),
                "panel": ("", self._panel),
            }
        )

    def display(self) -> dict[str, Any] | None:
        """What the panel shows (None: dark), every field the panel has."""
        shown = self.remote.display
        return None if shown is None else dict(shown._asdict())

    def look(self) -> dict[str, Any]:
        return {"panel": self.display()}

    def _panel(self, _: list[str]) -> dict[str, Any]:
        return {"panel": self.display()}

    def _status(self, _: list[str]) -> dict[str, Any]:
        return {
            "role": self.role,
            "profile": self.remote.profile.name,
            "time": round(self.now(), 3),
            "faults": sorted(self.remote.faults),
            "look": self.look(),
        }

    def _plate(self, _: list[str]) -> dict[str, Any]:
        return _plate(self.remote.profile)

    def _faults(self, _: list[str]) -> dict[str, Any]:
        return {"faults": sorted(self.remote.faults)}

    def _inject(self, words: list[str]) -> dict[str, Any]:
        self.remote.inject(self._fault(words[0]))
        return self._acted()

    def _clear(self, words: list[str]) -> dict[str, Any]:
        self.remote.clear(self._fault(words[0]).partition(":")[0])
        return self._acted()

    def _key(self, words: list[str]) -> dict[str, Any]:
        key = words[0].lower()
        remote = self.remote
        presses: dict[str, Callable[[], Any] | None] = {
            "heater": remote.press_heater,
            "filter": remote.press_filter,
            "bubbles": remote.press_bubbles,
            "jets": remote.press_jets,
            "ozone": remote.press_ozone,
            "uvc": remote.press_uvc,
            "up": remote.setpoint_up,
            "down": remote.setpoint_down,
            # Added to the panel with its F1/A0 codes; refused cleanly on a panel without it.
            "long-filter": getattr(remote, "long_press_filter", None),
        }
        if key not in presses:
            raise CommandError(f"unknown key {words[0]!r} ({', '.join(PANEL_KEYS)})")
        press = presses[key]
        if press is None:
            raise CommandError(f"this panel has no {key} press")
        press()
        return self._acted()


class _Client:
    """One connected client: its link and the part of a line not yet complete."""

    def __init__(self, link: SocketLink) -> None:
        self.link = link
        self.buffer = bytearray()
        self.discarding = False
        """The current line grew beyond :data:`MAX_LINE_BYTES`: drop it up to its newline."""

    def take(self, data: bytes, run: Callable[[bytes], dict[str, Any]]) -> list[dict[str, Any]]:
        """Bytes in; one reply per complete line (too long a line: one error, then skipped)."""
        replies: list[dict[str, Any]] = []
        self.buffer += data
        while True:
            line, newline, rest = bytes(self.buffer).partition(b"\n")
            if not newline:
                if len(self.buffer) > MAX_LINE_BYTES:
                    if not self.discarding:
                        replies.append({"ok": False, "error": "line too long"})
                    self.discarding = True
                    self.buffer.clear()
                return replies
            self.buffer[:] = rest
            if self.discarding or len(line) > MAX_LINE_BYTES:
                if not self.discarding:
                    replies.append({"ok": False, "error": "line too long"})
                self.discarding = False
                continue
            replies.append(run(line))


class ControlServer:
    """The control channel's listening socket and clients, on the serving loop's driver.

    ``commands`` turns one line into one reply (:class:`BoxCommands`/:class:`PanelCommands`).
    ``host``/``port``: where to listen (port 0 picks one; :attr:`address` has the real one).
    """

    def __init__(
        self, driver: Driver, commands: Callable[[str], dict[str, Any]], host: str, port: int
    ) -> None:
        sock, self.address = bind_listener(host, port)
        self.port = int(sock.getsockname()[1])
        self.driver = driver
        self.commands = commands
        self._listener = ListeningSocket(sock, f"control://{self.address}")
        self._clients: dict[int, _Client] = {}
        self.commands_run = 0

    def start(self) -> None:
        self.driver.add_reader(self._listener, self._accept)

    def _accept(self) -> None:
        try:
            client, peer = self._listener.socket.accept()
        except (BlockingIOError, InterruptedError):
            return
        link = SocketLink(client, f"tcp://{peer[0]}:{peer[1]}")
        state = _Client(link)
        self._clients[id(link)] = state
        self.driver.add_reader(link, lambda: self._readable(state))

    def _readable(self, client: _Client) -> None:
        try:
            for reply in client.take(client.link.read(0.0), self._run):
                client.link.write(reply_line(reply))
        except LinkLost:
            self._drop(client.link)

    def _run(self, raw: bytes) -> dict[str, Any]:
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return {"ok": False, "error": "not UTF-8"}
        self.commands_run += 1
        return self.commands(line)

    def _drop(self, link: SocketLink) -> None:
        self.driver.remove_reader(link)
        self._clients.pop(id(link), None)
        link.close()

    def close(self) -> None:
        for client in list(self._clients.values()):
            self._drop(client.link)
        self.driver.remove_reader(self._listener)
        self._listener.close()
