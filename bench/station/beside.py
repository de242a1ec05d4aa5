"""A channel's slow I/O done beside its clock: one helper thread, the driver running on.

A station channel runs its plan in one thread on its own real-time driver: while that thread
is in the driver's wait, the unit's bytes are read the moment they arrive and stamped with
their arrival time. Anything else that thread does — waiting for a Modbus meter to answer,
waiting for the records file's write lock while fifteen other channels file their steps —
stops that clock, and whatever the unit says meanwhile is read, and stamped in the record,
late by as much. Measured with 16 channels (benchmarks/station.py): a meter reading 34 ms
(an SDM120 at 2400 baud takes over 0.1 s), a step filed at a moment all channels file theirs
up to 37 ms. :class:`Beside` runs such a call in a helper thread of the channel's own and
keeps the driver running until it is done; the caller still gets its result (or its
exception) when it asks, and calls stay one at a time and in order, so what the helper
thread uses (a meter client, a records connection) is only ever used by that thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from protocols.driver import Driver
from protocols.links import LinkLost

T = TypeVar("T")


def _nothing() -> None:
    """Queued on the driver only to wake its wait when a call is done."""


class Beside:
    """One helper thread for a channel's slow calls (see the module doc)."""

    def __init__(self, name: str) -> None:
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def call(self, driver: Driver, function: Callable[[], T]) -> T:
        """``function()`` in the helper thread while ``driver`` runs on in this one.

        The driver's wait may end early: the unit's link lost (the link remembers it, and the
        run's next wait ends the step as "link lost": it is not this call's to report), or the
        station stopping (a KeyboardInterrupt, raised again once the call is done, so nothing
        the call was writing is left half done).
        """
        done: Future[T] = self._helper.submit(function)
        done.add_done_callback(lambda _done: driver.call_soon_threadsafe(_nothing))
        try:
            driver.wait_until(done.done, None)
        except LinkLost:
            pass
        except BaseException:
            done.exception()  # waits for the call to end, whatever it raised
            raise
        return done.result()

    def call_blocking(self, function: Callable[[], T]) -> T:
        """``function()`` in the helper thread, this thread waiting for it (the driver
        standing still): for calls whose place in the run must not move."""
        return self._helper.submit(function).result()

    def close(self) -> None:
        """Wait for the call under way, if any, and end the helper thread."""
        self._helper.shutdown(wait=True)
