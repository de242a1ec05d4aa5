"""``spabench unit add|show``: register a customer's unit and look it up.

A unit is registered once, at its first intake: its purchase date and whether the customer
is the original owner decide every later warranty question, so they are asked for up front
and validated (a date that is not a date, or a profile this bench does not know, is refused).
"""

from __future__ import annotations

import argparse
from datetime import date

from bench.cli.records_support import (
    SafeTable,
    add_db_option,
    console,
    parse_date,
    printable,
    run_with_store,
)
from bench.records.database import utc_now
from bench.records.display import display_time
from bench.records.orders import status_label
from bench.records.store import Store
from bench.records.warranty import explain
from protocols.cli_support import EXIT_OK, Subcommand, UsageError
from protocols.mspa.models import available_models
from protocols.mspa.parts import PART_CLASSES


def date_argument(text: str) -> date:
    """argparse type for ``YYYY-MM-DD`` (a bad date is a one-line usage error)."""
    try:
        return parse_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def check_profile(profile: str) -> str:
    """``profile`` if it names a packaged model file (the records path needs no simulator)."""
    known = available_models()
    if profile not in known:
        raise UsageError(f"unknown profile {profile!r} (one of: {', '.join(known)})")
    return profile


def _configure(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    actions = parser.add_subparsers(dest="unit_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="register a unit (serial, profile, purchase date)")
    add.add_argument("--serial", required=True, help="the unit's serial number")
    add.add_argument("--profile", required=True, help="board profile, e.g. premium-4")
    add.add_argument("--purchase-date", required=True, type=date_argument, metavar="YYYY-MM-DD")
    add.add_argument("--owner", default="", help="the customer's name")
    add.add_argument(
        "--not-original-owner",
        action="store_true",
        help="the customer bought it second-hand (electrical parts lose warranty)",
    )
    add_db_option(add)
    show = actions.add_parser("show", help="a unit with its warranty, orders and runs")
    show.add_argument("serial")
    add_db_option(show)


def _add(store: Store, args: argparse.Namespace) -> int:
    profile = check_profile(args.profile.strip())
    unit = store.add_unit(
        args.serial,
        profile,
        args.purchase_date,
        owner=args.owner,
        original_owner=not args.not_original_owner,
    )
    owner = "original owner" if unit.original_owner else "not the original owner"
    print(
        printable(
            f"unit {unit.serial} registered: {unit.profile}, purchased "
            f"{unit.purchase_date.isoformat()}, {owner}"
        )
    )
    return EXIT_OK


def _show(store: Store, args: argparse.Namespace) -> int:
    unit = store.unit(args.serial)
    out = console()
    facts = SafeTable(show_header=False, box=None)
    facts.add_row("serial", unit.serial)
    facts.add_row("profile", unit.profile)
    facts.add_row("purchased", unit.purchase_date.isoformat())
    facts.add_row("owner", unit.owner or "—")
    facts.add_row("original owner", "yes" if unit.original_owner else "no")
    today = utc_now().astimezone().date()
    for part_class in PART_CLASSES:
        _, explanation = explain(unit.purchase_date, part_class, unit.original_owner, today)
        facts.add_row(f"warranty ({part_class}) today", explanation)
    out.print(facts)
    orders = store.orders(serial=unit.serial)
    if orders:
        table = SafeTable(title="orders")
        for column in ("order", "opened", "status", "symptom"):
            table.add_column(column)
        for order in orders:
            table.add_row(
                str(order.id),
                order.opened_at.astimezone().strftime("%Y-%m-%d"),
                status_label(order.status),
                order.symptom,
            )
        out.print(table)
    runs = store.runs_for_unit(unit.serial)
    if runs:
        last = runs[-1]
        out.print(
            f"{len(runs)} bench run(s); latest: run {last.id} {last.plan} {last.status} "
            f"({display_time(last.started_at)}) — see 'spabench history {unit.serial}'"
        )
    else:
        out.print("no bench runs yet")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.unit_action == "add":
        return run_with_store(args, lambda store: _add(store, args))
    return run_with_store(args, lambda store: _show(store, args), read_only=True)


COMMAND = Subcommand("unit", "register and show customer units (records)", _configure, _run)
