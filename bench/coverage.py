"""The coverage matrix: does the bench find every fault of SPEC §5, and name the right part?

For every fault in the catalogue (and every mode of a fault with modes) a virtual unit with
that fault is tested — box faults with the ``full`` plan, ``panel-dead`` with the ``panel``
plan on a virtual remote — on a randomised profile, ambient temperature (5–35 °C) and seed
(sensor noise, meter calibration). Then healthy units across the profiles are tested, because
a bench that blames a good box costs as much as one that misses a bad one (SPEC §5).

A fault counts as *detected* when the run does not pass, and its *part is right* when the
parts the diagnosis names are exactly the parts that fix that fault (for ``prcd-tripped``:
none, with the fault itself named). Everything is seeded: the same ``seed`` gives the same
matrix.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from protocols.mspa.parts import parts_for_fault

from .diagnosis import diagnose
from .plans import Plan, load_plan
from .record import TestRecord
from .runner import Runner
from .target import Target, virtual_box_target, virtual_panel_target

AMBIENT_RANGE_C = (5.0, 35.0)
"""SPEC §5: a healthy box passes across ambient 5–35 °C."""


@dataclass
class Case:
    """One virtual unit to test: what is wrong with it and where it stands."""

    fault: str | None
    """``id`` or ``id:mode``; None for a healthy unit."""
    role: str
    profile: str
    ambient_c: float
    seed: int


@dataclass
class Outcome:
    case: Case
    verdict: str
    faults: list[str]
    parts: list[str]
    summary: str
    detected: bool
    right_part: bool
    seconds: float


@dataclass
class CoverageResult:
    faults: list[Outcome] = field(default_factory=list)
    healthy: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def false_fails(self) -> list[Outcome]:
        return [outcome for outcome in self.healthy if outcome.verdict != "pass"]

    @property
    def ok(self) -> bool:
        return all(o.detected and o.right_part for o in self.faults) and not self.false_fails


def fault_cases_ids() -> list[tuple[str, str]]:
    """Every fault of the catalogue as ``(spelling, role)``, one entry per mode."""
    from spasim.faults import CATALOGUE

    cases: list[tuple[str, str]] = []
    for spec in CATALOGUE:
        if spec.modes:
            cases.extend((f"{spec.id}:{mode}", spec.role) for mode in spec.modes)
        else:
            cases.append((spec.id, spec.role))
    return cases


def _profiles_for(fault_id: str) -> list[str]:
    """Profiles on which the fault's part exists (no UVC fault on a box without a lamp)."""
    from spasim.profiles import available_profiles, load_profile

    names = available_profiles()
    if fault_id == "uvc-dead":
        return [n for n in names if load_profile(n).uvc_fitted]
    if fault_id == "ozone-dead":
        return [n for n in names if load_profile(n).ozone_fitted]
    return names


def plan_cases(runs: int, seed: int) -> list[Case]:
    """The cases of a matrix: every fault once, then ``runs`` healthy boxes and a panel."""
    from spasim.profiles import available_profiles

    dice = random.Random(seed)
    cases: list[Case] = []
    for spelling, role in fault_cases_ids():
        fault_id = spelling.partition(":")[0]
        profile = "panel" if role == "remote" else dice.choice(_profiles_for(fault_id))
        cases.append(
            Case(
                spelling,
                role,
                profile,
                round(dice.uniform(*AMBIENT_RANGE_C), 1),
                dice.randrange(1 << 30),
            )
        )
    profiles = available_profiles()
    for index in range(runs):
        cases.append(
            Case(
                None,
                "box",
                profiles[index % len(profiles)],
                round(dice.uniform(*AMBIENT_RANGE_C), 1),
                dice.randrange(1 << 30),
            )
        )
    cases.append(Case(None, "remote", "panel", 20.0, dice.randrange(1 << 30)))
    return cases


def build(case: Case) -> Target:
    faults = [] if case.fault is None else [case.fault]
    if case.role == "remote":
        return virtual_panel_target(faults=faults)
    return virtual_box_target(case.profile, faults=faults, seed=case.seed, ambient_c=case.ambient_c)


def run_case(case: Case, plans: dict[str, Plan]) -> Outcome:
    plan = plans["panel" if case.role == "remote" else "full"]
    began = time.perf_counter()
    target = build(case)
    try:
        record: TestRecord = Runner(plan, target, station="coverage").run()
    finally:
        target.close()
    finding = diagnose(record, plan)
    named = sorted({part.part_number for part in record.suspected_parts})
    if case.fault is None:
        detected, right = record.verdict != "pass", record.verdict == "pass"
    else:
        fault_id = case.fault.partition(":")[0]
        expected = sorted(part.number for part in parts_for_fault(fault_id))
        detected = record.verdict != "pass"
        right = detected and named == expected and fault_id in finding.faults
    return Outcome(
        case,
        record.verdict,
        finding.faults,
        named,
        record.summary,
        detected,
        right,
        time.perf_counter() - began,
    )


def run_coverage(
    runs: int = 10, seed: int = 0, on_outcome: Callable[[Outcome], None] | None = None
) -> CoverageResult:
    """Run the whole matrix (see the module doc)."""
    plans = {"full": load_plan("full"), "panel": load_plan("panel")}
    result = CoverageResult()
    began = time.perf_counter()
    for case in plan_cases(runs, seed):
        outcome = run_case(case, plans)
        (result.healthy if case.fault is None else result.faults).append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    result.seconds = time.perf_counter() - began
    return result
