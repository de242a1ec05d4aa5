"""``spabench coverage [--runs N] [--seed S]``: the fault × diagnosis matrix on virtual units.

Exit 0 only when every fault of SPEC §5 is detected with the right part named and no healthy
unit fails; 1 otherwise. This is the bench's own acceptance test, runnable by anyone who
changes a plan, a step type or the diagnosis rules.
"""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from protocols.cli_support import EXIT_FAIL, EXIT_OK, Subcommand, UsageError

from .coverage import CoverageResult, Outcome, run_coverage
from .progress import make_console


def _mark(ok: bool) -> Text:
    return Text("yes", style="green") if ok else Text("NO", style="bold red")


def coverage_table(result: CoverageResult) -> Table:
    table = Table(
        title="Fault coverage (full plan; panel plan for panel-dead)", title_justify="left"
    )
    for column in ("fault", "profile", "ambient", "detected", "right part", "diagnosis"):
        table.add_column(column)
    for outcome in result.faults:
        case = outcome.case
        table.add_row(
            case.fault or "",
            case.profile,
            f"{case.ambient_c:.1f} °C",
            _mark(outcome.detected),
            _mark(outcome.right_part),
            outcome.summary,
        )
    return table


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=10, help="healthy boxes to test (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the randomised cases")


def _run(args: argparse.Namespace) -> int:
    if args.runs < 0:
        raise UsageError(f"--runs must not be negative, got {args.runs}")
    console = make_console()
    with console.status("running the coverage matrix…") as status:

        def progress(outcome: Outcome) -> None:
            label = outcome.case.fault or f"healthy {outcome.case.profile}"
            status.update(f"coverage: {label} → {outcome.verdict}")

        result = run_coverage(args.runs, args.seed, on_outcome=progress)
    console.print(coverage_table(result))
    false_fails = result.false_fails
    console.print(
        f"healthy units: {len(result.healthy)} tested, {len(false_fails)} false fail(s)"
        f" — {result.seconds:.1f} s"
    )
    for outcome in false_fails:
        case = outcome.case
        console.print(
            f"  [red]false fail[/red] {case.profile} ambient {case.ambient_c} °C seed {case.seed}: "
            f"{outcome.summary}",
        )
    missed = [o for o in result.faults if not (o.detected and o.right_part)]
    console.print(
        Text(
            "coverage OK"
            if result.ok
            else f"coverage FAILED: {len(missed)} fault(s) missed or misnamed",
            style="bold green" if result.ok else "bold red",
        )
    )
    return EXIT_OK if result.ok else EXIT_FAIL


COMMAND = Subcommand(
    "coverage",
    "check that every catalogue fault is found with the right part (virtual units)",
    _configure,
    _run,
)
