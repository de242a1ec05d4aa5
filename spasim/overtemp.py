"""The heater's over-temperature cut: latched at the exact instant the water crosses it.

A firmware polling its sensor once a second would let the water overshoot 42 °C between
polls; SPEC §4 wants "heater energised ⇒ water < 42 °C" at *every* instant. Because the
water follows a closed form between events, the crossing time is known in advance
(:meth:`spasim.physics.Water.time_to_reach`), so the cut is an event at that instant and the
recovery below 40 °C another. Both thresholds sit :data:`CROSSING_MARGIN_C` below the
nominal value so floating-point rounding can never leave the heater on at 42.000 °C.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from protocols.clock import Event, Scheduler

from .physics import Water

CROSSING_MARGIN_C = 1e-6


class OverTemperatureWatch:
    """``latched`` from the cut until the recovery; ``on_change`` runs when an event flips it."""

    def __init__(
        self,
        scheduler: Scheduler,
        water: Water,
        cut_c: float,
        recover_c: float,
        on_change: Callable[[], None],
    ) -> None:
        self._scheduler = scheduler
        self._water = water
        self.cut_c = cut_c - CROSSING_MARGIN_C
        self.recover_c = recover_c - CROSSING_MARGIN_C
        self._on_change = on_change
        self._event: Event | None = None
        self.active = False
        self.latched = False

    @property
    def next_crossing(self) -> float | None:
        return None if self._event is None else self._event.time

    def start(self) -> None:
        """The firmware starts watching (power-on): latched if the water is already too hot."""
        self.active = True
        self.latched = self._water.at(self._scheduler.now()) >= self.cut_c

    def stop(self) -> None:
        self.active = False
        self.latched = False
        self._cancel()

    def rearm(self) -> bool:
        """After the water's inputs changed: re-check the thresholds (a jump in temperature
        crosses them without an event) and schedule the next crossing. True when the latch
        flipped."""
        self._cancel()
        if not self.active:
            return False
        now = self._scheduler.now()
        temperature = self._water.at(now)
        flipped = False
        if not self.latched and temperature >= self.cut_c:
            self.latched = flipped = True
        elif self.latched and temperature <= self.recover_c:
            self.latched = False
            flipped = True
        target = self.recover_c if self.latched else self.cut_c
        delay = self._water.time_to_reach(now, target)
        if delay != math.inf:
            self._event = self._scheduler.call_at(now + delay, self._crossing)
        return flipped

    def _cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def _crossing(self) -> None:
        # The event *is* the crossing: flip without re-reading the (rounded) temperature.
        self._event = None
        self.latched = not self.latched
        self._on_change()
