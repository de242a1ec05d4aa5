"""Uploading a finished run into the records in one piece: what ``spabench sync`` does.

A bench configured with a records server files every run live in its local journal (see
:mod:`bench.records.journal`) and uploads it, complete, when it ends. Uploads are retried
after a lost connection or a crash, and two bench processes may upload the same journal at
once, so an upload must be *idempotent*: the key is the run's ``record_id`` (a uuid4 made on
the bench when the run began), and the proof of "the same run" is the SHA-256 of its
canonical record (:mod:`bench.records.exports`):

* not on the server yet → stored, returns ``(id, True)``;
* already there with the same SHA-256 → nothing written, returns ``(existing id, False)``;
* already there with other content → :class:`ImportConflict` (a one-line refusal): two
  different runs never share an id, so that is a fault to be looked at, never overwritten.

The run goes in as ONE transaction — the runs row, every step, the frames and trace, the
final verdict — so a crash or a lost connection mid-upload leaves nothing half-stored. The
schema's triggers let a run change only once, from ``running`` to its verdict, and take
steps and frames only while running: so the row is inserted ``running``, the steps and one
``run_frames`` chunk (every frame and trace sample of the record, as live filing would have
stored them) are added, and the row is finished — all before the commit.

Before anything is stored the upload is checked as ``spabench run`` checks a run online:
the unit must be registered (a serial mistyped on a bench that was offline must not reach
the workshop's records), and the order's rules hold — an order handed back *before the run
started* refuses it, one handed back while it ran (or while its bench was offline) does not.
On a server the whole upload is bounded in time (:func:`upload_timeout`).

The SQL is portable between SQLite and PostgreSQL (``?``/``:name`` placeholders,
``RETURNING id``, ``ON CONFLICT (record_id) DO NOTHING``): on PostgreSQL two uploads of one
record may both pass the first look; the second then inserts nothing and reads the first's.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta

from bench.records.advice import FILE_SIMULATED
from bench.records.database import (
    BadLocation,
    Connection,
    NotFound,
    RecordsDatabase,
    StoreError,
    from_db,
    to_db,
    utc_now,
)
from bench.records.display import display_time
from bench.records.exports import canonical_json, canonical_text, sha256_text
from bench.records.liveness import HOST, own_start_token
from bench.records.run_records import finish_row
from bench.records.verification import run_started
from bench.testing.record import TestRecord

FINAL = ("pass", "fail", "error")
UPLOAD_TIMEOUT_ENV = "SPABENCH_UPLOAD_TIMEOUT"
UPLOAD_TIMEOUT_S = 30.0
"""Seconds one run's upload to a records server may take (``$SPABENCH_UPLOAD_TIMEOUT``
changes it): past it the upload is abandoned, and the run waits in the journal for the
next pass — a bench never hangs on a server that stopped answering."""


def upload_timeout() -> float:
    """:data:`UPLOAD_TIMEOUT_S`, or ``$SPABENCH_UPLOAD_TIMEOUT`` seconds; a value that is
    no bound (not a number, not above 0, a day or more) is :class:`BadLocation` — the
    records destination as configured cannot be honoured, and ignoring the setting would
    leave whoever made it believing it holds (checked before anything runs:
    :func:`bench.records.destination.check_location`)."""
    raw = os.environ.get(UPLOAD_TIMEOUT_ENV)
    if raw is None:
        return UPLOAD_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < 86400:
        raise BadLocation(
            f"${UPLOAD_TIMEOUT_ENV}={raw!r} is not a number of seconds above 0 and under a "
            f"day; set it so, or unset it for {UPLOAD_TIMEOUT_S:g} s"
        )
    return seconds


def _started_before(record: TestRecord, moment: str) -> bool:
    """Did the run start before ``moment`` (an order's hand-back)? A run that began while
    its order was open belongs to it, however late a bench that was offline uploads it; a
    start recorded to the second only is taken as the end of its second, as verification
    takes it (:func:`bench.records.verification.start_order`)."""
    started = run_started(record.started_at) if record.started_at else None
    if started is None:
        return False
    if "." not in record.started_at:
        started += timedelta(microseconds=999_999)
    return started < from_db(moment)


class ImportConflict(StoreError):
    """A run with this record id is stored already, with other content."""


class RunImport(RecordsDatabase):
    """:meth:`import_run`: store a finished run whole, idempotently (see module doc)."""

    def import_run(
        self,
        record: TestRecord,
        *,
        unit_serial: str | None = None,
        order_id: int | None = None,
        allow_simulated: bool = False,
        host: str | None = None,
        pid: int | None = None,
        proc_start: str | None = None,
        created_at: datetime | None = None,
    ) -> tuple[int, bool]:
        """Store the finished ``record``; returns (run id here, whether it was new).

        The unit must be registered here; the order checks are those of
        :meth:`~bench.records.run_records.RunRecords.begin_run` (the order exists, is the
        unit's and was not handed back before the run started; a simulated run goes on an
        order only with ``allow_simulated``), made inside the transaction that stores the
        run. ``host``, ``pid``, ``proc_start`` and ``created_at`` say which bench
        process filed the run and when (default: this process, now): the run keeps the
        identity it was filed with on the bench.
        """
        if record.verdict not in FINAL:
            raise ValueError(f"only a finished run is uploaded, not one {record.verdict!r}")
        serial = (unit_serial or record.unit.serial).strip()
        if not serial:
            raise ValueError("a run needs a unit serial (record.unit.serial or unit_serial=)")
        if not record.record_id:
            raise ValueError("the record has no record_id")
        text = canonical_json(record)
        digest = sha256_text(text)
        own_pid = os.getpid()
        with self._bounded_upload() as conn:
            existing = self._same_run(conn, record.record_id, digest)
            if existing is not None:
                return existing, False
            self._check_unit(conn, serial)
            self._check_order(conn, record, serial, order_id, allow_simulated)
            rows = conn.execute(
                "INSERT INTO runs (record_id, unit_serial, order_id, plan, operator, verdict,"
                " started_at, created_at, pid, host, proc_start, summary, record_json,"
                " simulated)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (record_id) DO NOTHING RETURNING id",
                (
                    record.record_id,
                    serial,
                    order_id,
                    record.plan,
                    record.operator,
                    record.started_at or to_db(utc_now()),
                    to_db(created_at or utc_now()),
                    own_pid if pid is None else pid,
                    HOST if host is None else host,
                    own_start_token(own_pid) if pid is None else proc_start,
                    record.summary,
                    text,
                    int(record.simulated),
                ),
            ).fetchall()
            if not rows:  # stored by another upload since the first look (PostgreSQL)
                existing = self._same_run(conn, record.record_id, digest)
                if existing is None:
                    raise StoreError(f"run record {record.record_id!r} could not be stored")
                return existing, False
            run_id = int(rows[0][0])
            self._store_body(conn, run_id, record)
            finish_row(conn, run_id, record, digest, text)
        return run_id, True

    @staticmethod
    def _same_run(conn: Connection, record_id: str, digest: str) -> int | None:
        """The id of the run stored under ``record_id`` if it is this very record; None if
        there is none; :class:`ImportConflict` if it is another."""
        row = conn.execute(
            "SELECT id, sha256 FROM runs WHERE record_id = ?", (record_id,)
        ).fetchone()
        if row is None:
            return None
        if row["sha256"] != digest:
            raise ImportConflict(
                f"run record {record_id} is stored already as run {row['id']} with other "
                "content; it was not uploaded again"
            )
        return int(row["id"])

    @contextmanager
    def _bounded_upload(self) -> Iterator[Connection]:
        """The upload's transaction (:meth:`_write`); on a server also bounded in time
        (:func:`upload_timeout`): the server cancels a statement that outlasts it
        (``statement_timeout``), and the connection itself is cut when the whole upload
        does (a frozen server cancels nothing) or the technician presses Ctrl-C."""
        if self.dialect != "postgresql":
            with self._write() as conn:
                yield conn
            return
        from bench.records.backends.postgresql import PgConnection

        assert isinstance(self._conn, PgConnection)
        seconds = upload_timeout()
        with self._conn.bounded(seconds), self._write() as conn:
            conn.execute(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}")
            yield conn

    def _check_unit(self, conn: Connection, serial: str) -> None:
        """The serial is registered here, as ``spabench run`` checks it online: a serial
        mistyped on a bench that was offline must not reach the workshop's records."""
        if conn.execute("SELECT 1 FROM units WHERE serial = ?", (serial,)).fetchone() is None:
            raise StoreError(
                f"unit {serial!r} is not registered in {self.location}; register it (spabench "
                f"unit add --serial {serial} --profile MODEL --purchase-date YYYY-MM-DD)"
            )

    def _check_order(
        self,
        conn: Connection,
        record: TestRecord,
        serial: str,
        order_id: int | None,
        allow_simulated: bool,
    ) -> None:
        """The order rules of ``begin_run``, read inside the upload's transaction with the
        order held (a server's row lock), so they hold when the run is committed."""
        if order_id is None:
            return
        if record.simulated and not allow_simulated:
            raise StoreError(
                f"a run on a SIMULATED UNIT is not filed on customer order {order_id} "
                f"unless that is said explicitly {FILE_SIMULATED}"
            )
        self._lock_order(conn, order_id)
        row = conn.execute(
            "SELECT unit_serial, status, status_at FROM orders WHERE id = ?", (order_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"unknown order {order_id}")
        if row["unit_serial"] != serial:
            raise StoreError(f"order {order_id} is for unit {row['unit_serial']!r}, not {serial!r}")
        if row["status"] == "handed-back" and not _started_before(record, row["status_at"]):
            raise StoreError(
                f"order {order_id} was handed back ({display_time(row['status_at'])}) before "
                "this run started; open a new order"
            )

    @staticmethod
    def _store_body(conn: Connection, run_id: int, record: TestRecord) -> None:
        """Every step, and the frames and trace as one chunk, of a run being uploaded."""
        now = to_db(utc_now())
        for seq, step in enumerate(record.steps, start=1):
            conn.execute(
                "INSERT INTO run_steps (run_id, seq, name, outcome, added_at, step_json)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, seq, step.name, step.outcome, now, canonical_text(step)),
            )
        if record.frames or record.trace:
            frames = json.dumps([asdict(entry) for entry in record.frames], separators=(",", ":"))
            trace = json.dumps([asdict(sample) for sample in record.trace], separators=(",", ":"))
            conn.execute(
                "INSERT INTO run_frames (run_id, chunk, frames_json, trace_json, added_at)"
                " VALUES (?, 1, ?, ?, ?)",
                (run_id, frames, trace, now),
            )
