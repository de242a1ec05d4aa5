"""What a mains energy meter can and cannot tell: data-sheet limits as named specs.

A bench verdict is only as good as the meter behind it. A real SDM120 reads exactly 0 below
its starting current (20 mA ≈ 4.6 W at 230 V: a spa box's 2 W standby is invisible to it),
is accurate to class 1 of IEC 62053-21 above it (±1 % of the reading from 0.1 Ib, ±1.5 % from
0.05 Ib), has a small offset, some noise, and sends float32 values. A plan written against
a perfect meter would blame good boxes on a real one, so the virtual meters spoil the truth
exactly as the spec allows, and a plan's limits are checked against the declared spec before
it runs (:meth:`MeterSpec.limit_problem`).

Specs (:data:`METER_SPECS`):

* ``ideal`` — the truth, no floor, no error (for developing plans, never for verdicts);
* ``sdm120`` — the Eastron SDM120-Modbus data sheet: starting current 20 mA, class 1 error
  bands, ±0.5 % voltage; a typical unit spends part of each bound on a fixed calibration
  error and part on noise, drawn once per meter from its seed;
* ``worst-in-spec`` — an SDM120 with every error at its limit, all of one sign (the sign
  comes from the seed: even seeds read high, odd seeds low), so coverage runs see both.

Below 0.05 Ib the standard sets no accuracy; the ±2.5 % there and the ±0.3 W offset are our
**[model]** choices (documented in the README). Current is taken as power ÷ voltage (the
box's loads are treated as resistive for the floor).

This module sits in ``protocols`` because both sides need it: the simulator's served meter
and the bench's virtual meter spoil readings with it, the bench checks plan limits with it.
"""

from __future__ import annotations

import math
import random
import struct
from dataclasses import dataclass

from protocols.sdm120 import MeterReading

NOMINAL_VOLTAGE_V = 230.0
"""Mains voltage the bench assumes when it turns a current floor into watts."""


@dataclass(frozen=True)
class MeterSpec:
    """A meter's data-sheet limits, as the bench and the virtual meters use them."""

    name: str
    title: str
    starting_current_a: float = 0.0
    """Below this current the meter reads exactly 0 A and 0 W."""
    bands: tuple[tuple[float, float], ...] = ()
    """``(from current A, relative error bound)``, highest current first."""
    below_bands: float = 0.0
    """Relative error bound below the lowest band (down to the starting current)."""
    offset_w: float = 0.0
    """Absolute power error bound (offset and noise together) above the floor."""
    voltage_error: float = 0.0
    calibration_share: float = 0.0
    """Share of each bound a meter spends on its fixed calibration error (drawn per meter)."""
    noise_share: float = 0.0
    """Share of each bound spent on fresh noise per reading."""
    worst_case: bool = False
    """Every error at its bound, of one sign per meter, no noise."""
    float32: bool = False
    """Values travel as IEEE-754 float32 registers."""
    resolution_a: float = 0.0
    """Smallest current step it shows (a clamp meter's last digit); 0: continuous."""
    current_only: bool = False
    """It measures current only (a clamp meter): power is nominal volts × amps."""
    source: str = ""

    def relative_error(self, current_a: float) -> float:
        """The relative error bound at ``current_a``."""
        for start, error in self.bands:
            if current_a >= start:
                return error
        return self.below_bands

    def floor_w(self, voltage_v: float = NOMINAL_VOLTAGE_V) -> float:
        """The least power it reads (anything below reads 0)."""
        return self.starting_current_a * voltage_v

    def error_w(self, true_w: float, voltage_v: float = NOMINAL_VOLTAGE_V) -> float:
        """Bound of ``|reading − truth|`` for a true draw of ``true_w`` (above the floor)."""
        true_w = abs(true_w)
        if true_w < self.floor_w(voltage_v):
            return true_w  # reads 0
        step = self.resolution_a * voltage_v / 2
        return true_w * self.relative_error(true_w / voltage_v) + self.offset_w + step

    def zero_band_w(self) -> float:
        """The most it can show when nothing beyond its floor is drawn."""
        step = self.resolution_a * NOMINAL_VOLTAGE_V / 2
        return self.floor_w() + self.offset_w + step

    def sees(self, true_w: float) -> bool:
        """Can it tell ``true_w`` from nothing at all?"""
        return self.tells(self.zero_band_w(), true_w)

    def tells(self, threshold_w: float, least_on_w: float) -> bool:
        """Can "reads above ``threshold_w``" tell a load of at least ``least_on_w`` from none?
        Nothing may read above the threshold, and the least load must read above it."""
        if least_on_w <= 0 or least_on_w < self.floor_w():
            return False
        return self.zero_band_w() <= threshold_w < least_on_w - self.error_w(least_on_w)

    def limit_problem(self, low: float | None, high: float | None, *, change: bool) -> str | None:
        """Why limits ``low``..``high`` W are tighter than this meter resolves, or None.

        ``change``: the measurement is the difference of two readings (a load switched on
        against a baseline). A positive low limit must lie at or above the floor (below it a
        draw reads 0 when nothing else runs); a band must be wider than the meter's error at
        both ends (twice that for a change, which spends the error of two readings).
        """
        readings = 2.0 if change else 1.0
        floor = self.floor_w()
        if low is not None and 0 < low < floor:
            return (
                f"low limit {low:g} W is below what the {self.name} meter reads "
                f"(it reads 0 below {floor:.1f} W)"
            )
        if high is not None and 0 < high < self.zero_band_w():
            return (
                f"high limit {high:g} W is inside the {self.name} meter's zero band "
                f"({self.zero_band_w():.1f} W)"
            )
        if low is not None and high is not None:
            needed = readings * (self.error_w(low) + self.error_w(high))
            if high - low < needed:
                return (
                    f"band {low:g}–{high:g} W is narrower than the {self.name} meter resolves "
                    f"there (needs at least {needed:.1f} W)"
                )
        return None


IDEAL = MeterSpec("ideal", "ideal meter: the truth, no floor, no error", source="none")
SDM120 = MeterSpec(
    "sdm120",
    "Eastron SDM120-Modbus, class 1",
    starting_current_a=0.02,
    bands=((0.5, 0.01), (0.25, 0.015)),
    below_bands=0.025,
    offset_w=0.3,
    voltage_error=0.005,
    calibration_share=0.6,
    noise_share=0.2,
    float32=True,
    source="SDM120-Modbus data sheet; IEC 62053-21 class 1; below 0.05 Ib and offset [model]",
)
WORST_IN_SPEC = MeterSpec(
    "worst-in-spec",
    "an SDM120 with every error at its bound, one sign per meter",
    starting_current_a=SDM120.starting_current_a,
    bands=SDM120.bands,
    below_bands=SDM120.below_bands,
    offset_w=SDM120.offset_w,
    voltage_error=SDM120.voltage_error,
    worst_case=True,
    float32=True,
    source=SDM120.source,
)
CLAMP = MeterSpec(
    "clamp",
    "handheld AC clamp meter on the live wire, 0.1 A resolution, read by the technician",
    starting_current_a=0.05,
    bands=((0.0, 0.02),),
    offset_w=0.3 * NOMINAL_VOLTAGE_V,
    calibration_share=0.6,
    noise_share=0.2,
    resolution_a=0.1,
    current_only=True,
    source="typical 100 A-range clamp: ±(2 % + 3 digits), 0.1 A digit [model]",
)
"""Sees the heater and the blower; the pump, ozone generator and UVC lamp are lost in its
last digits, and so is every standby draw."""
METER_SPECS: dict[str, MeterSpec] = {
    spec.name: spec for spec in (IDEAL, SDM120, WORST_IN_SPEC, CLAMP)
}


def meter_spec(name: str) -> MeterSpec:
    """The spec called ``name``; ``ValueError`` lists the known ones."""
    try:
        return METER_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown meter spec {name!r} (known: {', '.join(METER_SPECS)})") from None


def _round_to(value: float, step: float) -> float:
    return round(value / step) * step if step else value


def _float32(value: float) -> float:
    result: float = struct.unpack(">f", struct.pack(">f", value))[0]
    return result


class MeterErrors:
    """One meter's errors under a spec: fixed calibration drawn from ``seed``, fresh noise.

    :meth:`spoil` turns a true reading into what this meter shows. The result always lies
    within the spec's bounds of the truth (:meth:`MeterSpec.error_w`), and the same seed
    gives the same meter.
    """

    def __init__(self, spec: MeterSpec, seed: int = 0) -> None:
        self.spec = spec
        self._random = random.Random(seed)
        self.calibration: tuple[float, float, float]
        if spec.worst_case:
            sign = 1.0 if seed % 2 == 0 else -1.0
            self.calibration = (sign, sign, sign)
            self.offset = sign
        else:
            share = spec.calibration_share
            draw = self._random.uniform
            self.calibration = (draw(-share, share), draw(-share, share), draw(-share, share))
            self.offset = draw(-share, share)

    def _noise(self) -> float:
        share = self.spec.noise_share
        return self._random.uniform(-share, share) if share else 0.0

    def spoil(self, true: MeterReading) -> MeterReading:
        spec = self.spec
        if spec.current_only:
            return self._clamp(true)
        voltage = true.voltage_v * (
            1.0 + spec.voltage_error * (self.calibration[0] + self._noise())
        )
        current, power = abs(true.current_a), true.power_w
        if current < spec.starting_current_a:
            current = power = 0.0
        else:
            relative = spec.relative_error(current)
            current *= 1.0 + relative * (self.calibration[1] + self._noise())
            offset = spec.offset_w * (self.offset + self._noise())
            power = power * (1.0 + relative * (self.calibration[2] + self._noise())) + offset
        if not all(math.isfinite(v) for v in (voltage, current, power)):
            raise ValueError("a meter reading must be finite")
        if spec.float32:
            voltage, current, power = _float32(voltage), _float32(current), _float32(power)
        return MeterReading(voltage_v=voltage, current_a=current, power_w=power)

    def _clamp(self, true: MeterReading) -> MeterReading:
        """A clamp meter: amps only, to its last digit; power is nominal volts × amps."""
        spec = self.spec
        current = abs(true.current_a)
        if current < spec.starting_current_a:
            current = 0.0
        else:
            relative = spec.relative_error(current)
            current *= 1.0 + relative * (self.calibration[1] + self._noise())
            current += spec.offset_w / NOMINAL_VOLTAGE_V * (self.offset + self._noise())
            current = max(0.0, _round_to(current, spec.resolution_a))
        if not math.isfinite(current):
            raise ValueError("a meter reading must be finite")
        return MeterReading(NOMINAL_VOLTAGE_V, current, NOMINAL_VOLTAGE_V * current)
