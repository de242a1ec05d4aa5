"""The discrete-event scheduler and the two drivers that run it."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.sim import in_process_pair

from protocols.clock import Scheduler
from protocols.driver import RealTimeDriver, SimulatedDriver
from protocols.ports import LinkPort, SimCable


def test_events_run_in_time_order_then_fifo() -> None:
    scheduler = Scheduler()
    seen: list[tuple[float, str]] = []
    scheduler.call_at(2.0, lambda: seen.append((scheduler.now(), "b")))
    scheduler.call_at(1.0, lambda: seen.append((scheduler.now(), "a")))
    scheduler.call_at(2.0, lambda: seen.append((scheduler.now(), "c")))
    scheduler.run_until(5.0)
    assert seen == [(1.0, "a"), (2.0, "b"), (2.0, "c")]
    assert scheduler.now() == 5.0


def test_cancelled_event_does_not_run() -> None:
    scheduler = Scheduler()
    fired: list[int] = []
    event = scheduler.call_later(1.0, fired.append, 1)
    event.cancel()
    scheduler.advance(2.0)
    assert fired == []
    assert scheduler.next_time() is None


def test_past_times_are_clamped_to_now() -> None:
    scheduler = Scheduler(start=10.0)
    seen: list[float] = []
    scheduler.call_at(3.0, lambda: seen.append(scheduler.now()))
    scheduler.step()
    assert seen == [10.0]
    with pytest.raises(ValueError):
        scheduler.call_later(-1, lambda: None)
    with pytest.raises(ValueError):
        scheduler.advance(-1)


def test_periodic_has_no_drift_and_can_cancel_itself() -> None:
    scheduler = Scheduler()
    times: list[float] = []

    def tick() -> None:
        times.append(scheduler.now())
        if len(times) == 5:
            periodic.cancel()

    periodic = scheduler.call_every(0.1, tick, first=0.05)
    scheduler.advance(10.0)
    assert times == pytest.approx([0.05, 0.15, 0.25, 0.35, 0.45])
    assert not periodic.pending


@given(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=50))
def test_time_never_goes_backwards(delays: list[float]) -> None:
    scheduler = Scheduler()
    seen: list[float] = []
    for delay in delays:
        scheduler.call_later(delay, lambda: seen.append(scheduler.now()))
    scheduler.run_until(2e6)
    assert seen == sorted(seen)
    assert len(seen) == len(delays)


def test_simulated_driver_wait_until_jumps_time() -> None:
    driver = SimulatedDriver()
    flag = {"set": False}
    driver.scheduler.call_at(3600.0, lambda: flag.update(set=True))
    started = time.perf_counter()
    assert driver.wait_until(lambda: flag["set"], timeout=7200.0)
    assert driver.now() == 3600.0
    assert time.perf_counter() - started < 1.0
    # Timeout: nothing happens, time still reaches the deadline.
    assert not driver.wait_until(lambda: False, timeout=5.0)
    assert driver.now() == 3605.0
    # No events and no timeout: it gives up instead of hanging.
    assert not driver.wait_until(lambda: False, timeout=None)


def test_call_soon_threadsafe_runs_in_driver() -> None:
    driver = SimulatedDriver()
    seen: list[int] = []
    driver.call_soon_threadsafe(seen.append, 7)
    driver.sleep(1.0)
    assert seen == [7]


def test_sim_cable_paces_frames_at_9600_baud() -> None:
    scheduler = Scheduler()
    cable = SimCable(scheduler)
    arrivals: list[tuple[float, bytes]] = []
    cable.remote.on_receive = lambda data: arrivals.append((scheduler.now(), data))
    cable.box.send(b"\xa5\x06\x2f\xda")
    cable.box.send(b"\xa5\x08\x00\xad")
    scheduler.advance(1.0)
    frame_time = 40 / 9600
    assert [t for t, _ in arrivals] == pytest.approx([frame_time, 2 * frame_time])
    assert cable.remote.bytes_received == 8


def test_sim_cable_hook_and_cut() -> None:
    scheduler = Scheduler()
    cable = SimCable(scheduler)
    got: list[bytes] = []
    cable.box.on_receive = got.append
    cable.remote.hook = lambda data: data[:3] + b"\x00"
    cable.remote.send(b"\xa5\x01\x01\xa7")
    scheduler.advance(1)
    assert got == [b"\xa5\x01\x01\x00"]
    cable.cut = True
    cable.remote.send(b"\xa5\x01\x01\xa7")
    scheduler.advance(1)
    assert len(got) == 1


def test_real_time_driver_follows_the_wall_clock_at_speed() -> None:
    driver = RealTimeDriver(speed=100.0)
    try:
        started = time.monotonic()
        driver.sleep(20.0)  # 20 simulated seconds at 100× ≈ 0.2 s of wall time
        elapsed = time.monotonic() - started
        assert 0.15 <= elapsed < 2.0
        assert driver.now() == pytest.approx(20.0, abs=0.5)
    finally:
        driver.close()


def test_real_time_driver_delivers_link_bytes_and_thread_calls() -> None:
    driver = RealTimeDriver(speed=1.0)
    ours, theirs = in_process_pair()
    port = LinkPort(driver, ours)
    received = bytearray()
    port.on_receive = received.extend
    try:
        threading.Timer(0.05, theirs.write, args=(b"\xa5\x06\x2f\xda",)).start()
        assert driver.wait_until(lambda: len(received) == 4, timeout=5.0)
        seen: list[str] = []
        threading.Timer(0.05, driver.call_soon_threadsafe, args=(seen.append, "ui")).start()
        assert driver.wait_until(lambda: seen == ["ui"], timeout=5.0)
        port.send(b"\xa5\x01\x01\xa7")
        driver.sleep(0.05)
        assert theirs.read(1.0) == b"\xa5\x01\x01\xa7"
    finally:
        port.close()
        driver.close()


def test_real_time_driver_rejects_bad_speed() -> None:
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="speed"):
            RealTimeDriver(speed=bad)
