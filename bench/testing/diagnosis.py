"""Diagnosis: from the steps that failed to the part a technician should replace.

Every failed step carries the fault ids (SPEC §5) its failure points to — already narrowed
by what the step measured (no flow *and* no pump draw → filter pump; no flow *with* pump draw
→ flow switch). One fault usually makes several steps fail (a dead pump also locks the heater
out and stops the water warming), and a step that passed rules faults out (a pump that draws
normally is not dead). So:

1. every passing step clears the faults its type says a pass rules out;
2. each failed step keeps the suspects not cleared (all of them, if a pass cleared them all —
   contradicting evidence must not hide a failure);
3. the faults that explain the failures are chosen greedily: the fault with the most weight
   (each failed step gives ``1/len(its suspects)`` to each of its suspects, so a step that
   points at one fault counts more than one that points at three) is taken, the failures it
   explains are removed, and so on until every failure is explained. Ties go to the fault
   named by the earliest failed step — the first thing that went wrong is usually the cause.

Two rules sit above the weighing. A noisy line spoils whatever travels on it — a command
that never reached the box looks like a dead load — so when a step found the line itself
noisy, the cable is the one finding and the unit is to be retested after its repair. And an
ERROR verdict (a link lost, an instrument or the operator missing) names no part at all: an
incomplete run is no evidence against any part.

Parts come from the part catalogue (:mod:`protocols.mspa.parts`), whose fault → part map is the SPEC
§5 table with part keys the records store and warranty rules understand. The summary names a
part as a person reads it (:attr:`~protocols.mspa.parts.Part.label`: "B9300929 filter pump",
"PTC heater"), never by a key that is not the maker's number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.testing.plans import Plan
from bench.testing.record import StepResult, SuspectedPart, TestRecord
from protocols.mspa.parts import UnknownPart, lookup, parts_for_fault

NO_PART_ADVICE: dict[str, str] = {
    "prcd-tripped": "reset the PRCD (it was tripped; nothing to replace)",
}


@dataclass
class Finding:
    faults: list[str] = field(default_factory=list)
    parts: list[SuspectedPart] = field(default_factory=list)
    summary: str = ""


def _cleared(record: TestRecord, plan: Plan | None) -> set[str]:
    cleared: set[str] = set()
    if plan is None:
        return cleared
    names = {spec.name: spec for spec in plan.steps}
    for step in record.steps:
        spec = names.get(step.name)
        if step.outcome == "pass" and spec is not None:
            cleared.update(spec.type.clears(spec.params))
    return cleared


def explain(failed: list[StepResult], cleared: set[str]) -> list[tuple[str, list[StepResult]]]:
    """The faults that explain ``failed`` (in choice order), each with the steps it explains."""
    remaining: list[tuple[StepResult, list[str]]] = []
    for step in failed:
        if not step.suspects:
            continue
        kept = [fault for fault in step.suspects if fault not in cleared]
        remaining.append((step, kept or list(step.suspects)))
    chosen: list[tuple[str, list[StepResult]]] = []
    while remaining:
        weight: dict[str, float] = {}
        first: dict[str, int] = {}
        for index, (_, suspects) in enumerate(remaining):
            for fault in suspects:
                weight[fault] = weight.get(fault, 0.0) + 1.0 / len(suspects)
                first.setdefault(fault, index)
        best = max(weight, key=lambda fault: (weight[fault], -first[fault]))
        explained = [step for step, suspects in remaining if best in suspects]
        chosen.append((best, explained))
        remaining = [(step, s) for step, s in remaining if best not in s]
    return chosen


LINE_FAULT = "link-noisy"


def _line_is_noisy(failed: list[StepResult]) -> bool:
    """A step whose failure points at the line alone (link quality, a garbled handshake)."""
    return any(step.suspects == [LINE_FAULT] for step in failed)


def diagnose(record: TestRecord, plan: Plan | None = None) -> Finding:
    """Suspected faults and parts for a finished record, and the technician's first line."""
    failed = [step for step in record.steps if step.outcome == "fail"]
    finding = Finding()
    if record.verdict == "error":
        finding.summary = _summary(record, finding, failed)
        return finding
    if _line_is_noisy(failed):
        noisy = [step for step in failed if LINE_FAULT in step.suspects]
        chosen = [(LINE_FAULT, noisy)]
    else:
        chosen = explain(failed, _cleared(record, plan))
    for fault, steps in chosen:
        finding.faults.append(fault)
        reason = "; ".join(f"{step.title}: {step.message}" for step in steps)
        for part in parts_for_fault(fault):
            finding.parts.append(SuspectedPart(part.number, part.name, fault, reason))
    finding.summary = _summary(record, finding, failed)
    return finding


def _label(part: SuspectedPart) -> str:
    try:
        return lookup(part.part_number).label
    except UnknownPart:
        return part.name or part.part_number


def _summary(record: TestRecord, finding: Finding, failed: list[StepResult]) -> str:
    pieces: list[str] = []
    if finding.parts:
        labels: list[str] = []
        for part in finding.parts:
            label = _label(part)
            if label not in labels:
                labels.append(label)
        pieces.append("replace: " + ", ".join(labels))
    for fault in finding.faults:
        if not parts_for_fault(fault):
            pieces.append(NO_PART_ADVICE.get(fault, f"{fault}: no part to replace"))
    if record.verdict == "error":
        prefix = f"error: {record.error}" if record.error else "error"
        return f"{prefix} — no verdict, no part named"
    if LINE_FAULT in finding.faults:
        pieces.append("retest the unit after the cable is repaired")
    needs = sorted({step.needs for step in record.steps if step.needs})
    untested = [step.name for step in record.steps if step.needs and step.outcome == "skipped"]
    pieces.extend(
        f"{step.name}: no part named — needs {step.needs}" for step in failed if step.needs
    )
    if pieces:
        return "; ".join(pieces)
    if failed:
        names = ", ".join(step.name for step in failed)
        return f"failed ({names}) — no part identified"
    if untested:
        return (
            f"passed what this bench can test; not tested: {', '.join(untested)} "
            f"(needs {' or '.join(needs)})"
        )
    return "unit OK"
