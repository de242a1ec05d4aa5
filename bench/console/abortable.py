"""A driver wrapper that lets the console stop a running job (a plan, a check) at any wait.

A bench plan only ever gives up control inside ``driver.wait_until`` — steps wait for frames,
for the heater to warm, for the operator. So the one safe place to stop a run that the
technician abandons (or a console that is closing) is there: :class:`AbortableDriver` wraps
the session's real driver, and once :meth:`AbortableDriver.abort` is called every wait ends by
raising :class:`JobAborted`. It derives from ``KeyboardInterrupt`` on purpose: the runner
treats that as "the technician stopped the bench" and no step swallows it as an ordinary
error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocols.driver import Driver
from protocols.links import Link


class JobAborted(KeyboardInterrupt):
    """The console stopped the job that was waiting."""


class AbortableDriver(Driver):
    """``inner`` with waits that end in :class:`JobAborted` while an abort is pending."""

    def __init__(self, inner: Driver) -> None:
        super().__init__(inner.scheduler)
        self.inner = inner
        self._aborting = False

    def abort(self) -> None:
        """Make the current and every later wait raise :class:`JobAborted` (thread-safe)."""
        self._aborting = True
        self.inner.call_soon_threadsafe(_nothing)  # wake a wait that sleeps on I/O

    def resume(self) -> None:
        """Waits work again (the job has unwound)."""
        self._aborting = False

    @property
    def aborting(self) -> bool:
        return self._aborting

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any) -> None:
        self.inner.call_soon_threadsafe(callback, *args)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        if self._aborting:
            raise JobAborted
        held = self.inner.wait_until(lambda: self._aborting or predicate(), timeout)
        if self._aborting:
            raise JobAborted
        return held

    def add_reader(self, link: Link, on_readable: Callable[[], None]) -> None:
        self.inner.add_reader(link, on_readable)

    def remove_reader(self, link: Link) -> None:
        self.inner.remove_reader(link)

    def close(self) -> None:
        self.inner.close()


def _nothing() -> None:
    return None
