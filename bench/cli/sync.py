"""``spabench sync``: upload the runs waiting in the bench's journal to the records server.

With a records server configured (``--db postgresql://…`` or ``$SPABENCH_DB``) every run is
filed in the local journal and uploaded when it ends; runs filed while the server did not
answer wait there (see :mod:`bench.records.destination`). This uploads them now, oldest
first, one line per run and a total::

    spabench sync
    spabench sync --retry-every 60     # a bench PC's autostart: until nothing waits

Without a server configured there is nothing to upload: it says so, exit 0.

Exit status: 0 nothing waits afterwards (runs still under way in another bench process are
uploaded by that process when they end), 1 the server refused some runs in this pass (they
stay in the journal; ``spabench status`` lists them and why), 2 usage error, 3 the server is
unreachable (one line; what waits still waits) or the journal cannot be used.
"""

from __future__ import annotations

import argparse
import sys
import threading

from bench.cli.records_support import check_db
from bench.records.database import DatabaseError, StoreError
from bench.records.destination import open_destination
from bench.records.journal_sync import Outcome, SyncReport
from protocols.cli_support import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_OK,
    Subcommand,
    positive_float,
)


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


def _say(outcome: Outcome, server: str) -> None:
    print(outcome.line(server), flush=True)


def _run(args: argparse.Namespace) -> int:
    check_db(args.db)
    destination = open_destination(args.db)
    if not destination.journaled:
        where = destination.describe()
        print(
            f"no records server configured (the records are the file {where}): runs are "
            "filed there directly and nothing waits to be uploaded"
        )
        return EXIT_OK
    server = destination.server_name
    told_unreachable = False
    stop = threading.Event()
    while True:
        try:
            report = destination.sync(on_outcome=lambda outcome: _say(outcome, server))
        except (StoreError, DatabaseError) as error:
            sys.stderr.write(f"spabench sync: error: journal {destination.journal}: {error}\n")
            return EXIT_ERROR
        if report.unreachable is None or args.retry_every is None:
            return _finish(report)
        if not told_unreachable:
            print(f"{_unreachable(report)}; trying again every {args.retry_every:g} s", flush=True)
            told_unreachable = True
        stop.wait(args.retry_every)


def _unreachable(report: SyncReport) -> str:
    return (
        f"records server unreachable ({report.unreachable}): "
        f"{report.waiting} run(s) wait in the journal {report.journal}"
    )


def _finish(report: SyncReport) -> int:
    if report.unreachable is not None:
        sys.stderr.write(f"spabench sync: error: {_unreachable(report)}\n")
        return EXIT_ERROR
    print(report.totals())
    return EXIT_FAIL if report.count("refused") else EXIT_OK


COMMAND = Subcommand(
    "sync", "upload the runs waiting in the local journal to the records server", _configure, _run
)
