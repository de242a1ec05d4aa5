"""One upload pass: every run waiting in the journal goes to the records server, in order.

Why it cannot lose or duplicate a run (see also :mod:`bench.records.journal` and
:mod:`bench.records.run_import`):

* a run is marked uploaded in the journal only after the server committed it; a crash
  between the two leaves it waiting, and the next pass uploads it again — which the server
  answers with the run it already has (same record id, same SHA-256): nothing twice;
* two passes at once (two bench processes on one PC) each look again before uploading a run
  and the server's idempotence settles the rest: each run once;
* runs go oldest first, and the first failure that is not the server's verdict on the run
  (unreachable, connection lost) ends the pass, so a later run never overtakes an earlier
  one; a refusal (an order handed back meanwhile, a conflicting record) is the server's
  verdict: that run is marked refused and the pass goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.records.database import (
    DatabaseError,
    IntegrityError,
    StoreError,
    StoreOpenError,
    from_db,
    refusal,
)
from bench.records.journal import JournalEntry, JournalStore
from bench.records.store import Store

OutcomeKind = Literal["uploaded", "already", "refused"]


def _plural(count: int, word: str = "run") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Outcome:
    """What happened to one journal run in a pass."""

    entry: JournalEntry
    kind: OutcomeKind
    verdict: str
    server_run_id: int | None = None
    reason: str = ""

    def line(self, server: str) -> str:
        """One line for the user, e.g. ``uploaded journal run 3 as run 4711 to URL …``."""
        what = f"unit {self.entry.unit_serial}, {self.entry.plan}, {self.verdict}"
        local = f"journal run {self.entry.local_id}"
        if self.kind == "uploaded":
            return f"uploaded {local} as run {self.server_run_id} to {server} ({what})"
        if self.kind == "already":
            return f"{local} was on {server} already as run {self.server_run_id} ({what})"
        return (
            f"{local} ({what}) refused by {server}: {self.reason} "
            "(kept in the journal; spabench status lists it)"
        )


@dataclass
class SyncReport:
    """The result of a pass, and what is left in the journal after it."""

    server: str
    journal: Path
    outcomes: list[Outcome] = field(default_factory=list)
    unreachable: str | None = None
    """Why the server could not be reached (or was lost mid-pass); None if it answered."""
    waiting: int = 0
    """Runs still waiting to be uploaded after the pass (refused ones not counted)."""
    refused: int = 0
    """Runs in the journal the server refused (in this pass or earlier)."""
    under_way: int = 0
    """Runs still being run by a live bench process (their own end uploads them)."""

    def server_run_id(self, record_id: str) -> int | None:
        """The server's id of a run this pass uploaded (or found there), if it did."""
        for outcome in self.outcomes:
            if outcome.entry.record_id == record_id and outcome.kind != "refused":
                return outcome.server_run_id
        return None

    def count(self, *kinds: OutcomeKind) -> int:
        return sum(1 for outcome in self.outcomes if outcome.kind in kinds)

    def summary(self) -> str:
        """One line: what the pass did and what still waits ("" when there was nothing)."""
        parts = []
        ids = [str(o.server_run_id) for o in self.outcomes if o.kind != "refused"]
        if len(ids) == 1:
            parts.append(f"uploaded run {ids[0]} to {self.server}")
        elif ids:
            parts.append(f"uploaded {_plural(len(ids))} to {self.server} (runs {', '.join(ids)})")
        refused_now = self.count("refused")
        if refused_now:
            parts.append(
                f"{self.server} refused {_plural(refused_now)} (spabench status lists why)"
            )
        if self.unreachable is not None:
            parts.append(
                f"records server unreachable: {_plural(self.waiting)} "
                f"{'waits' if self.waiting == 1 else 'wait'} in the journal "
                f"(spabench sync uploads {'it' if self.waiting == 1 else 'them'})"
            )
        return "; ".join(parts)

    def totals(self) -> str:
        """The closing line of ``spabench sync``."""
        line = (
            f"{self.count('uploaded', 'already')} uploaded, {self.count('refused')} refused "
            f"now; {self.waiting} waiting, {self.refused} refused in the journal {self.journal}"
        )
        if self.under_way:
            line += f"; {_plural(self.under_way)} under way (uploaded when it ends)"
        return line


def _ignore_outcome(_outcome: Outcome) -> None:
    return None


def sync_journal(
    journal: JournalStore,
    open_server: Callable[[], Store],
    *,
    server: str,
    on_outcome: Callable[[Outcome], None] = _ignore_outcome,
) -> SyncReport:
    """Upload every waiting journal run to the server ``open_server`` opens (module doc).

    ``server`` names it in the lines (password masked); ``on_outcome`` hears each run's
    outcome as it happens.
    Never raises for an unreachable server: :attr:`SyncReport.unreachable` says why.
    """
    report = SyncReport(server=server, journal=journal.file)
    pending = [entry for entry in journal.journal_entries(pending=True) if entry.waiting]
    if pending:
        try:
            records = open_server()
        except StoreOpenError as error:
            report.unreachable = str(error)
            journal.note_attempt([entry.local_id for entry in pending], report.unreachable)
        else:
            with records:
                _upload(journal, records, pending, report, on_outcome)
    left = journal.journal_entries(pending=True)
    report.waiting = sum(1 for entry in left if entry.waiting)
    report.refused = sum(1 for entry in left if entry.refused is not None)
    report.under_way = sum(1 for entry in left if entry.under_way)
    return report


def _upload(
    journal: JournalStore,
    records: Store,
    pending: list[JournalEntry],
    report: SyncReport,
    on_outcome: Callable[[Outcome], None],
) -> None:
    for listed in pending:
        entry = journal.journal_entry(listed.local_id)
        if not entry.waiting:
            continue  # another pass (another bench process) has done it meanwhile
        upload = journal.upload_record(entry)
        try:
            server_run_id, new = records.import_run(
                upload.record,
                unit_serial=upload.unit_serial,
                order_id=upload.order_id,
                allow_simulated=upload.allow_simulated,
                host=upload.host,
                pid=upload.pid,
                proc_start=upload.proc_start,
                created_at=from_db(upload.created_at),
            )
        except StoreOpenError as error:  # the connection went away
            report.unreachable = str(error)
        except (IntegrityError, StoreError, ValueError) as error:  # the server's verdict
            reason = refusal(error)
            journal.mark_refused(entry.local_id, reason)
            outcome = Outcome(entry, "refused", upload.record.verdict, reason=reason)
            report.outcomes.append(outcome)
            on_outcome(outcome)
            continue
        except DatabaseError as error:  # lost connection, a lock that outlasted the timeout
            report.unreachable = str(error)
        if report.unreachable is not None:
            journal.note_attempt([entry.local_id], report.unreachable)
            return  # later runs must not overtake this one
        # a crash here (the server has the run, the journal does not know) is the worst case:
        # the next pass uploads it again and the server answers with the run it has
        journal.mark_uploaded(entry.local_id, server_run_id)
        kind: OutcomeKind = "uploaded" if new else "already"
        outcome = Outcome(entry, kind, upload.record.verdict, server_run_id)
        report.outcomes.append(outcome)
        on_outcome(outcome)
