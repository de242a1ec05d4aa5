"""Which bench run shows a repaired unit working: the rule behind status ``verified``.

A customer is told "the unit works" on the strength of one or more bench runs, so the rule is
strict and in one place (the store asks it before writing ``verified`` and again before the
hand-back; SQL re-checks what it can, migration 0003):

* every part fitted on the order is checked by a *passing* run of a shipped plan that checks
  it: a ``verify-*`` plan (or ``panel``) whose ``verifies`` faults point at the part
  (:data:`protocols.mspa.parts.FAULT_PARTS`), or ``full`` when one of its steps rules out such
  a fault (``full`` never exercises a control panel); a part no fault points at (a liner) is
  shown working by a passing ``full``;
* the run really checked it: a run in which every step that checks the part was skipped
  ("no jet fitted") does not count;
* each such run started after the last part was fitted (a run made before the part proves
  nothing about it); with no part fitted, a passing ``full`` run started after the order was
  last marked repaired, and a note saying why no part was needed;
* no failure is overruled: a run that failed since the repair is answered only by a later
  pass of the same plan (or of ``full``), and a part's newest check must have passed;
* a run on a simulated unit counts only when the caller explicitly allows it (the status note
  then says so), and never answers a failure on the real unit.

Only the run's plan *name* is on record, so a plan counts by the shipped plan of that name
(a plan file may not take a shipped plan's name, :func:`bench.testing.plans.load_plan`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from bench.records.advice import ACCEPT_SIMULATED, RUN_PLAN, WRITE_NOTE
from bench.records.display import display_time
from bench.records.run_records import RunInfo
from bench.testing.plans import PlanError, available_plans, load_plan
from protocols.mspa.parts import CATALOGUE, FAULT_PARTS

FULL_PLAN = "full"

StepOutcomes = Mapping[str, str]
"""A run's recorded steps: step name → outcome (``pass``, ``fail``, ``error``, ``skipped``)."""


@cache
def _checks() -> dict[str, dict[str, frozenset[str]]]:
    """Shipped plan name → {part number it verifies → the plan's steps that check the part}.

    A ``verify-*`` plan verifies the parts its ``verifies`` faults point at; ``full`` the parts
    one of its steps rules out a fault of, and those no fault points at. The steps are those
    whose pass rules out such a fault (empty: the plan's pass as a whole is the check).
    """
    result: dict[str, dict[str, frozenset[str]]] = {}
    for name in available_plans():
        try:
            plan = load_plan(name)
        except PlanError:
            continue
        faults = tuple(FAULT_PARTS) if name == FULL_PLAN else plan.verifies
        checks: dict[str, set[str]] = {}
        for fault in faults:
            steps = {step.name for step in plan.steps if fault in step.type.clears(step.params)}
            if name == FULL_PLAN and not steps:
                continue  # full does not check this fault (a panel's): not its parts either
            for number in FAULT_PARTS[fault]:
                checks.setdefault(number, set()).update(steps)
        if name == FULL_PLAN:
            pointed = {number for numbers in FAULT_PARTS.values() for number in numbers}
            for part in CATALOGUE:
                if part.number not in pointed:
                    checks.setdefault(part.number, set())
        if checks:
            result[name] = {number: frozenset(steps) for number, steps in checks.items()}
    return result


def plans_verifying(part_number: str) -> tuple[str, ...]:
    """The shipped plans that check ``part_number``: ``verify-*`` (and ``panel``), then
    ``full`` if it does."""
    named = sorted(
        name for name, parts in _checks().items() if name != FULL_PLAN and part_number in parts
    )
    full = (FULL_PLAN,) if part_number in _checks().get(FULL_PLAN, {}) else ()
    return (*named, *full)


def plan_verifies(plan: str, part_number: str) -> bool:
    return part_number in _checks().get(plan, {})


def checked(plan: str, part_number: str, steps: StepOutcomes | None) -> bool:
    """Whether a *passing* run of ``plan`` with these recorded ``steps`` checked the part: a
    plan that checks it, and unless none of its checking steps is on record (a hand-made
    record), one of them passed (a run that skipped them all did not check the part)."""
    if not plan_verifies(plan, part_number):
        return False
    wanted = _checks()[plan][part_number]
    recorded = [outcome for name, outcome in (steps or {}).items() if name in wanted]
    return not recorded or "pass" in recorded


def run_started(started_at: str) -> datetime | None:
    """A run's recorded start as an aware time (naive text is UTC); None if unreadable."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Verified:
    """The runs that verify the order: ``run_id`` is the one stored with the status (the
    newest of them); ``by_part`` says which run checked which part (empty without parts)."""

    run_id: int
    by_part: tuple[tuple[str, int], ...]
    simulated: bool

    def describe(self, plans: dict[int, str]) -> str:
        """``by run 5 (verify-filter-pump: B9300929)`` for the timeline note."""
        if not self.by_part:
            return f"by run {self.run_id} ({plans[self.run_id]})"
        grouped: dict[int, list[str]] = {}
        for part, run in self.by_part:
            grouped.setdefault(run, []).append(part)
        runs = ", ".join(
            f"run {run} ({plans[run]}: {', '.join(parts)})" for run, parts in grouped.items()
        )
        return f"by {runs}"


class NotVerified(ValueError):
    """The runs do not show the repaired unit working: ``reason`` says what they show and
    ``plan`` which plan to run (the message, for ``verified``, says both)."""

    def __init__(self, message: str, reason: str = "", plan: str = FULL_PLAN) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.plan = plan


def _after(started_at: str, started: datetime, since: datetime) -> bool:
    """Whether a run recorded as started at ``started_at`` began at or after ``since``.

    Runners record their start to the microsecond; records of earlier versions only to the
    second, so such a run started in the second ``since`` falls in counts as after it.
    """
    if "." not in started_at:
        return started >= since.replace(microsecond=0)
    return started >= since


def _answers(later: RunInfo, failed: RunInfo) -> bool:
    """Whether ``later`` answers the failure of ``failed``: a pass of its plan or of full, on
    a real unit when the failure was on one."""
    return (
        later.status == "pass"
        and later.plan in (failed.plan, FULL_PLAN)
        and (failed.simulated or not later.simulated)
    )


def start_order(run: RunInfo) -> tuple[datetime, int]:
    """Where ``run`` falls among an order's runs: when it STARTED, not when it reached the
    records (a bench that was offline uploads its runs late, under higher ids).

    As the schema compares starts (migration 0004, both dialects): rounded to the
    millisecond, a start recorded to the second only taken as the end of its second, the
    run id breaking a tie; a start that cannot be read sorts last.
    """
    started = run_started(run.started_at)
    if started is None:
        return datetime.max.replace(tzinfo=UTC), run.id
    moved = started + timedelta(microseconds=500)
    rounded = moved.replace(microsecond=moved.microsecond // 1000 * 1000)
    if "." not in run.started_at:
        rounded += timedelta(microseconds=999_999)
    return rounded, run.id


def unanswered_failure(runs: Sequence[RunInfo]) -> tuple[RunInfo, str] | None:
    """The first failing run of ``runs`` no run started after it answers, with why not."""
    runs = sorted(runs, key=start_order)
    for index, failed in enumerate(runs):
        if failed.status not in ("fail", "error"):
            continue
        later = runs[index + 1 :]
        if any(_answers(run, failed) for run in later):
            continue
        plans = failed.plan if failed.plan == FULL_PLAN else f"{failed.plan} or {FULL_PLAN}"
        why = (
            f"run {failed.id} ({failed.plan}) ended {failed.status} and no later {plans} run passed"
        )
        if not failed.simulated and any(
            run.simulated and run.status == "pass" and run.plan in (failed.plan, FULL_PLAN)
            for run in later
        ):
            why += " (a run on a SIMULATED UNIT does not overrule a real unit's failure)"
        return failed, why
    return None


def check_verification(
    *,
    order_id: int,
    serial: str,
    runs: Sequence[RunInfo],
    parts: Sequence[tuple[str, str, datetime]],
    repaired_at: datetime,
    reason_without_parts: str,
    allow_simulated: bool,
    steps: Mapping[int, StepOutcomes] | None = None,
) -> Verified:
    """The runs that verify the order, or :class:`NotVerified` with what is missing.

    ``parts`` are (part number, label for a person, when fitted); ``runs`` are the order's
    runs (judged in the order they started, :func:`start_order`); ``steps`` the recorded
    steps of (at least) the passing runs, by run id (a run without them is judged by its
    plan alone).
    """
    since = max((at for _, _, at in parts), default=repaired_at)
    what = "the last part was fitted" if parts else "the order was marked repaired"
    prefix = f"cannot mark order {order_id} verified:"
    if not parts and not reason_without_parts.strip():
        raise NotVerified(
            f"{prefix} no part was fitted; give a note saying what was done and why no part "
            f"was needed {WRITE_NOTE}"
        )
    after = []
    for run in runs:
        started = run_started(run.started_at)
        finished = run.status in ("pass", "fail", "error")
        if started is not None and _after(run.started_at, started, since) and finished:
            after.append(run)
    after.sort(key=start_order)  # "later", "newest": by start, however late it was uploaded
    counted = [run for run in after if allow_simulated or not run.simulated]
    failure = unanswered_failure(counted)
    if failure is not None:
        failed, why = failure
        reason = f"since {what} ({display_time(since)}), {why}"
        raise NotVerified(
            f"{prefix} {reason}; find the cause and run {failed.plan} again", reason, failed.plan
        )
    recorded = steps or {}
    needs = parts or [("", "the repair", since)]
    chosen: list[tuple[str, int]] = []
    missing: list[str] = []
    first_plan = FULL_PLAN
    for number, label, _ in needs:

        def checks(run: RunInfo, number: str = number) -> bool:
            if not number:
                return run.plan == FULL_PLAN
            if run.status != "pass":
                return plan_verifies(run.plan, number)
            return checked(run.plan, number, recorded.get(run.id))

        checking = [run for run in counted if checks(run)]
        if checking and checking[-1].status != "pass":
            newest = checking[-1]
            reason = (
                f"the newest check of {label}, run {newest.id} ({newest.plan}), "
                f"ended {newest.status}"
            )
            raise NotVerified(
                f"{prefix} {reason}; find the cause and run {newest.plan} again",
                reason,
                newest.plan,
            )
        passes = [run for run in checking if run.status == "pass"]
        real = [run for run in passes if not run.simulated]
        if real or passes:
            chosen.append((number, (real or passes)[-1].id))
            continue
        plans = plans_verifying(number) if number else (FULL_PLAN,)
        if not missing:
            first_plan = plans[0] if plans else FULL_PLAN
        simulated = [
            run.id for run in after if run.simulated and run.status == "pass" and checks(run)
        ]
        hint = " " + ACCEPT_SIMULATED.format(run=simulated[-1]) if simulated else ""
        if not plans:
            missing.append(f"{label} is checked by no shipped plan{hint}")
            continue
        missing.append(
            f"{label} has no passing {' or '.join(plans)} run started after {what} "
            f"({display_time(since)}){hint}; "
            + RUN_PLAN.format(unit=serial, order=order_id, plan=plans[0])
        )
    if missing:
        reason = "; ".join(missing)
        raise NotVerified(f"{prefix} {reason}", reason, first_plan)
    run_id = max(run for _, run in chosen)
    used = {run for _, run in chosen}
    simulated_used = any(run.simulated for run in counted if run.id in used)
    by_part = tuple((number, run) for number, run in chosen if number)
    return Verified(run_id, by_part, simulated_used)
