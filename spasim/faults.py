"""The fault catalogue of SPEC §5 as data: what breaks and how it shows.

Which part fixes each fault lives in the family's part catalogue
(:mod:`protocols.mspa.parts`), the one table the bench's diagnosis reads too.

The bench must tell these apart from the wire and the meter alone, so each entry carries the
signature a technician would see; the virtual units read only the id (and mode) to decide how
to misbehave. A fault applies to one role: ``box`` faults are injected into a
:class:`spasim.board.VirtualBox`, ``remote`` faults into a virtual remote. A fault with modes
is spelled ``id:mode`` (``prcd-faulty:stuck-open``); the bare id means the first mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from protocols.mspa.parts import parts_for_fault

Role = Literal["box", "remote"]


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One row of the catalogue."""

    id: str
    signature: str
    role: Role = "box"
    modes: tuple[str, ...] = ()
    """Variants of the fault; the first is the default."""
    hardware_bypass: bool = False
    """The fault energises a load the firmware does not drive, so energised-state invariants
    cannot hold for it (they are still checked on what the firmware drives)."""

    @property
    def repair(self) -> str:
        """What fixes it, from the shared part catalogue, as a person reads it: ``"B9300929
        filter pump"`` for the maker's numbers, the name (``"PTC heater"``) for the rest."""
        parts = parts_for_fault(self.id)
        if not parts:
            return "nothing to replace (reset the PRCD)"
        return ", ".join(part.label for part in parts)


@dataclass(frozen=True, slots=True)
class Fault:
    """An injected fault: the catalogue entry and the chosen mode (``""`` when it has none)."""

    spec: FaultSpec
    mode: str = ""

    @property
    def id(self) -> str:
        return self.spec.id

    def __str__(self) -> str:
        default = self.spec.modes[0] if self.spec.modes else ""
        return self.spec.id if self.mode == default else f"{self.spec.id}:{self.mode}"


CATALOGUE: tuple[FaultSpec, ...] = (
    FaultSpec(
        "prcd-tripped",
        "no frames; operator reset restores them",
    ),
    FaultSpec(
        "prcd-faulty",
        "no frames, reset does not restore (stuck-open); or TEST does not stop the unit (no-trip)",
        modes=("no-trip", "stuck-open"),
    ),
    FaultSpec(
        "transformer-dead",
        "PRCD on, meter sees ~0 W standby, no frames",
    ),
    FaultSpec("power-board-dead", "standby draw present, no frames"),
    FaultSpec(
        "filter-pump-dead",
        "filter on: no pump draw, flow stays 0",
    ),
    FaultSpec(
        "flow-switch-stuck-open",
        "pump draws normally, flow stays 0 (08 00), heater locked out, F1 after its time",
    ),
    FaultSpec(
        "inlet-flow-switch-stuck-open",
        "pump draws normally, only the outlet switch closes (08 02), heater locked out, F1",
    ),
    FaultSpec(
        "outlet-flow-switch-stuck-open",
        "pump draws normally, only the inlet switch closes (08 01), heater locked out, F1",
    ),
    FaultSpec(
        "flow-switch-stuck-closed",
        "flow reported with the pump off",
    ),
    FaultSpec(
        "heater-open",
        "heater on with flow: no heater draw, no temperature rise",
    ),
    FaultSpec(
        "heater-relay-welded",
        "heater draw with heater off",
        hardware_bypass=True,
    ),
    FaultSpec(
        "temp-sensor-open",
        "temperature report stuck at 0.0 °C",
    ),
    FaultSpec(
        "temp-sensor-short",
        "temperature report stuck at its maximum (127.5 °C)",
    ),
    FaultSpec("blower-dead", "bubbles on: no blower draw"),
    FaultSpec(
        "check-valve-leak",
        "water reaches the blower: PRCD trips when the blower starts",
    ),
    FaultSpec(
        "knob-reed-switch-stuck",
        "blower runs, operator sees no bubbles, knob at OFF",
    ),
    FaultSpec("ozone-dead", "ozone on: no ozone draw"),
    FaultSpec("uvc-dead", "UVC on: no UVC draw"),
    FaultSpec("jet-pump-dead", "jets on (Elite): no jet-pump draw"),
    FaultSpec("link-noisy", ">1 % frames with bad sums"),
    FaultSpec(
        "panel-dead",
        "a remote under test sends no frames",
        role="remote",
    ),
)

_BY_ID = {spec.id: spec for spec in CATALOGUE}


def fault_ids(role: Role | None = None) -> list[str]:
    """Every catalogue id (in catalogue order), or only those of one role."""
    return [spec.id for spec in CATALOGUE if role is None or spec.role == role]


def fault_spec(fault_id: str) -> FaultSpec:
    """The catalogue entry for a bare id; ``ValueError`` lists the valid ids."""
    try:
        return _BY_ID[fault_id]
    except KeyError:
        raise ValueError(
            f"unknown fault {fault_id!r}: valid faults are {', '.join(fault_ids())}"
        ) from None


def parse_fault(text: str, role: Role | None = None) -> Fault:
    """``"id"`` or ``"id:mode"`` → :class:`Fault`; ``ValueError`` for an unknown id or mode, or
    (with ``role``) a fault that belongs to the other role."""
    fault_id, _, mode = text.partition(":")
    spec = fault_spec(fault_id)
    if role is not None and spec.role != role:
        raise ValueError(f"fault {fault_id!r} applies to a {spec.role}, not a {role}")
    if not mode:
        return Fault(spec, spec.modes[0] if spec.modes else "")
    if mode not in spec.modes:
        if not spec.modes:
            raise ValueError(f"fault {fault_id!r} has no modes, got {text!r}")
        raise ValueError(f"fault {fault_id!r} has modes {', '.join(spec.modes)}, got {mode!r}")
    return Fault(spec, mode)
