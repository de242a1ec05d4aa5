"""``spabench report ORDER_ID | --run RUN``: the customer report (HTML) and exports (JSON, CSV).

An order's report shows its final verification run (the latest finished run of the order);
``--run`` reports one run, given by its run id or its record id. ``-`` as a file name writes
to standard output.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli.order import id_argument
from bench.cli.records_support import add_db_option, printable, run_with_store
from bench.records import customer_report, exports
from bench.records.orders import parse_id, status_label
from bench.records.store import Store
from protocols.cli_support import EXIT_OK, Subcommand, UsageError
from protocols.files import check_output_path


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("order_id", nargs="?", type=id_argument, metavar="ORDER_ID")
    parser.add_argument("--run", metavar="RUN", help="report one run (run id or record id)")
    parser.add_argument("--html", metavar="FILE", help="customer report (HTML)")
    parser.add_argument("--json", metavar="FILE", help="everything, raw frames included (JSON)")
    parser.add_argument("--csv", metavar="FILE", help="one row per measurement (CSV)")
    add_db_option(parser)


def _run_id(store: Store, text: str) -> int:
    if text.strip().isdigit():
        try:
            return store.run(parse_id(text, "a run id")).id
        except ValueError as error:
            raise UsageError(str(error)) from None
    return store.run_by_record_id(text).id


def order_bundle(store: Store, data: customer_report.ReportData) -> dict[str, Any]:
    """The facts of an order for the JSON export (the runs are added in full by exports)."""
    order = data.order
    assert order is not None
    return {
        "order": {
            "id": order.id,
            "unit_serial": order.unit_serial,
            "opened_at": order.opened_at.isoformat(),
            "opened_by": order.opened_by,
            "symptom": order.symptom,
            "agreement": order.agreement,
            "quote": order.quote_text or None,
            "quote_date": order.quote_date,
            "promised": order.promised,
            "status": order.status,
        },
        "unit": {
            "serial": data.unit_serial,
            "profile": data.unit_profile,
            "owner": data.owner,
            "purchase_date": data.purchase_date,
        },
        "timeline": [
            {"status": c.status, "at": c.at.isoformat(), "by": c.by, "note": c.note}
            for c in data.timeline
        ],
        "contacts": [
            {"at": c.at.isoformat(), "by": c.by, "note": c.note} for c in store.contacts(order.id)
        ],
        "findings": data.findings,
        "parts_replaced": [
            {
                "part_number": p.number,
                "name": p.name,
                "quantity": p.quantity,
                "official_number": p.official,
                "warranty": p.warranty,
                "covered": p.covered,
            }
            for p in data.parts
        ],
        "warranty": data.warranty,
        "final_run_id": None if data.final is None else data.final.run_id,
        "verdict": data.verdict,
    }


def _report(store: Store, args: argparse.Namespace) -> int:
    if (args.order_id is None) == (args.run is None):
        raise UsageError("give either ORDER_ID or --run RUN")
    if not (args.html or args.json or args.csv):
        raise UsageError("say what to write: --html FILE, --json FILE and/or --csv FILE")
    for path in (args.html, args.json, args.csv):
        if path:
            check_output_path(path)  # before any work: a bad path is a one-line usage error
    if args.run is not None:
        data = customer_report.run_report(store, _run_id(store, args.run))
    else:
        data = customer_report.order_report(store, args.order_id)
    written = []
    if args.html:
        exports.write_text(args.html, customer_report.render_html(data))
        written.append(f"HTML {args.html}")
    if args.json:
        if data.order is not None and args.run is None:
            json_text = exports.order_json(order_bundle(store, data), data.runs)
        else:
            assert data.final is not None
            json_text = exports.dumps(exports.run_json(data.final))
        exports.write_text(args.json, json_text)
        written.append(f"JSON {args.json}")
    if args.csv:
        exports.write_text(args.csv, exports.measurements_csv(data.runs))
        written.append(f"CSV {args.csv}")
    if "-" not in (args.html, args.json, args.csv):
        final = (
            "no finished run"
            if data.final is None
            else (
                f"final run {data.final.run_id} {status_label(data.verdict)}, "
                f"sha256 {data.final_sha256}"
            )
        )
        print(printable(f"{data.title}: {final}; wrote {', '.join(written)}"))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    return run_with_store(args, lambda store: _report(store, args), read_only=True)


COMMAND = Subcommand(
    "report", "customer report (HTML) and JSON/CSV exports of an order or a run", _configure, _run
)
