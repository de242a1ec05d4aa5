"""What the remote has asked for, as the box firmware remembers it (SPEC §3, §4 invariant 5).

The box never acknowledges a state frame, and the remote repeats its whole state every
7.5 s, so the firmware keeps a small memory per command and judges each frame against it:

* a frame with an out-of-range parameter (bubble level 7, set-point 90, enable 2) or an
  unknown code is *ignored*: it changes nothing, not even the watchdog;
* heater and filter follow the last valid value (a repeat changes nothing by itself);
* heater, filter and, on a model with a jet pump, jets (0x0D 0/1) follow the last valid
  value (0x0D stays "00 only" on models without jets);
* the UVC enable is read on the model's code (0x15, 0x10 or 0x19); on variant B 0x10 is
  both the power-on exchange and the UVC enable (the echo is the protocol duty's,
  :class:`protocols.mspa.box.BoxDuty`);
* the set-point is read in the model's encoding (whole °C, or °C × 2) and range; an odd
  °C × 2 parameter (a half degree) is ignored: the box keeps whole degrees, like its plate
  range and the 1B status frame, and a value it cannot hold changes nothing (SPEC §4 inv. 5);
* the handshake and keep-alive codes are valid with parameter 00 only (the protocol duty
  answers them); ``0B 00`` (the keep-alive, also a long press of Filter) is flagged
  ``RESET``: it clears the panel's error (the board's F1 latch);
* bubbles, ozone and UVC are obeyed on *edges* (:class:`AutoOffRequest`) because they
  switch themselves off: a repeat of the value that already timed out must not restart them.
  SPEC §4 invariant 3: the auto-off runs from the command that switched the load on or
  changed its level; a repeat of the same level — the state cycle or the burst of any key
  press, which ends in 16 00 — neither restarts the load nor re-arms its timer. To start a
  load that timed out the remote sends a different value (the panel's own auto-off mirror
  shows it off, so the next press asks for a level again). On a model whose *remote* times
  the auto-offs (``auto_off_by = "remote"``) the box runs no timer: the remote sends the
  ``off`` itself.

:meth:`RemoteRequests.handle` returns flags so the board can feed the watchdog, reset F1
and re-evaluate its regions without this module knowing about any of them.
"""

from __future__ import annotations

from collections.abc import Callable

from protocols.clock import Event, Scheduler
from protocols.mspa import HANDSHAKE_REPLIES, Command
from protocols.mspa.models import JETS_COMMAND
from protocols.mspa.values import BUBBLE_LEVEL_MAX, decode_setpoint
from spasim.profiles import UVC_VARIANT_B, Profile

IGNORED = 0
"""The frame is not for this firmware or out of range: nothing changes."""
VALID = 1
"""A valid frame (feeds the watchdog)."""
CHANGED = 2
"""What the firmware obeys changed: the regions must be re-evaluated."""
RESET = 8
"""``0B 00``: the remote asks the box to clear the panel's error (F1)."""


class AutoOffRequest:
    """A remote command obeyed on its edges, with an auto-off timer (bubbles, ozone, UVC).

    Only a *change* (a value different from the last one received) switches the load on and
    (re)arms the timer; a repeat, inside a key-press burst or not, changes nothing.
    :meth:`forget` clears the memory (power loss, watchdog fail-safe) so the next frame
    counts as a change again. :attr:`armed_at` tells an observer (the ``simulate`` recorder)
    when the timer last started, so nobody re-derives this rule from what the load did.
    """

    __slots__ = (
        "_event",
        "_on_expire",
        "_scheduler",
        "armed_at",
        "auto_off_s",
        "last_received",
        "value",
    )

    def __init__(
        self, scheduler: Scheduler, auto_off_s: float | None, on_expire: Callable[[], None]
    ) -> None:
        self._scheduler = scheduler
        self.auto_off_s = auto_off_s
        """Seconds the load runs after a change (None: the box runs no timer, the remote
        times the auto-off)."""
        self._on_expire = on_expire
        self._event: Event | None = None
        self.last_received: int | None = None
        """The last value heard from the remote (None: nothing since power-on/fail-safe)."""
        self.value = 0
        """What the firmware obeys now: 0 off, else the level (1 for on/off loads)."""
        self.armed_at: float | None = None
        """When the timer last (re)started: the change that switched the load on or set its
        level. Kept after the load goes off (how long did it run?); None after :meth:`forget`."""

    @property
    def deadline(self) -> float | None:
        """When the running load switches itself off (None when off)."""
        return None if self._event is None else self._event.time

    def receive(self, value: int) -> bool:
        """A state frame arrived; True when it changed what the firmware obeys."""
        if value == self.last_received:
            return False
        self.last_received = value
        self._set(value)
        return True

    def forget(self) -> None:
        self._cancel()
        self.last_received = None
        self.value = 0
        self.armed_at = None

    def _set(self, value: int) -> None:
        self._cancel()
        self.value = value
        if value:
            self.armed_at = self._scheduler.now()
            if self.auto_off_s is not None:
                self._event = self._scheduler.call_later(self.auto_off_s, self._expire)

    def _cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def _expire(self) -> None:
        self._event = None
        self.value = 0
        self._on_expire()


class RemoteRequests:
    """The firmware's memory of the remote's commands and the rules for each frame code."""

    def __init__(
        self, scheduler: Scheduler, profile: Profile, on_expire: Callable[[], None]
    ) -> None:
        self.profile = profile
        self.heater = False
        self.filter = False
        self.jets = False
        box_timed = profile.auto_off_by == "box"
        self.bubbles = AutoOffRequest(
            scheduler, profile.bubble_auto_off_s if box_timed else None, on_expire
        )
        self.ozone = AutoOffRequest(
            scheduler, profile.ozone_auto_off_s if box_timed else None, on_expire
        )
        self.uvc = AutoOffRequest(
            scheduler, profile.uvc_auto_off_s if box_timed else None, on_expire
        )
        self.auto_offs = {"bubbles": self.bubbles, "ozone": self.ozone, "uvc": self.uvc}
        """The commands that switch themselves off, by the panel key that sends them."""
        self.setpoint = profile.setpoint_default_c
        handlers: dict[int, Callable[[int], int]] = {
            Command.HEATER: self._heater,
            Command.FILTER: self._filter,
            Command.BUBBLES: self._bubbles,
            Command.SETPOINT: self._setpoint,
            Command.OZONE: self._ozone,
            Command.KEY_PRESS: self._zero_only,  # a marker: it re-arms nothing (inv. 3)
            Command.CYCLE_0D: self._zero_only,
            Command.BOOT_0F: self._zero_only,
        }
        for command in HANDSHAKE_REPLIES:  # the duty answers these; 00 only
            handlers[command] = self._zero_only
        handlers[Command.KEEPALIVE] = self._keepalive
        if profile.jets_fitted:
            handlers[JETS_COMMAND] = self._jets
        if profile.uvc_command == UVC_VARIANT_B:
            handlers[Command.INIT_10] = self._init_10_uvc
        else:
            handlers[profile.uvc_command] = self._uvc
        self._handlers = handlers

    def handle(self, command: int, parameter: int) -> int:
        """Judge one decoded frame: a combination of ``VALID``/``CHANGED``/``RESET`` flags, or
        ``IGNORED``."""
        handler = self._handlers.get(command)
        return IGNORED if handler is None else handler(parameter)

    def forget(self) -> None:
        """Power loss or fail-safe: every load off, and the next state frames apply again."""
        self.heater = False
        self.filter = False
        self.jets = False
        self.bubbles.forget()
        self.ozone.forget()
        self.uvc.forget()

    def reset(self) -> None:
        """Power-on: :meth:`forget` and the default set-point."""
        self.forget()
        self.setpoint = self.profile.setpoint_default_c

    def _heater(self, parameter: int) -> int:
        if parameter > 1:
            return IGNORED
        if self.heater == bool(parameter):
            return VALID
        self.heater = bool(parameter)
        return VALID | CHANGED

    def _filter(self, parameter: int) -> int:
        if parameter > 1:
            return IGNORED
        if self.filter == bool(parameter):
            return VALID
        self.filter = bool(parameter)
        return VALID | CHANGED

    def _jets(self, parameter: int) -> int:
        if parameter > 1:
            return IGNORED
        if self.jets == bool(parameter):
            return VALID
        self.jets = bool(parameter)
        return VALID | CHANGED

    def _keepalive(self, parameter: int) -> int:
        if parameter != 0:
            return IGNORED
        return VALID | RESET

    def _bubbles(self, parameter: int) -> int:
        if parameter > BUBBLE_LEVEL_MAX:
            return IGNORED
        return VALID | CHANGED if self.bubbles.receive(parameter) else VALID

    def _ozone(self, parameter: int) -> int:
        if parameter > 1:
            return IGNORED
        return VALID | CHANGED if self.ozone.receive(parameter) else VALID

    def _uvc(self, parameter: int) -> int:
        if parameter > 1:
            return IGNORED
        return VALID | CHANGED if self.uvc.receive(parameter) else VALID

    def _init_10_uvc(self, parameter: int) -> int:
        """Variant B: 0x10 0/1 is the UVC enable (the duty still echoes it)."""
        if parameter > 1:
            return IGNORED
        return VALID | CHANGED if self.uvc.receive(parameter) else VALID

    def _setpoint(self, parameter: int) -> int:
        celsius = decode_setpoint(parameter, self.profile)  # the plate's encoding and range
        if celsius is None:
            return IGNORED
        self.setpoint = celsius
        return VALID

    def _zero_only(self, parameter: int) -> int:
        return VALID if parameter == 0 else IGNORED
