"""The serving loop falls behind the wall clock (too fast a --speed, a loaded machine):
it must still look at its inbox — where a signal handler's wake-up lands — within a slice.
"""

from __future__ import annotations

import threading
import time

from protocols.driver import RealTimeDriver


def test_a_loop_far_behind_still_hears_a_stop_within_a_second() -> None:
    driver = RealTimeDriver(speed=1e6)
    stop: list[bool] = []

    events: list[int] = []

    def busy() -> None:
        total = 0
        for i in range(300):  # a few µs of work: ten times more than the speed allows
            total += i
        events.append(total)
        if len(events) >= 1_500_000:  # bounds the test even for a loop that never looks
            periodic.cancel()

    periodic = driver.scheduler.call_every(1e-6, busy)  # a million events a simulated second

    def signal_soon() -> None:
        time.sleep(0.2)  # a real thread plays the signal handler: wall time is the point
        driver.call_soon_threadsafe(stop.append, True)

    signaller = threading.Thread(target=signal_soon, daemon=True)
    try:
        signaller.start()
        started = time.monotonic()
        assert driver.wait_until(lambda: bool(stop), 1e9)
        # Behaviour, not timing: the stop was heard long before the backlog was worked off
        # (a loop that ran every due event first would take many seconds here).
        assert time.monotonic() - started < 3.0
        assert len(events) < 1_500_000
    finally:
        signaller.join(5.0)
        driver.close()
