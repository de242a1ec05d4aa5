"""The coverage matrix: does the bench name the right part for every fault of SPEC §5, on
every bench a workshop may have?

A *cell* is one bench (a named instrument set: a meter of each data-sheet spec, a
multimeter only, a person with nothing) and one board profile. In every cell, every fault of
the catalogue that the profile can have (and every mode of a fault with modes) is tested on
virtual units — box faults with the ``full`` plan — at ``seeds`` random ambient temperatures
(5–35 °C) and seeds (sensor noise, meter calibration, which sign a worst-in-spec meter errs
to), and ``healthy`` healthy units are tested too, because a bench that blames a good box
costs as much as one that misses a bad one (SPEC §5). ``panel-dead`` and a healthy panel run
once on the ``panel`` plan, in a column of their own (a panel meets no bench instrument).

Each fault run is classified:

* ``right`` — the diagnosis names exactly the parts that fix the fault (for
  ``prcd-tripped``: none, with the fault itself named);
* ``needs`` — the cell's instruments cannot see this fault, the plan declares so
  (:meth:`bench.testing.plans.Plan.blind_to`), the record says a step needed exactly that
  instrument, and the run named no part (so its summary is never "unit OK");
* ``wrong`` (a part named, not the right one), ``missed`` ("unit OK"), ``error``.

The matrix is ``ok`` when every fault run is ``right`` or ``needs`` and no healthy run
fails. Cases are independent, so they run on a process pool (one worker per core by
default); everything is seeded, so the same arguments give the same matrix.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from bench.testing.diagnosis import diagnose
from bench.testing.instruments.specs import INSTRUMENT_SETS
from bench.testing.plans import Plan, load_plan
from bench.testing.record import TestRecord
from bench.testing.runner import Runner
from bench.testing.targets import Target, virtual_box_target, virtual_panel_target
from protocols.mspa.parts import parts_for_fault

AMBIENT_RANGE_C = (5.0, 35.0)
"""SPEC §5: a healthy box passes across ambient 5–35 °C."""
PANEL = "panel"
"""The profile column of panel cases (a control panel has no board profile)."""
GOOD = ("right", "needs")
"""Fault-run classes that keep the matrix ok."""


@dataclass(frozen=True)
class Case:
    """One virtual unit to test: what is wrong with it, on which bench, where it stands."""

    fault: str | None
    """``id`` or ``id:mode``; None for a healthy unit."""
    role: str
    profile: str
    instruments: str
    """A name of :data:`bench.testing.instruments.specs.INSTRUMENT_SETS`."""
    ambient_c: float
    seed: int


@dataclass(frozen=True)
class Outcome:
    case: Case
    verdict: str
    faults: list[str]
    parts: list[str]
    summary: str
    result: str
    """Fault runs: right | needs | wrong | missed | error; healthy runs: pass | false-fail."""
    seconds: float

    @property
    def ok(self) -> bool:
        return self.result in GOOD or self.result == "pass"


@dataclass
class CoverageResult:
    faults: list[Outcome] = field(default_factory=list)
    healthy: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1

    @property
    def false_fails(self) -> list[Outcome]:
        return [outcome for outcome in self.healthy if not outcome.ok]

    @property
    def bad_faults(self) -> list[Outcome]:
        return [outcome for outcome in self.faults if not outcome.ok]

    @property
    def ok(self) -> bool:
        return not self.bad_faults and not self.false_fails

    @property
    def runs(self) -> int:
        return len(self.faults) + len(self.healthy)

    def box_cells(self) -> int:
        """Cells of the matrix that test boxes (bench × profile; the panel column is not one:
        its cases run once, whatever the benches)."""
        return len({key for key in self.cells() if key[1] != PANEL})

    def count(self, *, panel: bool, healthy: bool) -> int:
        """Runs of boxes (``panel=False``) or of the panel, healthy or with a fault."""
        outcomes = self.healthy if healthy else self.faults
        return sum(1 for outcome in outcomes if (outcome.case.profile == PANEL) == panel)

    def cells(self) -> dict[tuple[str, str], Counter[str]]:
        """``(instruments, profile)`` → counts of each result class in that cell."""
        cells: dict[tuple[str, str], Counter[str]] = {}
        for outcome in [*self.faults, *self.healthy]:
            key = (outcome.case.instruments, outcome.case.profile)
            cells.setdefault(key, Counter())[outcome.result] += 1
        return cells


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


def fault_fits(fault_id: str, profile: str) -> bool:
    """Can a box of ``profile`` have this fault (no UVC fault on a box without a lamp, no
    jet-pump fault on a box without jets)?"""
    from spasim.profiles import load_profile

    if fault_id == "uvc-dead":
        return bool(load_profile(profile).uvc_fitted)
    if fault_id == "ozone-dead":
        return bool(load_profile(profile).ozone_fitted)
    if fault_id == "jet-pump-dead":
        return bool(load_profile(profile).jets_fitted)
    return True


def plan_cases(
    *,
    healthy: int,
    seeds: int = 1,
    seed: int = 0,
    instruments: Sequence[str] | None = None,
    profiles: Sequence[str] | None = None,
) -> list[Case]:
    """The cases of a matrix: per bench × profile, every fitting fault ``seeds`` times and
    ``healthy`` healthy boxes; once, ``panel-dead`` and a healthy panel."""
    from spasim.profiles import available_profiles

    benches = list(instruments or INSTRUMENT_SETS)
    names = list(profiles or available_profiles())
    dice = random.Random(seed)

    def ambient() -> float:
        return round(dice.uniform(*AMBIENT_RANGE_C), 1)

    cases: list[Case] = []
    faults = fault_cases_ids()
    for bench in benches:
        for profile in names:
            for spelling, role in faults:
                if role != "box" or not fault_fits(spelling.partition(":")[0], profile):
                    continue
                for _ in range(seeds):
                    cases.append(
                        Case(spelling, role, profile, bench, ambient(), dice.randrange(1 << 30))
                    )
            for _ in range(healthy):
                cases.append(Case(None, "box", profile, bench, ambient(), dice.randrange(1 << 30)))
    # A control panel on the bench in the box role meets no meter, no sensor noise and no
    # ambient: its cases are the same on every bench, so they run once.
    for spelling, role in faults:
        if role == "remote":
            cases.append(Case(spelling, role, PANEL, benches[0], 20.0, 0))
    cases.append(Case(None, "remote", PANEL, benches[0], 20.0, 0))
    return cases


def build(case: Case) -> Target:
    faults = [] if case.fault is None else [case.fault]
    if case.role == "remote":
        return virtual_panel_target(faults=faults)
    return virtual_box_target(
        case.profile,
        faults=faults,
        seed=case.seed,
        ambient_c=case.ambient_c,
        instruments=INSTRUMENT_SETS[case.instruments],
    )


_PLANS: dict[str, Plan] = {}


def _plan(name: str) -> Plan:
    if name not in _PLANS:
        _PLANS[name] = load_plan(name)
    return _PLANS[name]


def classify(case: Case, record: TestRecord, faults: list[str], plan: Plan) -> str:
    """The result class of one run (see the module doc)."""
    named = sorted({part.part_number for part in record.suspected_parts})
    if case.fault is None:
        return "pass" if record.verdict == "pass" else "false-fail"
    if record.verdict == "error":
        return "error"
    fault_id = case.fault.partition(":")[0]
    expected = sorted(part.number for part in parts_for_fault(fault_id))
    if record.verdict != "pass" and named == expected and fault_id in faults:
        return "right"
    blind = plan.blind_to(INSTRUMENT_SETS[case.instruments])
    said = {step.needs for step in record.steps if step.needs}
    if fault_id in blind and blind[fault_id] in said and not named:
        return "needs"  # blind where the plan says so, and the record says what it needs
    if record.summary == "unit OK":
        return "missed"
    return "wrong"


def run_case(case: Case) -> Outcome:
    plan = _plan(PANEL if case.role == "remote" else "full")
    began = time.perf_counter()
    target = build(case)
    try:
        record = Runner(plan, target, station="coverage", keep_log=False).run()
    finally:
        target.close()
    finding = diagnose(record, plan)
    return Outcome(
        case,
        record.verdict,
        finding.faults,
        sorted({part.part_number for part in record.suspected_parts}),
        record.summary,
        classify(case, record, finding.faults, plan),
        time.perf_counter() - began,
    )


def run_cases(
    cases: Iterable[Case],
    *,
    workers: int | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> CoverageResult:
    """Run ``cases`` on ``workers`` processes (default: one per core; 1 runs in-process)."""
    cases = list(cases)
    workers = max(1, workers or os.cpu_count() or 1)
    result = CoverageResult(workers=workers)
    began = time.perf_counter()

    def collect(outcome: Outcome) -> None:
        (result.healthy if outcome.case.fault is None else result.faults).append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    if workers == 1 or len(cases) < 2:
        for case in cases:
            collect(run_case(case))
    else:
        chunk = max(1, min(32, len(cases) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for outcome in pool.map(run_case, cases, chunksize=chunk):
                collect(outcome)
    result.seconds = time.perf_counter() - began
    return result


def run_coverage(
    *,
    healthy: int = 8,
    seeds: int = 1,
    seed: int = 0,
    instruments: Sequence[str] | None = None,
    profiles: Sequence[str] | None = None,
    workers: int | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> CoverageResult:
    """Build and run the whole matrix (see the module doc)."""
    cases = plan_cases(
        healthy=healthy, seeds=seeds, seed=seed, instruments=instruments, profiles=profiles
    )
    return run_cases(cases, workers=workers, on_outcome=on_outcome)
