"""``spabench status``: where this bench files its runs, and what waits to be uploaded.

For a bench configured with a records server: the server (password masked) and whether it
answers now, the local journal file, the runs waiting in it (journal run, record id, unit,
plan, verdict, started, upload attempts, last error), runs still under way, the runs the
server refused and why, and the last successful upload. Without a server: the records file,
and that runs are filed there directly (nothing ever waits). Either way, runs waiting for
ANOTHER records server — in this journal (a shared ``$SPABENCH_JOURNAL``) or in the other
journal files of the user data directory (a bench once pointed elsewhere) — are listed by
journal, server and count, so no run is forgotten because ``--db`` changed. ``--json`` gives
the same as one JSON object. Exit 0 (it only reports; a server that does not answer is part
of the report, not an error of the command).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.cli.records_support import SafeTable, check_db, console
from bench.records.database import DatabaseError, StoreError
from bench.records.destination import RunDestination, open_destination
from bench.records.display import display_time
from bench.records.journal import JournalEntry, JournalStore, journals_dir
from bench.records.journal_server import Server
from protocols.cli_support import EXIT_ERROR, EXIT_OK, Subcommand


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="LOCATION",
        help="records file or server (postgresql://…; default: $SPABENCH_DB or the user data dir)",
    )
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def _server_answers(destination: RunDestination) -> str | None:
    """None when the server answers now, else why not (one line)."""
    try:
        with destination.open_records():
            return None
    except (StoreError, DatabaseError) as error:
        return str(error)


def _entry_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "journal_run": entry.local_id,
        "record_id": entry.record_id,
        "unit": entry.unit_serial,
        "plan": entry.plan,
        "verdict": entry.status,
        "started_at": entry.started_at,
        "order": entry.order_id,
        "attempts": entry.attempts,
        "last_error": entry.last_error,
        "last_attempt_at": entry.last_attempt_at,
        "refused": entry.refused,
    }


def _elsewhere(
    path: Path, entries: list[JournalEntry], server: Server | None
) -> list[dict[str, Any]]:
    """The runs of one journal waiting (or refused) for another server than ``server``:
    one item per server, with how many."""
    counts: dict[str, int] = {}
    for entry in entries:
        if (server is not None and entry.is_for(server)) or not (
            entry.waiting or entry.refused is not None
        ):
            continue
        where = entry.server or "the server the journal was used with (an older journal)"
        counts[where] = counts.get(where, 0) + 1
    return [{"journal": str(path), "server": k, "waiting": n} for k, n in counts.items()]


def _other_journals(current: Path | None) -> list[dict[str, Any]]:
    """Runs waiting in the other journal files of the user data directory."""
    found: list[dict[str, Any]] = []
    for path in sorted(journals_dir().glob("journal-*.sqlite3")):
        if current is not None and path.resolve() == current.resolve():
            continue
        try:
            with JournalStore(path) as journal:
                entries = journal.journal_entries(pending=True)
        except (StoreError, DatabaseError) as error:
            found.append({"journal": str(path), "server": None, "waiting": 0, "error": str(error)})
            continue
        found.extend(_elsewhere(path, entries, None))
    return found


def _gather(destination: RunDestination) -> dict[str, Any]:
    if destination.journal is None:
        return {
            "server": None,
            "records": destination.describe(),
            "journal": None,
            "waiting": [],
            "under_way": [],
            "refused": [],
            "last_upload": None,
            "elsewhere": _other_journals(None),
        }
    problem = _server_answers(destination)
    entries: list[JournalEntry] = []
    last = None
    if destination.journal.is_file():  # a status never creates the journal
        with JournalStore(destination.journal) as journal:
            entries = journal.journal_entries(pending=True)
            last = journal.last_upload()
    server = destination.server_identity
    mine = [entry for entry in entries if entry.is_for(server)]
    return {
        "server": destination.server_name,
        "server_answers": problem is None,
        "server_error": problem,
        "journal": str(destination.journal),
        "waiting": [_entry_json(e) for e in mine if e.waiting],
        "under_way": [_entry_json(e) for e in mine if e.under_way],
        "refused": [_entry_json(e) for e in mine if e.refused is not None],
        "elsewhere": _elsewhere(destination.journal, entries, server)
        + _other_journals(destination.journal),
        "last_upload": None
        if last is None
        else {
            "journal_run": last.local_id,
            "record_id": last.record_id,
            "server_run": last.server_run_id,
            "uploaded_at": last.uploaded_at,
        },
    }


def _runs(word: str, count: int) -> str:
    return f"{count} run{'' if count == 1 else 's'} {word}"


def _table(title: str, rows: list[dict[str, Any]], last: str) -> SafeTable:
    table = SafeTable(title=title, title_justify="left")
    for column in ("journal run", "record", "unit", "plan", "verdict", "started", "attempts"):
        table.add_column(column)
    table.add_column(last)
    for row in rows:
        table.add_row(
            str(row["journal_run"]),
            row["record_id"],
            row["unit"],
            row["plan"],
            row["verdict"],
            display_time(row["started_at"]),
            str(row["attempts"]),
            row["refused" if last == "reason" else "last_error"] or "—",
        )
    return table


def _print_elsewhere(status: dict[str, Any]) -> None:
    out = console()
    for item in status["elsewhere"]:
        if item.get("error"):
            out.print(f"journal {item['journal']}: cannot be read: {item['error']}")
            continue
        count = item["waiting"]
        out.print(
            f"journal {item['journal']}: {_runs('wait' if count != 1 else 'waits', count)} "
            f"for another records server, {item['server']} (spabench sync --db "
            f"{item['server']} uploads {'it' if count == 1 else 'them'}; "
            f"$SPABENCH_JOURNAL={item['journal']} if it is not that server's own journal)",
            soft_wrap=True,
        )


def _print(status: dict[str, Any]) -> None:
    out = console()
    if status["server"] is None:
        out.print(
            f"records: {status['records']} (no records server configured): runs are filed "
            "there directly; nothing waits to be uploaded"
        )
        _print_elsewhere(status)
        return
    answers = (
        "answers" if status["server_answers"] else f"does not answer: {status['server_error']}"
    )
    out.print(f"records server: {status['server']} — {answers}")
    out.print(
        f"journal: {status['journal']} (every run is filed here first, uploaded when it ends)"
    )
    waiting, under_way, refused = status["waiting"], status["under_way"], status["refused"]
    if waiting:
        out.print(_table(f"{_runs('waiting to be uploaded', len(waiting))}", waiting, "last error"))
    else:
        out.print("nothing waits to be uploaded")
    if under_way:
        out.print(
            _table(
                _runs("under way (uploaded when they end)", len(under_way)), under_way, "last error"
            )
        )
    if refused:
        out.print(
            _table(
                _runs("refused by the server (kept in the journal)", len(refused)),
                refused,
                "reason",
            )
        )
    last = status["last_upload"]
    if last is None:
        out.print("last upload: none yet")
    else:
        out.print(
            f"last upload: journal run {last['journal_run']} as run {last['server_run']}, "
            f"{display_time(last['uploaded_at'])}"
        )
    _print_elsewhere(status)


def _run(args: argparse.Namespace) -> int:
    check_db(args.db)
    destination = open_destination(args.db)
    try:
        status = _gather(destination)
    except (StoreError, DatabaseError) as error:
        sys.stderr.write(f"spabench status: error: journal {destination.journal}: {error}\n")
        return EXIT_ERROR
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        _print(status)
    return EXIT_OK


COMMAND = Subcommand(
    "status",
    "where runs are filed and what waits in the journal for the records server",
    _configure,
    _run,
)
