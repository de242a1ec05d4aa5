"""``spabench coverage``: the fault × diagnosis matrix over benches, profiles and seeds.

Exit 0 only when, in every cell (bench × profile), every fault of SPEC §5 is named with the
right part — or, where that bench's instruments cannot see it and the plan says so, reported
as needing an instrument — and no healthy unit fails; 1 otherwise. This is the bench's own
acceptance test, runnable by anyone who changes a plan, a step type, an instrument spec or
the diagnosis rules.
"""

from __future__ import annotations

import argparse
from collections import Counter

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bench.cli.progress import make_console
from bench.testing.coverage import PANEL, CoverageResult, plan_cases, run_cases
from bench.testing.instruments.specs import INSTRUMENT_SETS
from protocols.cli_support import EXIT_FAIL, EXIT_OK, Subcommand, UsageError

DEFAULT_HEALTHY = 40
"""Healthy boxes per cell (bench × profile); the panel's one healthy case comes on top, once.
The help and the closing count both say "healthy boxes" and mean exactly these."""


def _cell(counts: Counter[str]) -> Text:
    if not counts:
        return Text("—", style="dim")  # the panel runs once, in the first bench's row
    fault_runs = sum(counts[k] for k in ("right", "needs", "wrong", "missed", "error"))
    healthy = counts["pass"] + counts["false-fail"]
    bad = fault_runs - counts["right"] - counts["needs"] + counts["false-fail"]
    text = f"{counts['right']}"
    if counts["needs"]:
        text += f"+{counts['needs']}n"
    text += f"/{fault_runs}  {counts['pass']}/{healthy}"
    return Text(text, style="bold red" if bad else "green")


def matrix_table(result: CoverageResult) -> Table:
    """Rows: benches; columns: profiles (and the panel); each cell "faults right(+needs)/runs
    healthy passed/runs"."""
    cells = result.cells()
    benches = list(dict.fromkeys(key[0] for key in cells))
    profiles = list(dict.fromkeys(key[1] for key in cells if key[1] != PANEL))
    if any(key[1] == PANEL for key in cells):
        profiles.append(PANEL)
    table = Table(
        title="Coverage by cell — faults right(+n: needs an instrument, declared)/runs, "
        "healthy passed/runs",
        title_justify="left",
    )
    table.add_column("bench")
    for profile in profiles:
        table.add_column(profile, justify="right")
    for bench in benches:
        table.add_row(bench, *(_cell(cells.get((bench, p), Counter())) for p in profiles))
    return table


def run_counts(result: CoverageResult, healthy_per_cell: int) -> str:
    """The closing count, in the help's words: healthy *boxes* are ``--healthy`` per cell
    (the panel's healthy case is counted with the panel, not with them)."""
    cells = result.box_cells()
    boxes = result.count(panel=False, healthy=True)
    panel_faults = result.count(panel=True, healthy=False)
    panel_healthy = result.count(panel=True, healthy=True)
    panel = (
        f", plus the panel's {panel_faults + panel_healthy} "
        f"({panel_faults} fault, {panel_healthy} healthy)"
        if panel_faults + panel_healthy
        else ""
    )
    return (
        f"{result.runs} runs in {result.seconds:.1f} s on {result.workers} worker(s): "
        f"{result.count(panel=False, healthy=False)} fault runs and {boxes} healthy boxes "
        f"({healthy_per_cell} per cell × {cells} cell{'s' if cells != 1 else ''}){panel}; "
        f"{len(result.false_fails)} false fail(s)"
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--healthy",
        type=int,
        default=DEFAULT_HEALTHY,
        metavar="N",
        help=f"healthy boxes per cell (default {DEFAULT_HEALTHY}); the panel's own two "
        "cases (one healthy) run once besides",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, metavar="K", help="runs of each fault per cell (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the randomised cases")
    parser.add_argument(
        "--instruments",
        action="append",
        choices=sorted(INSTRUMENT_SETS),
        metavar="SET",
        help="bench(es) to cover (repeatable; default all: " + ", ".join(INSTRUMENT_SETS) + ")",
    )
    parser.add_argument(
        "--profile", action="append", metavar="P", help="profile(s) to cover (default all)"
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="processes (default: one per core)"
    )


def _run(args: argparse.Namespace) -> int:
    if not 0 <= args.healthy <= 10_000:
        raise UsageError(f"--healthy must be 0..10000, got {args.healthy}")
    if not 1 <= args.seeds <= 100:
        raise UsageError(f"--seeds must be 1..100, got {args.seeds}")
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise UsageError(f"--workers must be 1..64, got {args.workers}")
    if args.profile:
        from spasim.profiles import available_profiles

        unknown = sorted(set(args.profile) - set(available_profiles()))
        if unknown:
            raise UsageError(f"unknown profile(s) {', '.join(unknown)}")
    console = make_console()
    cases = plan_cases(
        healthy=args.healthy,
        seeds=args.seeds,
        seed=args.seed,
        instruments=args.instruments,
        profiles=args.profile,
    )
    columns = (
        TextColumn("coverage"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[bad]} bad"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("coverage", total=len(cases), bad=0)
        bad = 0

        def advance(outcome: object) -> None:
            nonlocal bad
            bad += 0 if getattr(outcome, "ok", True) else 1
            progress.update(task, advance=1, bad=bad)

        result = run_cases(cases, workers=args.workers, on_outcome=advance)
    console.print(matrix_table(result))
    console.print(run_counts(result, args.healthy), soft_wrap=True)  # one line, for grep
    for outcome in [*result.bad_faults, *result.false_fails]:
        case = outcome.case
        console.print(
            f"  [red]{outcome.result}[/red] {case.fault or 'healthy'} on {case.profile}, "
            f"bench {case.instruments}, ambient {case.ambient_c} °C, seed {case.seed}: "
            f"{outcome.summary}"
        )
    console.print(
        Text(
            "coverage OK"
            if result.ok
            else f"coverage FAILED: {len(result.bad_faults)} fault run(s) misnamed or missed, "
            f"{len(result.false_fails)} false fail(s)",
            style="bold green" if result.ok else "bold red",
        )
    )
    return EXIT_OK if result.ok else EXIT_FAIL


COMMAND = Subcommand(
    "coverage",
    "check every catalogue fault is named with the right part on every bench (virtual units)",
    _configure,
    _run,
)
