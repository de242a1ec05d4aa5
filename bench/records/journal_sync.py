"""One upload pass: every run waiting in the journal goes to the records server, in order.

Why it cannot lose or duplicate a run (see also :mod:`bench.records.journal` and
:mod:`bench.records.run_import`):

* a run is marked uploaded in the journal only after the server committed it; a crash
  between the two leaves it waiting, and the next pass uploads it again — which the server
  answers with the run it already has (same record id, same SHA-256): nothing twice;
* two passes at once (two bench processes on one PC) each look again before uploading a run
  and the server's idempotence settles the rest: each run once;
* runs go oldest first, and a failure that is not the server's verdict on the run ends the
  pass, so a later run never overtakes an earlier one: the server unreachable (the
  connection failed, was lost, or stopped answering in time) or refusing the bench itself
  (a permission, a lock held too long: said for what it is, not as "unreachable");
* a refusal for a reason in the run itself (an order handed back before it started, an
  unregistered serial, a value no server stores, a conflicting record) is the server's
  verdict on that run: it is marked refused and the pass goes on — one bad run never
  blocks the others; ``spabench sync --retry-refused`` sends refused runs again;
* a run filed for another records server (a journal shared through ``$SPABENCH_JOURNAL``)
  is never uploaded here: the pass leaves it waiting and says where it belongs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.records.database import (
    DatabaseError,
    DataError,
    IntegrityError,
    ServerUnreachable,
    StoreError,
    StoreOpenError,
    from_db,
    refusal,
)
from bench.records.journal import JournalEntry, JournalStore
from bench.records.journal_server import Server
from bench.records.store import Store

OutcomeKind = Literal["uploaded", "already", "refused"]


def plural(count: int, word: str = "run") -> str:
    """``1 run``, ``2 runs``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def waits(count: int) -> str:
    """``1 run waits``, ``2 runs wait``."""
    return f"{plural(count)} {'waits' if count == 1 else 'wait'}"


def shown(text: str) -> str:
    """Identifying text as it may be printed: quoted and escaped if it holds a control
    character (a NUL, an escape sequence) rather than sent to the terminal."""
    return text if text.isprintable() else repr(text)


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
        what = f"unit {shown(self.entry.unit_serial)}, {self.entry.plan}, {self.verdict}"
        local = f"journal run {self.entry.local_id}"
        if self.kind == "uploaded":
            return f"uploaded {local} as run {self.server_run_id} to {server} ({what})"
        if self.kind == "already":
            return f"{local} was on {server} already as run {self.server_run_id} ({what})"
        then = "spabench sync --retry-refused tries it again once that is put right"
        if self.entry.order_id is not None:
            then += (
                f"; spabench sync --without-order {self.entry.local_id} uploads it without "
                f"order {self.entry.order_id}"
            )
        return (
            f"{local} ({what}) refused by {server}: {shown(self.reason)} "
            f"(kept in the journal; {then})"
        )


@dataclass
class SyncReport:
    """The result of a pass, and what is left in the journal after it."""

    server: str
    journal: Path
    outcomes: list[Outcome] = field(default_factory=list)
    unreachable: str | None = None
    """Why the server could not be reached (or was lost mid-pass); None if it answered."""
    refusing: str | None = None
    """Why the server refused to take runs at all (a permission, a lock), if it did."""
    waiting: int = 0
    """Runs still waiting to be uploaded here after the pass (refused ones not counted)."""
    refused: int = 0
    """Runs in the journal the server refused (in this pass or earlier)."""
    under_way: int = 0
    """Runs still being run by a live bench process (their own end uploads them)."""
    elsewhere: dict[str, int] = field(default_factory=dict)
    """Runs waiting in this journal for another records server: its URL → how many."""

    @property
    def stopped(self) -> str | None:
        """Why the pass stopped before the end (one line, kept as the runs' last error)."""
        if self.unreachable is not None:
            if self.unreachable.startswith("records server"):
                return self.unreachable  # the opening's own words name the server
            return f"records server unreachable: {self.unreachable}"
        if self.refusing is not None:
            return f"records server refused: {self.refusing}"
        return None

    def _head(self) -> str:
        if self.unreachable is not None:
            return "records server unreachable"
        return f"records server refused: {self.refusing}"

    def server_run_id(self, record_id: str) -> int | None:
        """The server's id of a run this pass uploaded (or found there), if it did."""
        for outcome in self.outcomes:
            if outcome.entry.record_id == record_id and outcome.kind != "refused":
                return outcome.server_run_id
        return None

    def count(self, *kinds: OutcomeKind) -> int:
        return sum(1 for outcome in self.outcomes if outcome.kind in kinds)

    def waiting_line(self) -> str:
        """``records server unreachable (why): 2 runs wait in the journal PATH``."""
        if self.unreachable is not None:
            return (
                f"records server unreachable ({self.unreachable}): {waits(self.waiting)} in "
                f"the journal {self.journal}"
            )
        return f"{self._head()}; {waits(self.waiting)} in the journal {self.journal}"

    def elsewhere_line(self) -> str:
        """The runs this journal holds for other servers, and how they go up ("" if none)."""
        return "; ".join(
            f"{waits(count)} in the journal {self.journal} for another records server, "
            f"{server}: not uploaded to {self.server} (spabench sync --db {server} uploads "
            f"{'it' if count == 1 else 'them'})"
            for server, count in self.elsewhere.items()
        )

    def summary(self) -> str:
        """One line: what the pass did and what still waits ("" when there was nothing)."""
        parts = []
        ids = [str(o.server_run_id) for o in self.outcomes if o.kind != "refused"]
        if len(ids) == 1:
            parts.append(f"uploaded run {ids[0]} to {self.server}")
        elif ids:
            parts.append(f"uploaded {plural(len(ids))} to {self.server} (runs {', '.join(ids)})")
        refused_now = self.count("refused")
        if refused_now:
            parts.append(f"{self.server} refused {plural(refused_now)} (spabench status lists why)")
        if self.stopped is not None:
            parts.append(
                f"{self._head()}{': ' if self.unreachable else '; '}{waits(self.waiting)} in "
                "the journal "
                f"(spabench sync uploads {'it' if self.waiting == 1 else 'them'})"
            )
        return "; ".join(parts)

    def totals(self) -> str:
        """The closing line of ``spabench sync``."""
        line = (
            f"{self.count('uploaded')} uploaded, {self.count('already')} already there, "
            f"{self.count('refused')} refused now; {self.waiting} waiting, {self.refused} "
            f"refused in the journal {self.journal}"
        )
        if self.under_way:
            line += f"; {plural(self.under_way)} under way (uploaded when it ends)"
        return line


def _ignore_outcome(_outcome: Outcome) -> None:
    return None


def sync_journal(
    journal: JournalStore,
    open_server: Callable[[], Store],
    *,
    server: Server,
    on_outcome: Callable[[Outcome], None] = _ignore_outcome,
) -> SyncReport:
    """Upload every waiting journal run filed for ``server`` to the records
    ``open_server`` opens (module doc).

    ``on_outcome`` hears each run's outcome as it happens. Never raises for an unreachable
    or refusing server: :attr:`SyncReport.stopped` says why.
    """
    report = SyncReport(server=server.shown, journal=journal.file)
    pending = [
        entry
        for entry in journal.journal_entries(pending=True)
        if entry.waiting and entry.is_for(server)
    ]
    if pending:
        try:
            records = open_server()
        except StoreOpenError as error:
            report.unreachable = str(error)
            journal.note_attempt([entry.local_id for entry in pending], str(report.stopped))
        else:
            with records:
                _upload(journal, records, pending, report, on_outcome)
    for entry in journal.journal_entries(pending=True):
        if not entry.is_for(server):
            if entry.waiting or entry.refused is not None:
                where = entry.server or entry.server_key or "?"
                report.elsewhere[where] = report.elsewhere.get(where, 0) + 1
        elif entry.waiting:
            report.waiting += 1
        elif entry.refused is not None:
            report.refused += 1
        elif entry.under_way:
            report.under_way += 1
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
        except (StoreOpenError, ServerUnreachable) as error:  # the connection went away
            report.unreachable = str(error)
        except (IntegrityError, DataError, StoreError, ValueError) as error:  # the run itself
            reason = refusal(error)
            journal.mark_refused(entry.local_id, reason)
            outcome = Outcome(entry, "refused", upload.record.verdict, reason=reason)
            report.outcomes.append(outcome)
            on_outcome(outcome)
            continue
        except DatabaseError as error:  # the server refuses the bench: a permission, a lock
            report.refusing = refusal(error)
        if report.stopped is not None:
            journal.note_attempt([entry.local_id], report.stopped)
            return  # later runs must not overtake this one
        # a crash here (the server has the run, the journal does not know) is the worst case:
        # the next pass uploads it again and the server answers with the run it has
        journal.mark_uploaded(entry.local_id, server_run_id)
        kind: OutcomeKind = "uploaded" if new else "already"
        outcome = Outcome(entry, kind, upload.record.verdict, server_run_id)
        report.outcomes.append(outcome)
        on_outcome(outcome)
