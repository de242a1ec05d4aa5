"""The one clock every component reads time from: a discrete-event scheduler.

Time is *simulated seconds*. Timers, periodic reports and frames in flight are events on a
heap; running the scheduler moves time from one event to the next, so a simulated day costs
only as much as what happens in it. Nothing here reads the wall clock: the drivers in
:mod:`protocols.driver` decide whether time jumps (tests, accelerated runs) or follows the
wall clock at some speed (serving real programs). Firmware code therefore exists once and
behaves identically in both.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any


class Event:
    """A scheduled call; :meth:`cancel` makes it a no-op (it stays on the heap until due)."""

    __slots__ = ("args", "callback", "cancelled", "time")

    def __init__(self, time: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.time = time
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def pending(self) -> bool:
        return not self.cancelled


class Periodic:
    """A repeating call at a fixed period without drift; :meth:`cancel` stops it."""

    __slots__ = ("_event", "_scheduler", "args", "callback", "period")

    def __init__(
        self,
        scheduler: Scheduler,
        period: float,
        first: float,
        callback: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self._scheduler = scheduler
        self.period = period
        self.callback = callback
        self.args = args
        self._event: Event | None = scheduler.call_at(first, self._fire)

    def _fire(self) -> None:
        event = self._event
        assert event is not None
        # Schedule the next one first so the callback may cancel it.
        self._event = self._scheduler.call_at(event.time + self.period, self._fire)
        self.callback(*self.args)

    @property
    def next_time(self) -> float | None:
        return None if self._event is None else self._event.time

    @property
    def pending(self) -> bool:
        return self._event is not None

    def cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None


class Scheduler:
    """Discrete-event core: ``call_at``/``call_later``/``call_every`` and ``run_until``.

    Events due at the same time run in the order they were scheduled. Scheduling in the past
    is clamped to *now* (the event runs next, never backwards in time).
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._heap: list[tuple[float, int, Event]] = []
        self._sequence = itertools.count()
        self.events_run = 0
        """How many events have run (a benchmark figure)."""

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Event:
        if when < self._now:
            when = self._now
        event = Event(when, callback, args)
        heapq.heappush(self._heap, (when, next(self._sequence), event))
        return event

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Event:
        if delay < 0:
            raise ValueError(f"delay must not be negative, got {delay}")
        return self.call_at(self._now + delay, callback, *args)

    def call_every(
        self,
        period: float,
        callback: Callable[..., Any],
        *args: Any,
        first: float | None = None,
    ) -> Periodic:
        """Call every ``period`` seconds, first at ``first`` (absolute; default now + period)."""
        return Periodic(
            self, period, self._now + period if first is None else first, callback, args
        )

    def next_time(self) -> float | None:
        """Time of the next live event, or None when nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def step(self) -> bool:
        """Run the next live event (moving time to it); False when nothing is scheduled."""
        heap = self._heap
        while heap:
            when, _, event = heapq.heappop(heap)
            if event.cancelled:
                continue
            self._now = when
            self.events_run += 1
            event.callback(*event.args)
            return True
        return False

    def run_until(self, when: float) -> None:
        """Run every event due at or before ``when``, then set the time to ``when``."""
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] <= when:
            event_time, _, event = pop(heap)
            if event.cancelled:
                continue
            self._now = event_time
            self.events_run += 1
            event.callback(*event.args)
        if when > self._now:
            self._now = when

    def advance(self, seconds: float) -> None:
        """Run everything in the next ``seconds`` of simulated time."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time ({seconds} s)")
        self.run_until(self._now + seconds)
