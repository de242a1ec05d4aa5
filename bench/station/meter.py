"""A wired meter read beside a channel's clock, never in its way.

A Modbus meter answers slowly: an SDM120 at its factory 2400 baud needs well over 0.1 s for a
request and its answer, the virtual one on a pty 34 ms. Read in the channel's thread, that
stopped the channel's driver for the whole reading, and the box's reports arriving meanwhile
were stamped late by as much (2 channels with their meters on ptys: report jitter p99 37–46
ms, benchmarks/station.py). A :class:`PacedMeter` reads in the channel's helper thread
(:class:`~bench.station.beside.Beside`) while the driver keeps reading the unit.
"""

from __future__ import annotations

from bench.station.beside import Beside
from bench.testing.instruments.meter import Meter
from protocols.driver import Driver
from protocols.sdm120 import MeterReading


class PacedMeter:
    """``meter``, each :meth:`read` done beside ``driver``; an error of the reading (an
    :class:`~bench.testing.instruments.meter.InstrumentError`) reaches the caller."""

    def __init__(self, meter: Meter, driver: Driver) -> None:
        self.name = meter.name
        self._meter = meter
        self._driver = driver
        self._beside = Beside(f"meter {meter.name}")

    def read(self) -> MeterReading:
        return self._beside.call(self._driver, self._meter.read)

    def close(self) -> None:
        """Close the meter once a reading under way is done (idempotent, as the meter's)."""
        self._beside.call_blocking(self._meter.close)
        self._beside.close()

    def __repr__(self) -> str:
        return f"<PacedMeter {self._meter!r}>"
