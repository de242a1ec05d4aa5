"""A station channel's slow I/O is done beside its clock (bench.station.beside): while its
wired meter answers, or its records wait for another bench's write lock, the channel's
driver keeps running what falls due (reading the unit's frames as they arrive), and the run
still gets the reading — or the error — and has its step filed when it asks.

Each test makes the slow call wait for something only the channel's driver does: a call
that stopped the driver would wait in vain (and fail after :data:`BOUND_S`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from support.records import SERIAL, filter_pump_failure, register, started

from bench.records.filing import RunFiling
from bench.records.store import Store
from bench.station.beside import Beside
from bench.station.filing import PacedFiling
from bench.station.meter import PacedMeter
from bench.station.session import ChannelStopped
from bench.testing.instruments.meter import InstrumentError
from protocols.driver import RealTimeDriver
from protocols.links import LinkLost
from protocols.sdm120 import MeterReading

BOUND_S = 10.0
"""Wall seconds a slow call waits for the driver before it gives up (never when paced)."""
READING = MeterReading(230.0, 0.5, 115.0)


class SlowMeter:
    """Answers only once the driver has run something due after the read began."""

    name = "slow"

    def __init__(self, fail: bool = False) -> None:
        self.due_ran = threading.Event()
        self.fail = fail
        self.answers = 0
        self.closed_after_answers: int | None = None

    def read(self) -> MeterReading:
        if not self.due_ran.wait(BOUND_S):
            raise InstrumentError("meter slow: the channel's clock stood still meanwhile")
        self.answers += 1
        if self.fail:
            raise InstrumentError("meter slow: no answer from unit 1")
        return READING

    def close(self) -> None:
        self.closed_after_answers = self.answers


def _soon(driver: RealTimeDriver, action: Callable[[], object]) -> list[float]:
    """Run ``action`` on the driver 50 ms from now; the times it ran at."""
    ran: list[float] = []

    def due() -> None:
        ran.append(driver.now())
        action()

    driver.scheduler.call_at(driver.sim_time() + 0.05, due)
    return ran


def _raise(error: BaseException) -> Callable[[], object]:
    def raising() -> object:
        raise error

    return raising


def test_the_channel_clock_runs_while_the_meter_answers() -> None:
    driver = RealTimeDriver()
    meter = SlowMeter()
    paced = PacedMeter(meter, driver)
    try:
        asked_at = driver.now()
        ran = _soon(driver, meter.due_ran.set)
        assert paced.read() == READING
        assert len(ran) == 1 and ran[0] >= asked_at + 0.05  # it ran when due, during the read
        assert paced.name == "slow"
    finally:
        paced.close()
        driver.close()
    assert meter.closed_after_answers == 1  # closed after the reading, not under it


def test_the_meters_error_reaches_the_step_that_asked() -> None:
    driver = RealTimeDriver()
    meter = SlowMeter(fail=True)
    paced = PacedMeter(meter, driver)
    try:
        _soon(driver, meter.due_ran.set)
        with pytest.raises(InstrumentError, match="no answer from unit 1"):
            paced.read()
    finally:
        paced.close()
        driver.close()


def test_a_link_lost_during_a_reading_is_left_to_the_runs_next_wait() -> None:
    """The port remembers its loss (the step's next wait ends it as "link lost"); the
    reading asked for still comes back."""
    driver = RealTimeDriver()
    meter = SlowMeter()
    paced = PacedMeter(meter, driver)
    try:
        _soon(driver, _raise(LinkLost("cable pulled")))
        release = threading.Timer(0.3, meter.due_ran.set)  # the driver stopped at the loss
        release.start()
        assert paced.read() == READING
    finally:
        paced.close()
        driver.close()


def test_a_stop_during_a_call_lets_the_call_finish_first() -> None:
    driver = RealTimeDriver()
    beside = Beside("test")
    finished = threading.Event()
    release = threading.Event()

    def slow() -> None:
        release.wait(BOUND_S)
        finished.set()

    try:
        _soon(driver, _raise(ChannelStopped(2)))
        threading.Timer(0.3, release.set).start()
        with pytest.raises(ChannelStopped):
            beside.call(driver, slow)
        assert finished.is_set()  # raised only once the call was done
    finally:
        beside.close()
        driver.close()


def test_a_step_filed_while_another_bench_holds_the_records_keeps_the_clock_running(
    tmp_path: Path,
) -> None:
    db = tmp_path / "records.sqlite3"
    with Store(db) as setup:
        register(setup)
    record = filter_pump_failure()
    driver = RealTimeDriver()
    records = Beside("records")
    store = records.call_blocking(lambda: Store(db, timeout=BOUND_S))
    filing = RunFiling(store, SERIAL)
    paced = PacedFiling(filing, driver, records)
    other = sqlite3.connect(db, isolation_level=None)  # another bench, mid-write
    try:
        paced.on_started(started(record))
        other.execute("BEGIN IMMEDIATE")
        released = _soon(driver, lambda: other.execute("COMMIT"))
        paced.on_step_finished(record.steps[0])
        assert released, "the step was filed only after the other bench let go"
        assert filing.unfiled is None
    finally:
        other.close()
        records.call_blocking(store.close)
        records.close()
        driver.close()
    with Store(db) as reader:
        assert filing.run_id is not None
        filed = reader.run_record(filing.run_id)
    assert [step.name for step in filed.steps] == [record.steps[0].name]
