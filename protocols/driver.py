"""Drivers run a :class:`~protocols.clock.Scheduler`: jumping through time, or with the wall clock.

* :class:`SimulatedDriver` — time jumps from event to event; a simulated hour of a box takes
  milliseconds. No OS I/O can be waited on (nothing would advance while we waited).
* :class:`RealTimeDriver` — simulated time follows the wall clock scaled by ``speed``
  (``speed=60``: a minute of simulation per wall second); it sleeps in ``select`` on the
  links it serves until the next event is due, so a frame scheduled at simulated time *t*
  leaves at wall time *t/speed* and every duration — report periods, timers, watchdog, the
  wire time of a frame — shrinks by the same factor.

Both offer the same waiting primitive, :meth:`Driver.wait_until`, so the bench and the units
are written once and run unchanged on either.
"""

from __future__ import annotations

import contextlib
import math
import os
import selectors
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Any

from protocols.clock import Scheduler
from protocols.links import Link


def _never() -> bool:
    return False


class Driver(ABC):
    """Runs a scheduler; owns the notion of "waiting" for everything that shares it."""

    def __init__(self, scheduler: Scheduler | None = None) -> None:
        self.scheduler = scheduler if scheduler is not None else Scheduler()
        self._inbox: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()

    def now(self) -> float:
        return self.scheduler.now()

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any) -> None:
        """Queue a call from another thread (a UI, a signal handler); it runs in the driver's
        thread at the next opportunity."""
        self._inbox.append((callback, args))
        self._wake()

    def _wake(self) -> None:  # noqa: B027 - a hook; simulated drivers need no waking
        """Interrupt a wait so queued calls run promptly (real-time drivers override)."""

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            callback, args = inbox.popleft()
            callback(*args)

    @abstractmethod
    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Run the scheduler until ``predicate()`` holds or ``timeout`` simulated seconds pass.

        Returns whether the predicate holds. ``timeout=None`` waits without limit (a simulated
        driver gives up when nothing is left to happen).
        """

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass, running everything due meanwhile."""
        self.wait_until(_never, seconds)

    def add_reader(self, link: Link, on_readable: Callable[[], None]) -> None:
        raise TypeError(f"{type(self).__name__} cannot wait on OS links; use RealTimeDriver")

    def remove_reader(self, link: Link) -> None:
        return None

    def close(self) -> None:
        return None


class SimulatedDriver(Driver):
    """Time jumps from one event to the next: as fast as the events can run."""

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        scheduler = self.scheduler
        deadline = math.inf if timeout is None else scheduler.now() + timeout
        self._drain_inbox()
        if predicate is _never and deadline != math.inf and not self._inbox:
            # sleep(): nothing to test between events, so no per-event predicate call.
            scheduler.run_until(deadline)
            self._drain_inbox()
            return False
        while not predicate():
            upcoming = scheduler.next_time()
            if upcoming is None or upcoming > deadline:
                if deadline != math.inf:
                    scheduler.run_until(deadline)
                return predicate()
            scheduler.step()
            if self._inbox:
                self._drain_inbox()
        return True


class RealTimeDriver(Driver):
    """Simulated time = wall time × ``speed`` from the moment the driver starts."""

    POLL_INTERVAL = 0.002
    """Wall seconds between polls of links that ``select`` cannot watch (loop://, in-process)."""

    SLICE = 0.05
    """Wall seconds of due events run before the links and the inbox are looked at again."""

    MAX_WAIT = 60.0
    """Longest single ``select`` (wall seconds); the loop then recomputes and waits again."""

    def __init__(self, scheduler: Scheduler | None = None, speed: float = 1.0) -> None:
        super().__init__(scheduler)
        if not speed > 0 or math.isinf(speed):
            raise ValueError(f"speed must be a positive finite number, got {speed}")
        self.speed = float(speed)
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._polled: dict[int, tuple[Link, Callable[[], None]]] = {}
        self._registered: dict[int, int] = {}
        self._anchor_wall = time.monotonic()
        self._anchor_sim = self.scheduler.now()
        self._lock = threading.Lock()

    def sim_time(self) -> float:
        """The simulated time the wall clock says it is now."""
        return self._anchor_sim + (time.monotonic() - self._anchor_wall) * self.speed

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"\0")

    def add_reader(self, link: Link, on_readable: Callable[[], None]) -> None:
        fd = link.fileno()
        if fd is None:
            self._polled[id(link)] = (link, on_readable)
        else:
            self._selector.register(fd, selectors.EVENT_READ, on_readable)
            self._registered[id(link)] = fd
        self._wake()

    def remove_reader(self, link: Link) -> None:
        self._polled.pop(id(link), None)
        fd = self._registered.pop(id(link), None)
        if fd is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        scheduler = self.scheduler
        start = max(self.sim_time(), scheduler.now())
        deadline = math.inf if timeout is None else start + timeout
        while True:
            self._drain_inbox()
            now_sim = self.sim_time()
            caught_up = self._run_due(min(now_sim, deadline))
            if predicate():
                return True
            if not caught_up:
                # Behind the wall clock: look at the links and the inbox (a signal's wake-up)
                # before the next slice of due events.
                self._poll_links(0.0, deadline)
                continue
            if now_sim >= deadline:
                return False
            upcoming = scheduler.next_time()
            wake_at = deadline if upcoming is None else min(upcoming, deadline)
            wall_wait = max(0.0, (wake_at - now_sim) / self.speed)
            if self._polled:
                wall_wait = min(wall_wait, self.POLL_INTERVAL)
            self._poll_links(wall_wait, deadline)

    def _run_due(self, until: float) -> bool:
        """Run events due by ``until`` for at most :attr:`SLICE` wall seconds.

        Returns whether every due event ran. A slice, not everything: however far behind
        the loop falls (a burst of work, an overloaded machine), it looks at its links and
        its inbox — where a signal handler's wake-up lands — at least every slice.
        """
        scheduler = self.scheduler
        give_up = time.monotonic() + self.SLICE
        while True:
            upcoming = scheduler.next_time()
            if upcoming is None or upcoming > until:
                scheduler.run_until(until)
                return True
            for _ in range(64):
                if not scheduler.step():
                    break
                upcoming = scheduler.next_time()
                if upcoming is None or upcoming > until:
                    break
            if time.monotonic() >= give_up:
                return False

    def _poll_links(self, wall_wait: float, deadline: float) -> None:
        """Wait up to ``wall_wait`` wall seconds for a link, then run its callbacks."""
        ready = self._selector.select(min(wall_wait, self.MAX_WAIT))
        if ready or self._polled:
            # Callbacks see the scheduler at the time the bytes arrived (or as near as one
            # slice of due events gets it).
            self._run_due(min(self.sim_time(), deadline))
        for key, _ in ready:
            if key.data is None:
                try:
                    while os.read(self._wake_read, 512):
                        pass
                except BlockingIOError:
                    pass
            else:
                key.data()
        for _, on_readable in list(self._polled.values()):
            on_readable()

    def close(self) -> None:
        self._selector.close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
