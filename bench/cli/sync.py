"""``spabench sync``: upload the runs waiting in the bench's journal to the records server.

With a records server configured (``--db postgresql://…`` or ``$SPABENCH_DB``) every run is
filed in the local journal and uploaded when it ends; runs filed while the server did not
answer wait there (see :mod:`bench.records.destination`). This uploads them now, oldest
first, one line per run and a total::

    spabench sync
    spabench sync --retry-every 60       # a bench PC's autostart: until nothing waits
    spabench sync --retry-refused        # refused runs again (the unit registered since)
    spabench sync --without-order 3      # journal run 3 without its (handed-back) order

A run the server refused (an unregistered serial, an order handed back before the run
started) stays in the journal, listed by ``spabench status``, until the technician puts the
cause right and sends it again with ``--retry-refused``, or decides it goes up without its
order (``--without-order JOURNAL_RUN``): every run can be got to the server.

Without a server configured there is nothing to upload: it says so, exit 0.

Exit status: 0 nothing waits afterwards (runs still under way in another bench process are
uploaded by that process when they end), 1 refused runs remain in the journal (refused in
this pass or before) or runs for another server wait in it, 2 usage error, 3 the server is
unreachable or refuses the bench (one line; what waits still waits) or the journal cannot be
used, 130 interrupted (what was not uploaded waits in the journal).
"""

from __future__ import annotations

import argparse
import sys
import threading

from bench.cli.records_support import check_db
from bench.records.database import DatabaseError, NotFound, StoreError
from bench.records.destination import RunDestination, open_destination
from bench.records.journal import JournalStore
from bench.records.journal_sync import Outcome, SyncReport, plural
from protocols.cli_support import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_OK,
    Subcommand,
    UsageError,
    positive_float,
)

EXIT_INTERRUPTED = 130


def _journal_run(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"a journal run number (1, 2, …), not {text!r}")
    return number


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="LOCATION",
        help="the records server (postgresql://…; default: $SPABENCH_DB)",
    )
    parser.add_argument(
        "--retry-every",
        type=positive_float,
        metavar="SECONDS",
        help="while the server does not answer, try again every SECONDS until nothing waits",
    )
    parser.add_argument(
        "--retry-refused",
        action="store_true",
        help="send the runs the server refused again (once the cause is put right, e.g. the "
        "unit registered)",
    )
    parser.add_argument(
        "--without-order",
        type=_journal_run,
        action="append",
        default=[],
        metavar="JOURNAL_RUN",
        help="upload that journal run without the order it was filed on (an order handed "
        "back before the run started); repeatable",
    )


def _say(outcome: Outcome, server: str) -> None:
    print(outcome.line(server), flush=True)


def _prepare(destination: RunDestination, args: argparse.Namespace) -> None:
    """What the technician decided, into the journal before the pass: refused runs to go
    again, runs to go without their order (each said in one line). Usage errors for runs
    that cannot."""
    assert destination.journal is not None
    if not destination.journal.is_file():
        if args.without_order:
            raise UsageError(f"no run {args.without_order[0]} in the journal: it is empty")
        return
    with JournalStore(destination.journal) as journal:
        for local_id in args.without_order:
            try:
                order = journal.drop_order(local_id)
            except (NotFound, StoreError) as error:
                raise UsageError(str(error)) from None
            print(
                f"journal run {local_id} goes up without its order {order} "
                f"(--without-order {local_id})",
                flush=True,
            )
        if args.retry_refused:
            count = journal.retry_refused()
            if count:
                print(f"{plural(count, 'refused run')} sent again (--retry-refused)", flush=True)


def _run(args: argparse.Namespace) -> int:
    check_db(args.db)
    destination = open_destination(args.db)
    if not destination.journaled:
        if args.retry_refused or args.without_order:
            raise UsageError("no records server is configured: nothing is ever refused")
        where = destination.describe()
        print(
            f"no records server configured (the records are the file {where}): runs are "
            "filed there directly and nothing waits to be uploaded"
        )
        return EXIT_OK
    server = destination.server_name
    told = False
    stop = threading.Event()
    try:
        _prepare(destination, args)
        while True:
            report = destination.sync(on_outcome=lambda outcome: _say(outcome, server))
            if report.stopped is None or args.retry_every is None:
                return _finish(report)
            if not told:
                print(f"{report.waiting_line()}; trying again every {args.retry_every:g} s")
                told = True
            stop.wait(args.retry_every)
    except (StoreError, DatabaseError) as error:
        sys.stderr.write(f"spabench sync: error: journal {destination.journal}: {error}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write(
            f"spabench sync: interrupted: what was not uploaded waits in the journal "
            f"{destination.journal} (spabench sync uploads it)\n"
        )
        return EXIT_INTERRUPTED


def _finish(report: SyncReport) -> int:
    if report.stopped is not None:
        sys.stderr.write(f"spabench sync: error: {report.waiting_line()}\n")
        return EXIT_ERROR
    print(report.totals())
    if report.elsewhere:
        print(report.elsewhere_line())
    return EXIT_FAIL if report.refused or report.elsewhere else EXIT_OK


COMMAND = Subcommand(
    "sync", "upload the runs waiting in the local journal to the records server", _configure, _run
)
