"""The bench's local journal: where runs are filed when the records live on a server.

A bench configured with a records server (``--db postgresql://…``) must keep testing when
the network is down, and must never lose a run or file it twice. So every run — online or
not — is filed live in the journal, an SQLite records file of the same schema on the bench
PC (step by step, frames in chunks: as crash-safe as filing anywhere), and uploaded whole to
the server when it ends (:mod:`bench.records.journal_sync`, :mod:`bench.records.run_import`).

Where: ``$SPABENCH_JOURNAL`` if set, else ``journal-<hash>.sqlite3`` in the user data
directory, one per server: the hash is of the server's identity as the bench can know it
without connecting (:mod:`bench.records.journal_server`: host normalised, port, database —
not the role or the password), so every spelling of one server keeps one journal, and two
servers never share one.

What the journal adds to the records schema is one bookkeeping table, ``journal_runs``, made
here with ``CREATE TABLE IF NOT EXISTS`` (it is not a records migration: a records file
never has it, a journal always does). One row per journal run, written in the same
transaction as the run itself:

* ``order_id``, ``allow_simulated``: the server's order the run is filed on. The journal
  holds no orders, so the run's own ``order_id`` stays NULL here and the order rules are
  checked by the server at upload;
* ``attempts``, ``last_error``, ``last_attempt_at``: how uploading it went so far;
* ``server_run_id``, ``uploaded_at``: set once the server has it (after the server's commit,
  so a crash between the two re-uploads it, which the upload's idempotence makes a no-op);
* ``refused``: why the server refused it (it stays, listed by ``spabench status``, until
  ``spabench sync --retry-refused`` or ``--without-order`` sends it again);
* ``server``, ``server_key``: the server the run is for (shown without password, and its
  identity): a journal shared through ``$SPABENCH_JOURNAL`` never uploads a run to another
  server than the one it was filed for. (Journals made before these columns get them, NULL:
  their runs are for whichever server the journal is used with, as they always were.)

A journal run still ``running`` whose bench process is gone (killed, crashed) is finished
here, before its upload, as verdict ``error`` with the "interrupted: …" text and the steps,
frames and trace it kept (:meth:`JournalStore.upload_record`): its content is then fixed, so
every later upload attempt sends the very same record.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.records.database import NotFound, Row, StoreError, data_dir, to_db, utc_now
from bench.records.journal_server import Server, identify
from bench.records.run_records import RunFinished, RunStatus, _run_status
from bench.records.store import Store
from bench.testing.record import TestRecord

JOURNAL_ENV = "SPABENCH_JOURNAL"

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS journal_runs (
    run_id           INTEGER PRIMARY KEY REFERENCES runs(id),
    order_id         INTEGER,
    allow_simulated  INTEGER NOT NULL DEFAULT 0 CHECK (allow_simulated IN (0, 1)),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_attempt_at  TEXT,
    server_run_id    INTEGER,
    uploaded_at      TEXT,
    refused          TEXT,
    server           TEXT,
    server_key       TEXT
)
"""
_ADDED_COLUMNS = ("server", "server_key")
"""Bookkeeping columns later than the table's first form, added to an older journal."""


def journals_dir() -> Path:
    """Where the journals are kept: the user data directory."""
    return data_dir()


def journal_server(server_url: str) -> Server:
    """The server ``server_url`` names, as the journal keys it (names resolved are kept
    beside the journal)."""
    env = os.environ.get(JOURNAL_ENV)
    return identify(server_url, Path(env).parent if env else journals_dir())


def journal_path(server_url: str) -> Path:
    """``$SPABENCH_JOURNAL``, else this server's journal in the user data directory."""
    env = os.environ.get(JOURNAL_ENV)
    if env:
        return Path(env)
    digest = hashlib.sha256(journal_server(server_url).key.encode("utf-8")).hexdigest()[:12]
    return journals_dir() / f"journal-{digest}.sqlite3"


@dataclass(frozen=True)
class JournalEntry:
    """One run in the journal and how its upload stands."""

    local_id: int
    record_id: str
    unit_serial: str
    plan: str
    status: RunStatus
    """``running`` (its process is alive), ``interrupted`` (gone) or the final verdict."""
    started_at: str
    order_id: int | None
    allow_simulated: bool
    attempts: int
    last_error: str | None
    last_attempt_at: str | None
    server_run_id: int | None
    uploaded_at: str | None
    refused: str | None
    server: str | None = None
    """The server the run is for, as shown (None: a journal older than that column)."""
    server_key: str | None = None
    """That server's identity (:attr:`bench.records.journal_server.Server.key`)."""

    def is_for(self, server: Server) -> bool:
        """Is the run to be uploaded to ``server`` (a run of an older journal: any)?"""
        return self.server_key is None or self.server_key == server.key

    @property
    def waiting(self) -> bool:
        """To be uploaded now: ended (finished or interrupted), neither uploaded nor refused."""
        return self.server_run_id is None and self.refused is None and self.status != "running"

    @property
    def under_way(self) -> bool:
        """Still being run by a live bench process: its own end uploads it."""
        return self.server_run_id is None and self.refused is None and self.status == "running"


_ENTRY_SQL = """
    SELECT r.id, r.record_id, r.unit_serial, r.plan, r.verdict, r.started_at, r.pid, r.host,
           r.proc_start, j.order_id, j.allow_simulated, j.attempts, j.last_error,
           j.last_attempt_at, j.server_run_id, j.uploaded_at, j.refused, j.server, j.server_key
    FROM runs r JOIN journal_runs j ON j.run_id = r.id
"""


def _entry(row: Row) -> JournalEntry:
    return JournalEntry(
        local_id=row["id"],
        record_id=row["record_id"],
        unit_serial=row["unit_serial"],
        plan=row["plan"],
        status=_run_status(row),
        started_at=row["started_at"],
        order_id=row["order_id"],
        allow_simulated=bool(row["allow_simulated"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        last_attempt_at=row["last_attempt_at"],
        server_run_id=row["server_run_id"],
        uploaded_at=row["uploaded_at"],
        refused=row["refused"],
        server=row["server"],
        server_key=row["server_key"],
    )


@dataclass(frozen=True)
class Upload:
    """What the server needs besides the record: who filed the run, where, and on what."""

    record: TestRecord
    unit_serial: str
    order_id: int | None
    allow_simulated: bool
    host: str
    pid: int
    proc_start: str | None
    created_at: str


class JournalStore(Store):
    """A journal file: the records schema plus ``journal_runs`` (see module doc)."""

    def __init__(self, path: Path | str, *, server: Server | None = None, **options: Any) -> None:
        self.file = Path(path)
        """The journal file (a journal is always a file on the bench PC)."""
        self.server = server
        """The server the runs begun here are for (None: not said, as in an older journal)."""
        super().__init__(self.file, **options)
        if not self.read_only:
            with self._write() as conn:
                conn.execute(_BOOKKEEPING)
                have = {row["name"] for row in conn.execute("PRAGMA table_info(journal_runs)")}
                for column in _ADDED_COLUMNS:
                    if column not in have:
                        conn.execute(f"ALTER TABLE journal_runs ADD COLUMN {column} TEXT")

    def begin_run(
        self,
        record: TestRecord,
        *,
        unit_serial: str | None = None,
        order_id: int | None = None,
        allow_simulated: bool = False,
    ) -> int:
        """File a starting run in the journal; its order is kept for the server to check
        (the journal has no orders). The run and its bookkeeping row are one transaction."""
        with self._write() as conn:
            self.grouped = True
            try:
                run_id = super().begin_run(record, unit_serial=unit_serial)
            finally:
                self.grouped = False
            server = self.server
            conn.execute(
                "INSERT INTO journal_runs (run_id, order_id, allow_simulated, server,"
                " server_key) VALUES (?, ?, ?, ?, ?)",
                (
                    run_id,
                    order_id,
                    int(allow_simulated),
                    None if server is None else server.shown,
                    None if server is None else server.key,
                ),
            )
        return run_id

    # -- reading --------------------------------------------------------------------------

    def journal_entries(self, *, pending: bool = False) -> list[JournalEntry]:
        """The journal's runs, oldest first; ``pending``: only those not uploaded (waiting,
        under way, refused), which stays a short list however long the journal grows."""
        where = "WHERE j.server_run_id IS NULL" if pending else ""
        rows = self._conn.execute(f"{_ENTRY_SQL} {where} ORDER BY r.id").fetchall()
        return [_entry(row) for row in rows]

    def journal_entry(self, local_id: int) -> JournalEntry:
        row = self._one(f"{_ENTRY_SQL} WHERE r.id = ?", (local_id,))
        if row is None:
            raise NotFound(f"no run {local_id} in the journal {self.file}")
        return _entry(row)

    def last_upload(self) -> JournalEntry | None:
        """The run uploaded most recently, if any."""
        row = self._one(
            f"{_ENTRY_SQL} WHERE j.uploaded_at IS NOT NULL ORDER BY j.uploaded_at DESC LIMIT 1"
        )
        return None if row is None else _entry(row)

    def upload_record(self, entry: JournalEntry) -> Upload:
        """The record to upload for ``entry``: its final record; for a run whose process is
        gone, the record it kept, first finished here as verdict ``error`` (module doc)."""
        if entry.status == "interrupted":
            self._finish_interrupted(entry.local_id)
        row = self._one(
            "SELECT unit_serial, pid, host, proc_start, created_at FROM runs WHERE id = ?",
            (entry.local_id,),
        )
        assert row is not None
        record = self.run_record(entry.local_id)
        return Upload(
            record=record,
            unit_serial=row["unit_serial"],
            order_id=entry.order_id,
            allow_simulated=entry.allow_simulated,
            host=row["host"],
            pid=row["pid"],
            proc_start=row["proc_start"],
            created_at=row["created_at"],
        )

    def _finish_interrupted(self, local_id: int) -> None:
        record = self.run_record(local_id)  # steps, frames, trace kept; "interrupted: …"
        if record.verdict != "interrupted":
            return  # finished meanwhile (by its process, or another sync)
        kept = self._one(
            "SELECT max(at) AS last FROM (SELECT max(added_at) AS at FROM run_steps"
            " WHERE run_id = :id UNION ALL SELECT max(added_at) FROM run_frames"
            " WHERE run_id = :id UNION ALL SELECT created_at FROM runs WHERE id = :id) kept",
            {"id": local_id},
        )
        assert kept is not None
        record.verdict = "error"
        record.finished_at = kept["last"]
        record.summary = record.summary or "interrupted: the run did not finish"
        with contextlib.suppress(RunFinished):  # another sync finished it first: the same
            self.finish_run(local_id, record)

    # -- bookkeeping ----------------------------------------------------------------------

    def note_attempt(self, local_ids: Sequence[int], error: str) -> None:
        """One failed upload attempt of each run, and why (one transaction for them all)."""
        now = to_db(utc_now())
        with self._write() as conn:
            for local_id in local_ids:
                conn.execute(
                    "UPDATE journal_runs SET attempts = attempts + 1, last_error = ?,"
                    " last_attempt_at = ? WHERE run_id = ?",
                    (error, now, local_id),
                )

    def mark_uploaded(self, local_id: int, server_run_id: int) -> None:
        """The server has the run (committed there first): it no longer waits."""
        with self._write() as conn:
            conn.execute(
                "UPDATE journal_runs SET server_run_id = :server, uploaded_at = :now,"
                " last_error = NULL, attempts = attempts + 1, last_attempt_at = :now"
                " WHERE run_id = :id AND server_run_id IS NULL",
                {"server": server_run_id, "now": to_db(utc_now()), "id": local_id},
            )

    def mark_refused(self, local_id: int, reason: str) -> None:
        """The server refused the run: it stays in the journal, listed with the reason."""
        with self._write() as conn:
            conn.execute(
                "UPDATE journal_runs SET refused = :why, last_error = :why,"
                " attempts = attempts + 1, last_attempt_at = :now"
                " WHERE run_id = :id AND server_run_id IS NULL",
                {"why": reason, "now": to_db(utc_now()), "id": local_id},
            )

    def retry_refused(self) -> int:
        """Refused runs wait again (the unit registered meanwhile, the server put right):
        the next pass uploads them; how many."""
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE journal_runs SET refused = NULL"
                " WHERE refused IS NOT NULL AND server_run_id IS NULL RETURNING run_id"
            ).fetchall()
        return len(rows)

    def drop_order(self, local_id: int) -> int:
        """Journal run ``local_id`` is to be uploaded without its order (a technician's
        decision: the order was handed back before the run, or is not the unit's); it waits
        again. Returns the order it was on; :class:`StoreError` for a run that cannot."""
        entry = self.journal_entry(local_id)
        if entry.server_run_id is not None:
            raise StoreError(
                f"journal run {local_id} is uploaded already (run {entry.server_run_id})"
            )
        if entry.order_id is None:
            raise StoreError(f"journal run {local_id} is on no order")
        if entry.under_way:
            raise StoreError(f"journal run {local_id} is still under way")
        with self._write() as conn:
            conn.execute(
                "UPDATE journal_runs SET order_id = NULL, refused = NULL, last_error = :why"
                " WHERE run_id = :id AND server_run_id IS NULL",
                {
                    "why": f"uploaded without its order {entry.order_id} (--without-order)",
                    "id": local_id,
                },
            )
        return entry.order_id
