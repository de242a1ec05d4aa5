"""A wired meter read beside a channel's clock, never in its way.

A Modbus meter answers slowly: an SDM120 at its factory 2400 baud needs well over 0.1 s for
a request and its answer, the virtual one on a pty 34 ms. Read in the channel's thread, that
read stops the channel's real-time driver, so whatever the unit says meanwhile is read — and
timestamped in the record — late by as much (measured: the box's 1 Hz reports 34–50 ms late
around every reading, benchmarks/station.py), and nothing due on the link runs on time. A
:class:`PacedMeter` hands each reading to one helper thread of its own and keeps the driver
running (reading the link, sending what is due) until the reading is back: the step still
gets its reading when it asks, the unit's frames get their true arrival times.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bench.testing.instruments.meter import Meter
from protocols.driver import Driver
from protocols.sdm120 import MeterReading


def _nothing() -> None:
    """Queued on the driver only to wake its wait when a reading is back."""


class PacedMeter:
    """``meter``, each :meth:`read` done in a helper thread while ``driver`` runs on.

    Readings stay one at a time and in order (one helper thread), so the meter's client is
    only ever used by one thread at a time, as before. An exception of the reading (an
    :class:`~bench.testing.instruments.meter.InstrumentError`) is raised in the caller; a
    wait cut short (the station stopping, a lost link) leaves the reading to finish in its
    thread, and :meth:`close` waits for it before closing the meter.
    """

    def __init__(self, meter: Meter, driver: Driver) -> None:
        self.name = meter.name
        self._meter = meter
        self._driver = driver
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"meter {meter.name}")

    def read(self) -> MeterReading:
        reading = self._reader.submit(self._meter.read)
        reading.add_done_callback(lambda _done: self._driver.call_soon_threadsafe(_nothing))
        self._driver.wait_until(reading.done, None)
        return reading.result()

    def close(self) -> None:
        self._reader.shutdown(wait=True)
        self._meter.close()

    def __repr__(self) -> str:
        return f"<PacedMeter {self._meter!r}>"
