"""``spabench order ...``: the service desk — intake, agreed work, status, contacts, parts,
hand-back.

Every change is time-stamped and carries who made it (``--by``, defaulting to the logged-in
user), because a service order is evidence in a warranty dispute. The workflow's rules live in
the store (:mod:`bench.records.order_records`), so this command and the console cannot
disagree: a refusal is one line with the reason and what to do instead. ``--received-at`` and
``--at`` date an event in the past, for importing paper records.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from bench.cli.records_support import SafeTable, add_db_option, console, run_with_store
from bench.cli.unit import date_argument
from bench.records.database import default_actor
from bench.records.display import display_date, display_time
from bench.records.orders import (
    AGREEMENTS,
    MAX_PART_QUANTITY,
    MAX_QUOTE_CENTS,
    STATUSES,
    VIAS,
    Order,
    overdue_orders,
    overdue_reasons,
    parse_id,
    status_label,
)
from bench.records.store import Store
from bench.records.warranty import explain
from bench.records.workshop import current_wording, load_workshop, part_label
from protocols.cli_support import EXIT_OK, Subcommand
from protocols.mspa.parts import lookup

SIMULATED_UNIT = "SIMULATED UNIT"
"""How a run on a simulated unit is marked wherever a person reads runs."""


def quote_argument(text: str) -> int:
    """``120``, ``120.5``, ``120.50`` → cents; 0 to 1,000,000,000 with at most two decimals."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    in_range = amount.is_finite() and 0 <= amount <= Decimal(MAX_QUOTE_CENTS) / 100
    cents = amount * 100 if in_range else Decimal(-1)
    if not in_range or cents != int(cents):
        raise argparse.ArgumentTypeError(
            f"an amount must be 0–{MAX_QUOTE_CENTS // 100} with at most two decimals, got {text!r}"
        )
    return int(cents)


def id_argument(text: str) -> int:
    """argparse type for an order id: 1..2^63-1."""
    try:
        return parse_id(text, "an order id")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def moment_argument(text: str) -> datetime:
    """argparse type for a moment: ``YYYY-MM-DD HH:MM`` (this PC's local time) or ISO 8601,
    with or without a UTC offset.

    A local time a clock change skips (spring) or repeats (autumn) names no single moment, so
    it is refused, asking for the offset; so is a moment the calendar cannot hold in UTC.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a moment (YYYY-MM-DD HH:MM or ISO 8601): {text!r}"
        ) from None
    if len(text.strip()) <= 10:
        raise argparse.ArgumentTypeError(f"give the time too (YYYY-MM-DD HH:MM): {text!r}")
    try:
        if moment.tzinfo is None:
            earlier, later = moment.astimezone(), moment.replace(fold=1).astimezone()
            if earlier.utcoffset() != later.utcoffset():
                exists = earlier.replace(tzinfo=None) == moment
                happens = "happens twice" if exists else "does not exist"
                raise argparse.ArgumentTypeError(
                    f"{text!r} {happens} in this PC's time zone (a clock change): give the UTC "
                    f"offset, e.g. {moment:%Y-%m-%d %H:%M}{_offset(earlier)}"
                )
            moment = earlier
        moment.astimezone(UTC)  # the calendar must hold it in UTC too
    except (OverflowError, OSError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range (years 1–9999, in UTC too)"
        ) from None
    return moment


def _offset(moment: datetime) -> str:
    """``+01:00`` for a moment's UTC offset."""
    return moment.isoformat()[-6:]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    if value > MAX_PART_QUANTITY:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PART_QUANTITY}, got {value}")
    return value


def _by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", default=None, help="who makes the change (default: you)")


def _at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        type=moment_argument,
        metavar="WHEN",
        default=None,
        help="when it happened, for importing paper records (YYYY-MM-DD HH:MM; default: now;"
        " never before the order's previous event)",
    )


def _via(
    parser: argparse.ArgumentParser, default: str | None, what: str, *, required: bool = False
) -> None:
    parser.add_argument("--via", choices=VIAS, default=default, required=required, help=what)


def _configure(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    actions = parser.add_subparsers(dest="order_action", metavar="ACTION", required=True)

    opened = actions.add_parser("open", help="intake: open an order, print its id")
    opened.add_argument("--serial", required=True)
    opened.add_argument("--symptom", required=True, help="what the customer said, in their words")
    opened.add_argument(
        "--agreement",
        choices=AGREEMENTS,
        default="diagnosis",
        help="what the customer agreed to at intake (change it later with 'order agree')",
    )
    opened.add_argument("--quote", type=quote_argument, metavar="AMOUNT", default=None)
    opened.add_argument("--promised", type=date_argument, metavar="YYYY-MM-DD", default=None)
    opened.add_argument(
        "--received-at",
        type=moment_argument,
        metavar="WHEN",
        default=None,
        help="backdated intake, for importing paper records (YYYY-MM-DD HH:MM; not in the"
        " future, not before the purchase date)",
    )
    _by(opened)

    show = actions.add_parser("show", help="an order with its timeline, contacts, parts, runs")
    show.add_argument("id", type=id_argument)

    listing = actions.add_parser("list", help="list orders")
    listing.add_argument("--overdue", action="store_true", help="only orders needing follow-up")
    listing.add_argument("--open", action="store_true", help="only orders not handed back")

    status = actions.add_parser("status", help="change an order's status")
    status.add_argument("id", type=id_argument)
    status.add_argument("new_status", metavar="NEW_STATUS", help=" | ".join(STATUSES))
    status.add_argument(
        "--note", default="", help="what was done (verified without a part: why none was needed)"
    )
    _via(
        status,
        None,
        "how the customer was told (awaiting-approval: the quote sent; handed-back: default "
        "in-person)",
    )
    status.add_argument(
        "--simulated",
        action="store_true",
        help="verified: accept a run on a simulated unit (the timeline then says so)",
    )
    _at(status)
    _by(status)

    contact = actions.add_parser("contact", help="record a contact with the customer")
    contact.add_argument("id", type=id_argument)
    contact.add_argument("--note", default="")
    _via(contact, "other", "how (default: other)")
    _at(contact)
    _by(contact)

    agree = actions.add_parser(
        "agree", help="record what the customer agreed to (work, parts, quote): logged"
    )
    agree.add_argument("id", type=id_argument)
    agree.add_argument("--work", choices=AGREEMENTS, required=True, help="the agreed work")
    agree.add_argument(
        "--part",
        dest="parts",
        action="append",
        default=[],
        metavar="PN",
        help="limit the repair to this part (repeat; none: any part, up to the quote)",
    )
    agree.add_argument(
        "--quote", type=quote_argument, metavar="AMOUNT", default=None, help="default: unchanged"
    )
    _via(agree, None, "how the customer agreed", required=True)
    agree.add_argument("--note", required=True, help="what the customer agreed to, in words")
    _at(agree)
    _by(agree)

    part = actions.add_parser("part", help="record a fitted part (agreed work only)")
    part.add_argument("id", type=id_argument)
    part.add_argument("--part", required=True, metavar="PN", help="part number")
    part.add_argument("--qty", type=positive_int, default=1)
    _at(part)
    _by(part)

    note = actions.add_parser("note", help="add a note to an order")
    note.add_argument("id", type=id_argument)
    note.add_argument("text")
    _by(note)

    close = actions.add_parser(
        "close", help="hand the unit back (status handed-back; a repair must be verified)"
    )
    close.add_argument("id", type=id_argument)
    close.add_argument("--note", default="")
    _via(close, "in-person", "how it was handed back (default: in-person)")
    _at(close)
    _by(close)

    for sub in (opened, show, listing, status, contact, agree, part, note, close):
        add_db_option(sub)


def _actor(args: argparse.Namespace) -> str:
    return str(args.by) if args.by is not None else default_actor()


def _open(store: Store, args: argparse.Namespace) -> int:
    order_id = store.open_order(
        args.serial,
        args.symptom,
        agreement=args.agreement,
        quote_cents=args.quote,
        promised=args.promised,
        by=_actor(args),
        now=args.received_at,
    )
    print(order_id)
    return EXIT_OK


def _show(store: Store, args: argparse.Namespace) -> int:
    order = store.order(args.id)
    unit = store.unit(order.unit_serial)
    workshop = load_workshop()
    # Everything read before anything is printed: a damaged file is one line, not half a page.
    verified = store.verification(order.id)
    events = store.events(order.id)
    parts = store.parts(order.id)
    runs = store.runs_for_order(order.id)
    out = console()
    now = datetime.now().astimezone()
    facts = SafeTable(show_header=False, box=None)
    facts.add_row("order", str(order.id))
    facts.add_row("unit", f"{unit.serial} ({unit.profile}, owner {unit.owner or '—'})")
    facts.add_row("opened", f"{display_time(order.opened_at)} by {order.opened_by or '—'}")
    facts.add_row("symptom", order.symptom)
    facts.add_row("agreement", order.agreement_text)
    if order.quote_cents is not None:
        amount = f"{workshop.currency} {order.quote_text}".strip()
        facts.add_row("quote", f"{amount} on {display_date(order.quote_date)}")
    facts.add_row("promised", display_date(order.promised))
    facts.add_row("status", status_label(order.status))
    if verified is not None:
        mark = f" — {SIMULATED_UNIT}" if verified.simulated else ""
        facts.add_row(
            "verified by",
            f"run {verified.id} {verified.plan} {verified.status} "
            f"({display_time(verified.started_at)}){mark}",
        )
    for reason in overdue_reasons(order, now):
        facts.add_row("OVERDUE", reason)
    out.print(facts)

    timeline = SafeTable(title="timeline")
    for column in ("when", "what", "by"):
        timeline.add_column(column)
    for event in events:
        timeline.add_row(display_time(event.at), event.text, event.by)
    out.print(timeline)

    if parts:
        on = order.opened_at.astimezone().date()
        table = SafeTable(title="parts replaced")
        for column in ("part", "qty", "fitted", "warranty"):
            table.add_column(column)
        for replaced in parts:
            part = lookup(replaced.part_number)
            warranty = explain(unit.purchase_date, part.part_class, unit.original_owner, on)[1]
            table.add_row(
                part_label(part, workshop),
                str(replaced.quantity),
                display_time(replaced.at),
                warranty,
            )
        out.print(table)
    if runs:
        table = SafeTable(title="bench runs")
        for column in ("run", "started", "plan", "status", "summary"):
            table.add_column(column)
        for run in runs:
            said = current_wording(run.summary, workshop)
            summary = f"{SIMULATED_UNIT}: {said}" if run.simulated else said
            table.add_row(str(run.id), display_time(run.started_at), run.plan, run.status, summary)
        out.print(table)
    return EXIT_OK


def _list(store: Store, args: argparse.Namespace) -> int:
    now = datetime.now().astimezone()
    reasons: dict[int, tuple[str, ...]] = {}
    if args.overdue:
        overdue = overdue_orders(store, now)
        orders: list[Order] = [item.order for item in overdue]
        reasons = {item.order.id: item.reasons for item in overdue}
    else:
        orders = store.orders(open_only=args.open)
    out = console()
    if not orders:
        out.print("no overdue orders" if args.overdue else "no orders")
        return EXIT_OK
    table = SafeTable(title="overdue orders" if args.overdue else "orders")
    columns = ["order", "unit", "opened", "status", "promised", "contacted", "symptom"]
    if args.overdue:
        columns.append("overdue because")
    for column in columns:
        table.add_column(column)
    for order in orders:
        row = [
            str(order.id),
            order.unit_serial,
            display_time(order.opened_at),
            status_label(order.status),
            display_date(order.promised),
            display_time(order.first_contact_at, empty="never"),
            order.symptom,
        ]
        if args.overdue:
            row.append("; ".join(reasons[order.id]))
        table.add_row(*row)
    out.print(table)
    return EXIT_OK


def _status(store: Store, args: argparse.Namespace) -> int:
    order = store.set_status(
        args.id,
        args.new_status,
        by=_actor(args),
        note=args.note,
        now=args.at,
        via=args.via,
        allow_simulated=args.simulated,
    )
    print(f"order {order.id}: {status_label(order.status)}")
    if order.status == "verified":
        verified = store.verification(order.id)
        if verified is not None and verified.simulated:
            print(f"order {order.id}: the verification ran on a {SIMULATED_UNIT}")
    return EXIT_OK


def _contact(store: Store, args: argparse.Namespace) -> int:
    store.add_contact(args.id, by=_actor(args), note=args.note, now=args.at, via=args.via)
    print(f"order {args.id}: customer contact recorded")
    return EXIT_OK


def _agree(store: Store, args: argparse.Namespace) -> int:
    change = store.amend_agreement(
        args.id,
        args.work,
        parts=args.parts,
        quote_cents=args.quote,
        via=args.via,
        note=args.note,
        by=_actor(args),
        now=args.at,
    )
    print(f"order {args.id}: agreed {change.after.text} (was {change.before.text})")
    return EXIT_OK


def _part(store: Store, args: argparse.Namespace) -> int:
    workshop = load_workshop()  # a bad workshop file is refused before anything is stored
    replaced = store.add_part(args.id, args.part, args.qty, by=_actor(args), now=args.at)
    label = part_label(lookup(replaced.part_number), workshop)
    print(f"order {args.id}: replaced {replaced.quantity} × {label}")
    return EXIT_OK


def _note(store: Store, args: argparse.Namespace) -> int:
    store.add_note(args.text, order_id=args.id, by=_actor(args))
    print(f"order {args.id}: note added")
    return EXIT_OK


def _close(store: Store, args: argparse.Namespace) -> int:
    order = store.set_status(
        args.id, "handed-back", by=_actor(args), note=args.note, now=args.at, via=args.via
    )
    print(f"order {order.id}: {status_label(order.status)}")
    return EXIT_OK


_READERS = ("show", "list")
"""Actions that only read: they open the records read-only (a read-only file system works)."""
_ACTIONS = {
    "open": _open,
    "show": _show,
    "list": _list,
    "status": _status,
    "contact": _contact,
    "agree": _agree,
    "part": _part,
    "note": _note,
    "close": _close,
}


def _run(args: argparse.Namespace) -> int:
    action = _ACTIONS[args.order_action]
    read_only = args.order_action in _READERS
    return run_with_store(args, lambda store: action(store, args), read_only=read_only)


COMMAND = Subcommand(
    "order", "service orders: intake, status, contacts, parts, hand-back", _configure, _run
)
