"""Which bench run shows a repaired unit working: the rule behind status ``verified``.

A customer is told "the unit works" on the strength of one or more bench runs, so the rule is
strict and in one place (the store asks it before writing ``verified``; SQL re-checks the
run it names):

* every part fitted on the order is checked by a *passing* run of ``full`` or of a shipped
  ``verify-*`` plan whose ``verifies`` faults point at that part
  (:data:`protocols.mspa.parts.FAULT_PARTS`);
* each such run started after the last part was fitted (a run made before the part proves
  nothing about it); with no part fitted, a passing ``full`` run started after the order was
  last marked repaired, and a note saying why no part was needed;
* the newest finished run after the repair passed (a later failure is not overruled by an
  earlier pass);
* a run on a simulated unit counts only when the caller explicitly allows it, and the status
  note then says so.

Only the run's plan *name* is on record, so a plan counts by the shipped plan of that name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from bench.records.display import display_time
from bench.records.run_records import RunInfo
from bench.testing.plans import PlanError, available_plans, load_plan
from protocols.mspa.parts import FAULT_PARTS

FULL_PLAN = "full"


@cache
def _verified_by_plan() -> dict[str, frozenset[str]]:
    """Shipped plan name → part numbers its ``verifies`` faults point at."""
    result: dict[str, frozenset[str]] = {}
    for name in available_plans():
        try:
            plan = load_plan(name)
        except PlanError:
            continue
        parts = {number for fault in plan.verifies for number in FAULT_PARTS.get(fault, ())}
        if parts:
            result[name] = frozenset(parts)
    return result


def plans_verifying(part_number: str) -> tuple[str, ...]:
    """The shipped ``verify-*`` plans that check ``part_number``, then ``full``."""
    named = sorted(name for name, parts in _verified_by_plan().items() if part_number in parts)
    return (*named, FULL_PLAN)


def plan_verifies(plan: str, part_number: str) -> bool:
    return plan == FULL_PLAN or part_number in _verified_by_plan().get(plan, frozenset())


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
    """The runs do not show the repaired unit working; the message says what to run."""


def _since(moment: datetime) -> datetime:
    # Runners record their start to the second; a run started in the second the part was
    # recorded counts as after it.
    return moment.replace(microsecond=0)


def check_verification(
    *,
    order_id: int,
    serial: str,
    runs: Sequence[RunInfo],
    parts: Sequence[tuple[str, str, datetime]],
    repaired_at: datetime,
    reason_without_parts: str,
    allow_simulated: bool,
) -> Verified:
    """The runs that verify the order, or :class:`NotVerified` with what is missing.

    ``parts`` are (part number, label for a person, when fitted); ``runs`` are the order's
    runs, oldest first.
    """
    since = _since(max((at for _, _, at in parts), default=repaired_at))
    what = "the last part was fitted" if parts else "the order was marked repaired"
    prefix = f"cannot mark order {order_id} verified:"
    if not parts and not reason_without_parts.strip():
        raise NotVerified(
            f"{prefix} no part was fitted; give a note saying what was done and why no part "
            "was needed (--note ...)"
        )
    after = []
    for run in runs:
        started = run_started(run.started_at)
        finished = run.status in ("pass", "fail", "error")
        if started is not None and started >= since and finished:
            after.append(run)
    counted = [run for run in after if allow_simulated or not run.simulated]
    if counted and counted[-1].status != "pass":
        last = counted[-1]
        raise NotVerified(
            f"{prefix} the newest bench run after the repair, run {last.id} ({last.plan}), "
            f"ended {last.status}; find the cause and run again"
        )
    needs = parts or [("", "the repair", since)]
    chosen: list[tuple[str, int]] = []
    missing: list[str] = []
    for number, label, _ in needs:
        usable = [
            run
            for run in counted
            if run.status == "pass"
            and (plan_verifies(run.plan, number) if number else run.plan == FULL_PLAN)
        ]
        if usable:
            chosen.append((number, usable[-1].id))
            continue
        plans = plans_verifying(number) if number else (FULL_PLAN,)
        plan = plans[0]
        simulated = [
            run.id
            for run in after
            if run.simulated
            and run.status == "pass"
            and (plan_verifies(run.plan, number) if number else run.plan == FULL_PLAN)
        ]
        hint = (
            f" (run {simulated[-1]} passed on a SIMULATED UNIT: add --simulated to accept it)"
            if simulated
            else ""
        )
        missing.append(
            f"{label} has no passing {' or '.join(plans)} run started after {what} "
            f"({display_time(since)}){hint}; run 'spabench run --port PORT --unit {serial} "
            f"--order {order_id} --plan {plan}'"
        )
    if missing:
        raise NotVerified(f"{prefix} {'; '.join(missing)}")
    run_id = max(run for _, run in chosen)
    used = {run for _, run in chosen}
    simulated_used = any(run.simulated for run in counted if run.id in used)
    by_part = tuple((number, run) for number, run in chosen if number)
    return Verified(run_id, by_part, simulated_used)
