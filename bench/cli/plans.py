"""``spabench plans [NAME|PATH]``: what each plan checks, and a plan's steps with their limits.

A technician picks a plan by what it checks, and a service partner reviewing a plan file
wants to see the limits it will apply before running it; both come from the validated plan
data, so what is shown is exactly what will run.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from bench.cli.progress import make_console
from bench.testing.instruments.specs import DEFAULT_INSTRUMENTS, INSTRUMENT_SETS, Instruments
from bench.testing.plans import Plan, PlanError, available_plans, load_plan
from protocols.cli_support import EXIT_OK, Subcommand, UsageError


def plan_table(plan: Plan, instruments: Instruments = DEFAULT_INSTRUMENTS) -> Table:
    """One row per step: type, what it checks, each measurement with its limits on a bench
    with ``instruments`` (what it cannot judge there is said instead)."""
    table = Table(title=f"{plan.name} — {plan.title}", title_justify="left", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("type")
    table.add_column("checks")
    table.add_column("measurements (limits)")
    for index, spec in enumerate(plan.steps, start=1):
        measurements = "\n".join(
            f"{d.name}: {d.limits.text(d.unit)}" for d in spec.declared(instruments)
        )
        notes = []
        lacking = spec.unmeasurable(instruments)
        if lacking:
            notes.append(f"skipped on this bench: needs {lacking}")
        part = spec.needs()
        if part:
            notes.append(f"needs {part}")
        if spec.stop_on_fail:
            notes.append(f"stops plan on fail: {spec.stop_on_fail}")
        checks = spec.describe() + "".join(f"\n[dim]{note}[/dim]" for note in notes)
        table.add_row(
            str(index), f"{spec.name}\n[dim]{spec.title}[/dim]", spec.kind, checks, measurements
        )
    return table


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", nargs="?", metavar="NAME|PATH", help="show this plan's steps")
    parser.add_argument(
        "--instruments",
        metavar="SET",
        default=DEFAULT_INSTRUMENTS.name,
        choices=sorted(INSTRUMENT_SETS),
        help="show the plan as it runs on this bench: "
        + ", ".join(INSTRUMENT_SETS)
        + f" (default: {DEFAULT_INSTRUMENTS.name})",
    )
    parser.add_argument("--no-meter", action="store_true", help="the same bench without its meter")


def _run(args: argparse.Namespace) -> int:
    console = make_console()
    if args.plan:
        try:
            plan = load_plan(args.plan)
        except PlanError as error:
            raise UsageError(str(error)) from None
        instruments = INSTRUMENT_SETS[args.instruments]
        if args.no_meter:
            instruments = instruments.with_meter(None)
        try:
            plan.check_instruments(instruments)
        except PlanError as error:
            raise UsageError(str(error)) from None
        if plan.description:
            console.print(plan.description)
        console.print(f"bench: {instruments.describe()}")
        console.print(plan_table(plan, instruments))
        blind = plan.blind_to(instruments)
        if blind:
            console.print("faults this bench cannot find with this plan:")
            for fault, need in blind.items():
                console.print(f"  {fault}: needs {need}")
        return EXIT_OK
    table = Table(title="Test plans", title_justify="left")
    table.add_column("plan")
    table.add_column("steps", justify="right")
    table.add_column("checks")
    for name in available_plans():
        plan = load_plan(name)
        table.add_row(name, str(len(plan.steps)), f"[bold]{plan.title}[/bold]\n{plan.description}")
    console.print(table)
    return EXIT_OK


COMMAND = Subcommand(
    "plans",
    "list the test plans and what they check (NAME: its steps and limits)",
    _configure,
    _run,
)
