"""Each load as the console shows it: what the bench commanded, what the meter saw it draw,
and how long until the box's own auto-off stops it.

One meter sits on the whole supply, so it cannot say which load draws what. A technician
learns it by switching: read the supply, switch the load on, read again a few seconds later
(:data:`~bench.testing.limits.SETTLE_S`, as a plan's steps do).
:class:`LoadWatch` does exactly that for every switch the console makes (two keys pressed at
once share one window, and say so). The auto-off countdown follows the key-press marker the
bench sends (16 00): the box re-arms a load's timer on every burst that leaves it on.

A draw shown must be a draw now, never a memory of one: a heater listed "+1495 W" after it
was switched off looks exactly like a welded relay. So a measured draw is kept with the level
the load had when it was measured and shown only while the load still runs at that level
(whoever switched it since — a key, a plan, an abort — the draw is forgotten), and only while
the supply still draws at least that much (a PRCD that trips leaves the heater commanded on
but drawing nothing: the column then says "not drawing").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.console.state import LoadView
from bench.testing.instruments.link import RemoteLink
from bench.testing.limits import JETS, LOADS, SETTLE_S
from protocols.clock import Event, Scheduler
from protocols.mspa import RemoteState
from protocols.mspa.values import AUTO_OFF_MINUTES, auto_off_change

MERGE = 0.5
"""Switches closer together than this share one measurement window."""
LABELS = {
    "filter": "Filter",
    "heater": "Heater",
    "blower": "Bubbles",
    "ozone": "Ozone",
    "uvc": "UVC",
    JETS: "Jets",
}


@dataclass(frozen=True)
class AutoOffTimes:
    """The box's auto-off times in seconds (SPEC §2 defaults; a profile may differ)."""

    bubbles: float = AUTO_OFF_MINUTES["bubbles"] * 60.0
    ozone: float = AUTO_OFF_MINUTES["ozone"] * 60.0
    uvc: float = AUTO_OFF_MINUTES["uvc"] * 60.0

    def limit(self, load: str) -> float:
        return {"blower": self.bubbles, "ozone": self.ozone}.get(load, self.uvc)


def is_on(state: RemoteState, load: str) -> bool:
    return level(state, load) > 0


def level(state: RemoteState, load: str) -> int:
    """0 off, 1 on (the bubbles: their level 1–3)."""
    return int(state.bubbles) if load == "blower" else int(bool(getattr(state, load)))


def gone(delta: float, power_w: float) -> bool:
    """The supply now draws clearly less than ``delta``: the load cannot be drawing it (meter
    class 1 and a drifting supply are well inside the margin)."""
    return power_w + max(10.0, 0.2 * delta) < delta


def countdown(seconds: float) -> str:
    """``9:41`` or ``1:59:57``, rounded up (a timer never shows 0:00 while still on)."""
    minutes, rest = divmod(int(max(0.0, seconds) + 0.999), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


@dataclass
class _Window:
    loads: list[str]
    before: float
    event: Event
    opened: float


class LoadWatch:
    """Per-load draw (measured at switch-on) and auto-off timers; driver thread only.

    ``read_power`` reads the meter (None without one), ``guard`` wraps scheduled calls the
    way the session guards its own, ``changed`` asks for a new snapshot.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        link: RemoteLink,
        read_power: Callable[[], float | None],
        *,
        auto_off: AutoOffTimes,
        fitted: Callable[[str], bool | None] | None,
        guard: Callable[..., None],
        changed: Callable[[], None],
    ) -> None:
        self.scheduler = scheduler
        self.link = link
        self.read_power = read_power
        self.auto_off = auto_off
        self.fitted = fitted
        self.guard = guard
        self.changed = changed
        self.deltas: dict[str, tuple[float, int]] = {}
        """Each load's measured draw and the level it ran at when measured."""
        self.shared: set[str] = set()
        """Loads whose draw was measured together with another's (pressed at once)."""
        self.armed: dict[str, float] = {}
        self._levels: dict[str, int] = {}
        """Each timed load's level at the last key press (0: off)."""
        self._window: _Window | None = None
        self.loads: tuple[str, ...] = (*LOADS, JETS) if link.plate.jets_fitted else LOADS
        """The loads the console switches and shows: the jets only where the model plate
        says a jet pump is fitted (the remote duty refuses 0D 01 elsewhere)."""

    def switch(self, changes: dict[str, Any]) -> None:
        """Change loads as a key press and start measuring what that switched on.

        A switch made while the previous one is still settling closes that one's window at
        once, so two quick presses (filter, then heater) are told apart.
        """
        link = self.link
        old = link.state
        now = self.scheduler.now()
        window = self._window
        merged: list[str] = []
        before: float | None = None
        if window is not None and now - window.opened < MERGE:
            # Pressed together: the box cannot have reacted to the first yet; share one window.
            merged, before = window.loads, window.before
            window.event.cancel()
            self._window = None
        elif window is not None:
            before = self.close()
        link.set_loads(**changes)
        new = link.state
        switched_on = [load for load in merged if is_on(new, load)]
        switched_on += [load for load in self.loads if is_on(new, load) and not is_on(old, load)]
        for load in self.loads:
            if level(new, load) != level(old, load):
                # Off, or to another level: what was measured no longer holds. (A new level is
                # not measured again: the window would see only the step between two levels.)
                self.deltas.pop(load, None)
        if switched_on:
            if before is None:
                before = self.read_power()
            if before is not None:
                event = self.scheduler.call_later(SETTLE_S, self.guard, self.close)
                self._window = _Window(switched_on, before, event, now)

    def close(self) -> float | None:
        """Read the supply now and credit the change to the loads last switched on."""
        window, self._window = self._window, None
        if window is None:
            return None
        window.event.cancel()
        after = self.read_power()
        if after is None:
            return None
        state = self.link.state
        on = [load for load in window.loads if is_on(state, load)]
        for load in on:
            self.deltas[load] = (after - window.before, level(state, load))
        self.shared = (self.shared - set(window.loads)) | (set(on) if len(on) > 1 else set())
        self.changed()
        return after

    def key_pressed(self, t: float) -> None:
        """The bench sent 16 00: the box starts a load's auto-off when this press switched
        it on or changed its level; a press that repeats the level leaves the timer running
        (SPEC §4 invariant 3)."""
        state = self.link.state
        for load in ("blower", "ozone", "uvc"):
            level = state.bubbles if load == "blower" else int(is_on(state, load))
            change = auto_off_change(self._levels.get(load, 0), level)
            if change:
                self.armed[load] = t
            elif change is False:
                self.armed.pop(load, None)
            self._levels[load] = level

    def current_delta(self, load: str, state: RemoteState, power_w: float | None) -> float | None:
        """The draw measured when ``load`` was switched on, if it still holds: the load runs at
        the level it was measured at (else the draw is forgotten) and the supply, read now,
        still draws that much. ``power_w`` None (no reading now): nothing is vouched for."""
        measured = self.deltas.get(load)
        if measured is None:
            return None
        delta, measured_level = measured
        if level(state, load) != measured_level:
            del self.deltas[load]  # switched since, by a plan or an abort: a memory, not a draw
            self.shared.discard(load)
            return None
        if power_w is None or gone(delta, power_w):
            return None
        return delta

    def views(self, now: float, power_w: float | None) -> tuple[LoadView, ...]:
        """Every load as shown at ``now``, with the supply's power read last (None: no
        reading)."""
        state = self.link.state
        views = []
        for load in self.loads:
            on = is_on(state, load)
            if load == "blower":
                commanded = f"level {state.bubbles}" if state.bubbles else "off"
            else:
                commanded = "on" if on else "off"
            timer = ""
            armed = self.armed.get(load)
            if on and armed is not None:
                left = armed + self.auto_off.limit(load) - now
                timer = f"off {countdown(left)}" if left > 0 else "timed out"
            delta = self.current_delta(load, state, power_w)
            note = "Δ shared" if load in self.shared and delta is not None else ""
            if delta is None and load in self.deltas and power_w is not None:
                note = "not drawing"
            if load in ("ozone", "uvc") and self.fitted is not None and self.fitted(load) is False:
                note = "not fitted"
            views.append(LoadView(load, LABELS[load], commanded, on, delta, timer, note))
        return tuple(views)
