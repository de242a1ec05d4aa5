"""The heater's over-temperature cut, decided on the box's own sensor as a firmware must.

A real firmware has no oracle for the water: it has an NTC read through an ADC, the same
noisy reading, quantised to 0.5 °C, that it reports in ``06``. It polls that reading on its
own schedule (``[sensor] poll_s``) and cuts the heater when the *reading* reaches
``overtemp_cut_c − overtemp_margin_c``; it lets the heater run again once the reading is
below ``overtemp_recover_c``. SPEC §4 invariant 1 ("heater energised ⇒ water < 42 °C") is
about the *true* water, so the margin has to cover everything between the two:

* sensor noise, at most ``[sensor] noise_clip_c`` (±0.3 °C, SPEC §5);
* quantisation: a reading of ``r`` means the noisy value was below ``r + 0.25`` (banker's
  rounding puts an exact half on the lower step);
* what the water can gain before the next poll: the worst heating rate (stage-2 heater,
  no loss — ambient never exceeds 42 °C, so losses only slow the rise — in the smallest
  water the profile allows, ``[thermal] min_litres``) times ``poll_s``.

With the defaults that is 0.3 + 0.25 + 2000 W / (20 L · 4186 J/kg·K) · 1 s ≈ 0.57 °C, so
the margin is 0.6 °C: the heater stops on the first reading of 41.5 °C, when the true water
is at most 41.55 °C and cannot pass 41.58 °C before the cut. :func:`minimum_margin_c`
computes the bound and profile validation refuses a margin below it.
"""

from __future__ import annotations

from spasim.physics import capacity_j_per_k

QUANTUM_C = 0.5
"""The report's resolution: the ``06`` parameter is °C × 2."""


def minimum_margin_c(
    noise_clip_c: float, heater_max_w: float, min_litres: float, poll_s: float
) -> float:
    """The smallest cut margin that keeps the true water below the cut (see module doc)."""
    worst_rate = heater_max_w / capacity_j_per_k(min_litres)
    return noise_clip_c + QUANTUM_C / 2 + worst_rate * poll_s


class OverTemperatureWatch:
    """The firmware's latch: set by a reading at or above the cut threshold, cleared by one
    below the recovery. It only ever sees readings (:meth:`observe`), never the water."""

    __slots__ = ("latched", "recover_c", "threshold_c")

    def __init__(self, cut_c: float, recover_c: float, margin_c: float) -> None:
        self.threshold_c = cut_c - margin_c
        """A reading at or above this cuts the heater."""
        self.recover_c = recover_c
        """A reading below this lets it run again."""
        self.latched = False

    def observe(self, sensed_c: float) -> bool:
        """One poll of the sensor; True when the latch flipped."""
        if not self.latched and sensed_c >= self.threshold_c:
            self.latched = True
            return True
        if self.latched and sensed_c < self.recover_c:
            self.latched = False
            return True
        return False

    def reset(self) -> None:
        """Power loss: the firmware's memory of the latch is gone."""
        self.latched = False
