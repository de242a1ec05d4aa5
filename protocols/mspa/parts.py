"""The MSpa family's part catalogue: part number → name, part class, and which faults
(SPEC §5) point at it — the one table both the simulator (``spasim faults``) and the bench
(diagnosis, records, warranty, reports) read, so the two can never disagree.

Warranty depends on the *class* of a part (SPEC §6: electrical parts of the control box are
covered 12 months for the original owner, non-electrical parts 6 months), and a customer
report must name what was replaced, so every part the bench can blame or a technician can fit
has exactly one entry here.

Part numbers starting with ``B93`` are the maker's (SPEC §2/§5, verified from the service
manual). The maker publishes no number for the rest, so they carry an internal code starting
with ``SB-`` (spabench) and ``official=False``; reports print "internal code" next to them so
nobody orders a part under an invented number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PartClass = Literal["electrical", "non-electrical"]
PART_CLASSES: tuple[PartClass, ...] = ("electrical", "non-electrical")


@dataclass(frozen=True)
class Part:
    number: str
    name: str
    part_class: PartClass
    official: bool
    """True for the maker's part number, False for an internal ``SB-`` code."""
    plain: str
    """What the part does, in words a customer understands."""

    @property
    def label(self) -> str:
        """``"B9300929 filter pump"`` / ``"SB-PRCD PRCD (internal code)"``."""
        suffix = "" if self.official else " (internal code)"
        return f"{self.number} {self.name}{suffix}"


def _part(number: str, name: str, part_class: PartClass, plain: str) -> Part:
    return Part(number, name, part_class, not number.startswith("SB-"), plain)


CATALOGUE: tuple[Part, ...] = (
    # Maker's numbers (SPEC §2, §5).
    _part("B9301291", "power board", "electrical", "the main circuit board of the control box"),
    _part("B9300933", "transformer", "electrical", "the transformer that powers the electronics"),
    _part("B9300929", "filter pump", "electrical", "the pump that circulates and filters water"),
    # The check valve is a mechanical valve on the air line: no wiring, so not electrical.
    _part(
        "B9301364",
        "check valve",
        "non-electrical",
        "the valve that keeps water out of the air blower",
    ),
    # The knob carries a reed switch wired to the board, so it counts as electrical.
    _part(
        "B9301267",
        "rotation knob",
        "electrical",
        "the knob that switches the air between bubbles and inflation",
    ),
    _part(
        "B9301286",
        "remote circuit board",
        "electrical",
        "the circuit board inside the control panel",
    ),
    _part("B9301287", "Premium control panel", "electrical", "the Premium control panel"),
    _part("B9301288", "Elite control panel", "electrical", "the Elite control panel"),
    # No published number: internal codes.
    _part("SB-PRCD", "PRCD", "electrical", "the safety switch on the mains cord"),
    _part("SB-HEATER", "PTC heater", "electrical", "the water heater"),
    # The heating loop has two reed (flow) switches, one at its inlet and one at its outlet;
    # the box reports each in its own bit of 0x08 and heats only while both are closed.
    _part(
        "SB-FLOW-INLET",
        "inlet flow switch",
        "electrical",
        "the reed switch at the heater's water inlet that tells the box water flows",
    ),
    _part(
        "SB-FLOW-OUTLET",
        "outlet flow switch",
        "electrical",
        "the reed switch at the heater's water outlet that tells the box water flows",
    ),
    _part("SB-TEMP-SENSOR", "temperature sensor", "electrical", "the water temperature sensor"),
    _part("SB-BLOWER", "bubble generator", "electrical", "the air blower that makes the bubbles"),
    _part("SB-O3", "O3 generator", "electrical", "the ozone generator that helps keep water clean"),
    _part("SB-UVC", "UVC lamp", "electrical", "the UV-C lamp that helps keep water clean"),
    _part("SB-JET-PUMP", "jet pump", "electrical", "the jet pump (Elite models)"),
    _part(
        "SB-CABLE",
        "control panel cable / connector",
        "electrical",
        "the cable and plug between the control panel and the box",
    ),
    _part("SB-LINER", "liner", "non-electrical", "the inflatable tub (liner)"),
    _part("SB-COVER", "cover", "non-electrical", "the cover (lid)"),
    _part("SB-HOSES", "hoses", "non-electrical", "the water hoses between the tub and the box"),
    _part("SB-FILTER", "filter cartridge", "non-electrical", "the filter cartridge"),
)

PARTS: dict[str, Part] = {part.number: part for part in CATALOGUE}

# Fault id (SPEC §5) → the part numbers that fix it; empty: nothing to replace.
FAULT_PARTS: dict[str, tuple[str, ...]] = {
    "prcd-tripped": (),
    "prcd-faulty": ("SB-PRCD",),
    "transformer-dead": ("B9300933",),
    "power-board-dead": ("B9301291",),
    "filter-pump-dead": ("B9300929",),
    # Both switches read wrong: either may be the one at fault, so both are named.
    "flow-switch-stuck-open": ("SB-FLOW-INLET", "SB-FLOW-OUTLET"),
    "flow-switch-stuck-closed": ("SB-FLOW-INLET", "SB-FLOW-OUTLET"),
    "inlet-flow-switch-stuck-open": ("SB-FLOW-INLET",),
    "outlet-flow-switch-stuck-open": ("SB-FLOW-OUTLET",),
    "heater-open": ("SB-HEATER",),
    "heater-relay-welded": ("B9301291",),
    "temp-sensor-open": ("SB-TEMP-SENSOR",),
    "temp-sensor-short": ("SB-TEMP-SENSOR",),
    "blower-dead": ("SB-BLOWER",),
    "check-valve-leak": ("B9301364",),
    "knob-reed-switch-stuck": ("B9301267",),
    "ozone-dead": ("SB-O3",),
    "uvc-dead": ("SB-UVC",),
    "jet-pump-dead": ("SB-JET-PUMP",),
    "link-noisy": ("SB-CABLE",),
    "panel-dead": ("B9301287", "B9301288"),
}


class UnknownPart(KeyError):
    """A part number that is not in the catalogue."""

    def __str__(self) -> str:
        return (
            f"unknown part number {self.args[0]!r} (see protocols/mspa/parts.py for the catalogue)"
        )


def lookup(number: str) -> Part:
    """The catalogue entry for ``number`` (case and surrounding spaces ignored)."""
    key = number.strip().upper()
    try:
        return PARTS[key]
    except KeyError:
        raise UnknownPart(number) from None


def parts_for_fault(fault_id: str) -> tuple[Part, ...]:
    """Parts that fix ``fault_id``; empty for faults fixed without a part or unknown ids."""
    return tuple(PARTS[number] for number in FAULT_PARTS.get(fault_id, ()))
