"""What a bench has to measure with: its instruments as named data-sheet specs.

A bench run's verdict depends on what the bench can observe. Every bench has the link and a
person; some have a mains meter (of a declared spec, :mod:`protocols.meter_model`), most
technicians have a handheld multimeter. Plans adapt to the declared set — a measurement the
bench cannot make becomes another observation that tells the same parts apart, or is
reported as "needs a meter/multimeter" — and plan limits are checked against it before a run
(:meth:`bench.testing.plans.Plan.check_instruments`).

The same specs drive the virtual instruments (the virtual meter spoils readings with the
meter spec; the virtual person reads test points through the multimeter spec) and the
coverage matrix, whose cells are the named sets in :data:`INSTRUMENT_SETS`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from protocols.meter_model import CLAMP, IDEAL, SDM120, WORST_IN_SPEC, MeterSpec, meter_spec


@dataclass(frozen=True)
class MultimeterSpec:
    """A handheld multimeter's accuracy: ``±(relative × reading + digits)`` per function."""

    name: str
    title: str
    dc: tuple[float, float]
    """DC volts: (relative error, absolute error in V from the last digits)."""
    ac: tuple[float, float]
    """AC volts, likewise."""

    def read(self, true_v: float, kind: str, dice: random.Random) -> float:
        """What the technician reads off the display for a true ``true_v`` (``kind`` dc|ac)."""
        relative, digits = self.dc if kind == "dc" else self.ac
        error = abs(true_v) * relative + digits
        return round(max(0.0, true_v + dice.uniform(-error, error)), 2)


DMM = MultimeterSpec(
    "dmm",
    "3½-digit handheld multimeter, 20 V range",
    dc=(0.005, 0.02),
    ac=(0.01, 0.03),
)
"""A common 3½-digit meter on its 20 V range: ±(0.5 % + 2 digits) DC, ±(1 % + 3 digits) AC."""


@dataclass(frozen=True)
class Instruments:
    """What one bench measures with, besides the link and the person."""

    name: str
    meter: MeterSpec | None
    multimeter: MultimeterSpec | None = None

    @property
    def has_meter(self) -> bool:
        return self.meter is not None

    def describe(self) -> str:
        meter = f"meter {self.meter.name}" if self.meter is not None else "no meter"
        multimeter = "multimeter" if self.multimeter is not None else "no multimeter"
        return f"{self.name}: {meter}, {multimeter}, person"

    def meter_sees(self, watts: float) -> bool:
        """Can the meter tell ``watts`` from nothing (False without a meter)?"""
        return self.meter is not None and self.meter.sees(watts)

    def meter_tells(self, threshold_w: float, least_on_w: float) -> bool:
        """Can the meter judge "a load of at least ``least_on_w`` runs" by reading above
        ``threshold_w`` (False without a meter)?"""
        return self.meter is not None and self.meter.tells(threshold_w, least_on_w)

    def meter_judges(self, low: float | None, high: float | None, *, change: bool) -> bool:
        """Does the meter resolve limits ``low``..``high`` W (False without a meter)? A step
        whose limits it does not resolve judges another way (a person, the water)."""
        spec = self.meter
        return spec is not None and spec.limit_problem(low, high, change=change) is None

    def with_meter(self, spec: MeterSpec | None) -> Instruments:
        """The same bench with another meter (None: without one)."""
        if spec == self.meter:
            return self
        if spec is not None:
            return Instruments(spec.name, spec, self.multimeter)
        return Instruments("multimeter" if self.multimeter else "person", None, self.multimeter)


INSTRUMENT_SETS: dict[str, Instruments] = {
    item.name: item
    for item in (
        Instruments("ideal", IDEAL, DMM),
        Instruments("sdm120", SDM120, DMM),
        Instruments("worst-in-spec", WORST_IN_SPEC, DMM),
        Instruments("clamp", CLAMP, DMM),
        Instruments("multimeter", None, DMM),
        Instruments("person", None, None),
    )
}
"""The benches the coverage matrix runs on, by name: a meter of each spec (with a
multimeter), a clamp meter and a multimeter, a multimeter only, and a person with no
instrument at all."""

DEFAULT_INSTRUMENTS = INSTRUMENT_SETS["sdm120"]
"""What a virtual bench has unless told otherwise: a real meter's limits, never an ideal one."""


def instrument_set(name: str) -> Instruments:
    """The named set; ``ValueError`` lists the known ones."""
    try:
        return INSTRUMENT_SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown instrument set {name!r} (known: {', '.join(INSTRUMENT_SETS)})"
        ) from None


def declared_instruments(
    *, meter: str | None, multimeter: bool, name: str | None = None
) -> Instruments:
    """A bench's instruments from its configuration: a meter spec name (None: no meter) and
    whether the technician has a multimeter."""
    spec = None if meter is None else meter_spec(meter)
    label = name or (spec.name if spec is not None else "multimeter" if multimeter else "person")
    return Instruments(label, spec, DMM if multimeter else None)
