"""A driver whose simulated time moves only when someone grants it: reproducible live runs.

The console runs its unit in a worker thread, as it must (the UI never blocks on I/O). Under a
:class:`~protocols.driver.RealTimeDriver` what the screen shows at a given moment depends on
thread timing, so a test could only sleep and hope. :class:`SteppedDriver` keeps the worker
thread — the same code path as production — but time is a budget: the worker runs every event
due within the time granted so far, then waits until :meth:`advance` grants more (or a call
arrives through :meth:`call_soon_threadsafe`). :meth:`advance` returns once the worker has used
the new budget and is idle, so after it the unit is in a known state at a known simulated time.
Tests and screenshots step it; nothing else needs it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from protocols.clock import Scheduler
from protocols.driver import Driver

ADVANCE_TIMEOUT = 30.0
"""Wall seconds :meth:`SteppedDriver.advance` waits for the worker before giving up (a hung
worker must fail a test, not hang it)."""


class WorkerTimeout(RuntimeError):
    """The worker thread did not use the granted time (it is stuck, or nobody runs the driver)."""


class SteppedDriver(Driver):
    """Simulated time advances only as far as :meth:`advance` has granted."""

    def __init__(self, scheduler: Scheduler | None = None) -> None:
        super().__init__(scheduler)
        self._granted = self.scheduler.now()
        self._condition = threading.Condition()
        self._waiting = False
        """The worker is parked: granted time used up, nothing queued."""
        self._released = False

    def _wake(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def _runnable(self) -> bool:
        return bool(self._inbox) or self._released or self._granted > self.scheduler.now()

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        scheduler = self.scheduler
        deadline = math.inf if timeout is None else scheduler.now() + timeout
        while True:
            self._drain_inbox()
            if predicate():
                return True
            limit = deadline if self._released else min(deadline, self._granted)
            upcoming = scheduler.next_time()
            if upcoming is not None and upcoming <= limit:
                scheduler.step()
                continue
            if limit > scheduler.now() and limit != math.inf:
                scheduler.run_until(limit)
                continue
            if scheduler.now() >= deadline or self._released:
                return predicate()
            with self._condition:
                self._waiting = True
                self._condition.notify_all()
                self._condition.wait_for(self._runnable)
                self._waiting = False

    def advance(self, seconds: float, *, timeout: float = ADVANCE_TIMEOUT) -> None:
        """Grant ``seconds`` more of simulated time and return when the worker has used it
        (and handled every queued call) and waits again."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time ({seconds} s)")
        with self._condition:
            self._granted = max(self._granted, self.scheduler.now()) + seconds
            self._condition.notify_all()
            settled = self._condition.wait_for(self._settled, timeout)
        if not settled:
            raise WorkerTimeout(
                f"the driver's worker did not reach t={self._granted:.3f} s within {timeout} s"
            )

    def settle(self, *, timeout: float = ADVANCE_TIMEOUT) -> None:
        """Return when every queued call has run (no time is granted)."""
        self.advance(0.0, timeout=timeout)

    def _settled(self) -> bool:
        if self._released:
            return True
        return self._waiting and not self._inbox and self.scheduler.now() >= self._granted

    def release(self) -> None:
        """Nobody steps this driver any more: from now on time jumps from event to event as
        under a :class:`~protocols.driver.SimulatedDriver`, so a worker that is shutting down
        (switching loads off, letting the burst go out) finishes instead of waiting forever."""
        with self._condition:
            self._released = True
            self._condition.notify_all()
