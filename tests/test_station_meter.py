"""A station channel's wired meter is read beside the channel's clock (bench.station.meter):
while the meter takes its time to answer, the channel's driver keeps running what falls due
(reading the unit's frames as they arrive), and the step still gets the reading — or the
meter's error — when it asks."""

from __future__ import annotations

import threading

import pytest

from bench.station.meter import PacedMeter
from bench.testing.instruments.meter import InstrumentError
from protocols.driver import RealTimeDriver
from protocols.sdm120 import MeterReading

BOUND_S = 10.0
"""Wall seconds a slow meter waits for the driver before it gives up (never when paced)."""


class SlowMeter:
    """Answers only once the driver has run something due after the read began: a read that
    stopped the driver would never be answered (it errors after :data:`BOUND_S`)."""

    name = "slow"

    def __init__(self, fail: bool = False) -> None:
        self.due_ran = threading.Event()
        self.fail = fail
        self.closed_after_answers = 0
        self.answers = 0

    def read(self) -> MeterReading:
        if not self.due_ran.wait(BOUND_S):
            raise InstrumentError("meter slow: the channel's clock stood still meanwhile")
        self.answers += 1
        if self.fail:
            raise InstrumentError("meter slow: no answer from unit 1")
        return MeterReading(230.0, 0.5, 115.0)

    def close(self) -> None:
        self.closed_after_answers = self.answers


def _due_during_read(driver: RealTimeDriver, meter: SlowMeter) -> list[float]:
    ran: list[float] = []

    def due() -> None:
        ran.append(driver.now())
        meter.due_ran.set()

    driver.scheduler.call_at(driver.sim_time() + 0.05, due)
    return ran


def test_the_channel_clock_runs_while_the_meter_answers() -> None:
    driver = RealTimeDriver()
    meter = SlowMeter()
    paced = PacedMeter(meter, driver)
    try:
        ran = _due_during_read(driver, meter)
        asked_at = driver.now()
        assert paced.read() == MeterReading(230.0, 0.5, 115.0)
        assert len(ran) == 1 and ran[0] >= asked_at + 0.05  # it ran when due, during the read
        assert paced.name == "slow"
    finally:
        paced.close()
        driver.close()
    assert meter.closed_after_answers == 1


def test_the_meters_error_reaches_the_step_that_asked() -> None:
    driver = RealTimeDriver()
    meter = SlowMeter(fail=True)
    paced = PacedMeter(meter, driver)
    try:
        _due_during_read(driver, meter)
        with pytest.raises(InstrumentError, match="no answer from unit 1"):
            paced.read()
    finally:
        paced.close()
        driver.close()
