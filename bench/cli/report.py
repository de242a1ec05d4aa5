"""``spabench report ORDER_ID | --run RUN``: the customer report (HTML) and exports (JSON, CSV).

An order's report puts the summary a customer reads on page 1 (workshop, unit, symptom,
findings, parts and why, warranty, cost, the verification run after the repair, signatures)
and the measurements in an appendix; ``--run`` reports one run, given by its run id or its
record id. The workshop's identity comes from its configuration
(:func:`bench.records.workshop.load_workshop`). ``-`` as a file name writes to standard
output.

Everything that can be refused is refused before any work, in one line with exit 2: the
arguments, every output path (:func:`protocols.files.check_output_path`; a name ending in a
path separator names a directory, not a file; one file named twice) and the workshop file.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bench.cli.order import id_argument
from bench.cli.records_support import add_db_option, printable, run_with_store
from bench.records import customer_report, exports
from bench.records.order_records import Terms
from bench.records.orders import parse_id, status_label
from bench.records.report_words import SIMULATED_LABEL
from bench.records.store import Store
from bench.records.workshop import Workshop, WorkshopConfigError, load_workshop
from protocols.cli_support import EXIT_OK, Subcommand, UsageError
from protocols.files import STDOUT, OutputPathError, check_output_path


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("order_id", nargs="?", type=id_argument, metavar="ORDER_ID")
    parser.add_argument("--run", metavar="RUN", help="report one run (run id or record id)")
    parser.add_argument("--html", metavar="FILE", help="customer report (HTML)")
    parser.add_argument(
        "--json", metavar="FILE", help="the report's facts plus every run in full (JSON)"
    )
    parser.add_argument("--csv", metavar="FILE", help="one row per measurement (CSV)")
    add_db_option(parser)


def _run_id(store: Store, text: str) -> int:
    if text.strip().isdigit():
        try:
            return store.run(parse_id(text, "a run id")).id
        except ValueError as error:
            raise UsageError(str(error)) from None
    return store.run_by_record_id(text).id


def check_outputs(paths: list[str]) -> None:
    """Refuse, before any work, output paths the writing would fail on (UsageError)."""
    seen: set[str] = set()
    for path in paths:
        if path == STDOUT:
            if STDOUT in seen:
                raise UsageError("only one output can go to standard output (-)")
            seen.add(path)
            continue
        if path.endswith(("/", os.sep)):
            raise UsageError(f"cannot write {path}: a file name is needed, not a directory")
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"cannot write {path} twice: give each output its own file")
        seen.add(real)
        try:
            check_output_path(path)
        except OutputPathError as error:
            raise UsageError(str(error)) from None


def _terms(terms: Terms) -> dict[str, Any]:
    return {
        "agreement": terms.agreement,
        "parts": list(terms.parts),
        "quote_cents": terms.quote_cents,
    }


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
            "serial": data.unit.serial,
            "model": data.unit.model,
            "owner": data.unit.owner,
            "purchase_date": data.unit.purchase_date,
        },
        "timeline": [
            {"status": c.status, "at": c.at.isoformat(), "by": c.by, "note": c.note}
            for c in data.timeline
        ],
        "contacts": [
            {"at": c.at.isoformat(), "by": c.by, "via": c.via, "note": c.note}
            for c in data.contacts
        ],
        "agreement_changes": [
            {
                "at": change.at.isoformat(),
                "by": change.by,
                "via": change.via,
                "note": change.note,
                "before": _terms(change.before),
                "after": _terms(change.after),
            }
            for change in data.agreement_changes
        ],
        "findings": [finding.text for finding in data.findings],
        "parts_replaced": [
            {
                "part_number": p.number,
                "label": p.label,
                "quantity": p.quantity,
                "official_number": p.official,
                "warranty": p.warranty,
                "covered": p.covered,
            }
            for p in data.replaced
        ],
        "warranty": data.warranty,
        "final_run_id": None if data.final is None else data.final.run_id,
        "verification_run_id": None
        if data.verification.verified_by is None
        else data.verification.verified_by.run_id,
        "verdict": data.verdict,
    }


def _summary_line(data: customer_report.ReportData, written: list[str]) -> str:
    final = data.final
    last = (
        "no finished run"
        if final is None
        else f"final run {final.run_id} {status_label(final.status)}, sha256 {final.sha256}"
    )
    verification = data.verification
    verified_by = verification.verified_by  # the run the order's verified status names
    if verification.verdict == "verified" and verified_by is not None:
        shown = f"verified by run {verified_by.run_id}"
    elif verified_by is not None and verification.run is not None:
        shown = (
            f"run {verification.run.run_id} FAILED after the verification by run "
            f"{verified_by.run_id}"
        )
    elif verification.verdict == "not-verified":
        shown = f"NOT VERIFIED ({verification.headline.partition(' — ')[2].rstrip('.')})"
    elif verification.verdict == "verified":  # one run's report: a pass, not a verification
        shown = "passed"
    else:
        shown = f"verdict {verification.verdict}"
    if verification.simulated:
        shown += f" ({SIMULATED_LABEL})"
    return f"{data.title}: {last}; {shown}; wrote {', '.join(written)}"


def _report(store: Store, args: argparse.Namespace, workshop: Workshop) -> int:
    if args.run is not None:
        data = customer_report.run_report(store, _run_id(store, args.run), workshop=workshop)
    else:
        data = customer_report.order_report(store, args.order_id, workshop=workshop)
    if data.workshop.logo_problem:
        sys.stderr.write(f"spabench report: warning: {data.workshop.logo_problem}; no logo\n")
    written = []
    if args.html:
        exports.write_text(args.html, customer_report.render_html(data))
        written.append(f"HTML {args.html}")
    if args.json:
        facts = customer_report.report_facts(data)
        if data.order is not None and args.run is None:
            json_text = exports.order_json({**order_bundle(store, data), **facts}, data.refs)
        else:
            (ref,) = data.refs
            json_text = exports.dumps({**exports.run_json(ref), **facts})
        exports.write_text(args.json, json_text)
        written.append(f"JSON {args.json}")
    if args.csv:
        exports.write_text(args.csv, exports.measurements_csv(data.refs))
        written.append(f"CSV {args.csv}")
    if STDOUT not in (args.html, args.json, args.csv):
        print(printable(_summary_line(data, written)))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    # Everything that can be refused is refused before the records are opened.
    if (args.order_id is None) == (args.run is None):
        raise UsageError("give either ORDER_ID or --run RUN")
    outputs = [path for path in (args.html, args.json, args.csv) if path]
    if not outputs:
        raise UsageError("say what to write: --html FILE, --json FILE and/or --csv FILE")
    check_outputs(outputs)
    try:
        workshop = load_workshop()
    except WorkshopConfigError as error:
        raise UsageError(str(error)) from None
    return run_with_store(args, lambda store: _report(store, args, workshop), read_only=True)


COMMAND = Subcommand(
    "report", "customer report (HTML) and JSON/CSV exports of an order or a run", _configure, _run
)
