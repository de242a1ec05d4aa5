"""``spabench history SERIAL``: every bench run of a unit, oldest first.

The status column is what the store says now: ``pass``/``fail``/``error`` for finished runs,
``running`` while the bench process lives, ``interrupted`` once it is gone without finishing.
Unfinished runs are followed by the steps they completed, one line each (not squeezed into a
table cell), since a half-finished diagnosis is still evidence. A run on a simulated unit is
marked ``SIMULATED UNIT`` beside its status: it is never evidence about the customer's box,
and its operator is the "simulated operator" (the report's words: the simulator's virtual
person is nobody at a bench), whatever name the record carries for machines.
A summary stored by an earlier version names parts by today's words (no ``SB-…`` codes).
"""

from __future__ import annotations

import argparse

from bench.cli.records_support import SafeTable, add_db_option, console, run_with_store
from bench.records.database import NotFound
from bench.records.display import display_time
from bench.records.run_records import RunInfo
from bench.records.store import Store
from bench.records.workshop import current_wording, load_workshop
from protocols.cli_support import EXIT_OK, Subcommand

SIMULATED_OPERATOR = "simulated operator"
"""Who ran a test of a simulated unit, as the customer report says it."""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("serial", metavar="SERIAL")
    add_db_option(parser)


def completed_steps(store: Store, run: RunInfo) -> str:
    """``run 7 interrupted after 3 steps: power-on pass, ...`` for a run that did not finish."""
    steps = store.run_steps(run.id)
    done = ", ".join(f"{step.name} {step.outcome}" for step in steps) or "none"
    return f"run {run.id} {run.status} after {len(steps)} completed step(s): {done}"


def _history(store: Store, args: argparse.Namespace) -> int:
    serial = args.serial.strip()
    runs = store.runs_for_unit(serial)
    if not runs and not store.has_unit(serial):
        raise NotFound(f"unknown unit serial {serial!r}")
    unfinished = [completed_steps(store, run) for run in runs if not run.finished]
    workshop = load_workshop()
    out = console()  # everything read first: a damaged file is one line, not half a table
    if not runs:
        out.print(f"unit {serial}: no bench runs yet")
        return EXIT_OK
    table = SafeTable(title=f"bench runs of unit {serial}")
    for column in ("run", "started", "plan", "order", "operator", "status", "steps", "summary"):
        table.add_column(column)
    for run in runs:
        table.add_row(
            str(run.id),
            display_time(run.started_at),
            run.plan,
            "—" if run.order_id is None else str(run.order_id),
            SIMULATED_OPERATOR if run.simulated else run.operator,
            f"{run.status} SIMULATED UNIT" if run.simulated else run.status,
            str(run.steps_done),
            current_wording(run.summary, workshop),
        )
    out.print(table)
    for line in unfinished:
        out.print(line, soft_wrap=True)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    return run_with_store(args, lambda store: _history(store, args), read_only=True)


COMMAND = Subcommand(
    "history", "every bench run of a unit with its status (records)", _configure, _run
)
