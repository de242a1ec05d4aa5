"""Bench runs as kept: a run, its steps as they finish, its final record, its history.

The runner's API, called as a run progresses::

    run_id = store.begin_run(record, unit_serial=..., order_id=...)  # status running
    store.add_step(run_id, step)         # committed as each step finishes
    store.add_frames(run_id, chunk, entries)  # the wire traffic so far, chunk 1, 2, ...
    store.finish_run(run_id, record)     # final verdict + record; never modified again

A run left ``running`` whose process is gone (pid not alive on this host, see
:mod:`bench.records.liveness`) reads back as ``interrupted`` everywhere, with the steps it
completed and the frames and trace samples stored so far (``run_frames``, schema 2). Listings read
:class:`RunInfo` rows, never the (possibly large) record JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from bench.records.advice import FILE_SIMULATED
from bench.records.database import (
    Connection,
    IntegrityError,
    NotFound,
    RecordsDatabase,
    Row,
    StoreError,
    from_db,
    refusal,
    to_db,
    utc_now,
)
from bench.records.exports import canonical_json, canonical_text, sha256_text
from bench.records.liveness import HOST, own_start_token, process_alive
from bench.testing.record import FrameEntry, StepResult, TestRecord, TraceSample

FINAL_VERDICTS: tuple[str, ...] = ("pass", "fail", "error")
RunStatus = Literal["running", "interrupted", "pass", "fail", "error"]


class RunFinished(StoreError):
    """A finished run was asked to change."""


class SimulatedOnOrder(StoreError):
    """A run on a simulated unit was to be filed on a customer's order without saying so."""


@dataclass(frozen=True)
class RunInfo:
    """A stored run without its (possibly large) record JSON."""

    id: int
    record_id: str
    unit_serial: str
    order_id: int | None
    plan: str
    operator: str
    status: RunStatus
    """``running`` / ``interrupted`` (process gone) / the final verdict."""
    started_at: str
    finished_at: str | None
    created_at: datetime
    pid: int
    host: str
    summary: str
    sha256: str | None
    steps_done: int
    simulated: bool = False
    """The unit was a simulation (migration 0002): never evidence about a customer's box."""

    @property
    def finished(self) -> bool:
        return self.status in FINAL_VERDICTS


_RUN_COLUMNS = """
    r.id, r.record_id, r.unit_serial, r.order_id, r.plan, r.operator, r.verdict, r.started_at,
    r.finished_at, r.created_at, r.pid, r.host, r.proc_start, r.summary, r.sha256,
    r.simulated,
    (SELECT count(*) FROM run_steps s WHERE s.run_id = r.id) AS steps_done
"""


def _run_status(row: Row) -> RunStatus:
    verdict: RunStatus = row["verdict"]
    if verdict != "running" or row["host"] != HOST:
        return verdict  # another host's process cannot be checked from here
    return "running" if process_alive(row["pid"], row["proc_start"]) else "interrupted"


def _run(row: Row) -> RunInfo:
    return RunInfo(
        id=row["id"],
        record_id=row["record_id"],
        unit_serial=row["unit_serial"],
        order_id=row["order_id"],
        plan=row["plan"],
        operator=row["operator"],
        status=_run_status(row),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        created_at=from_db(row["created_at"]),
        pid=row["pid"],
        host=row["host"],
        summary=row["summary"],
        sha256=row["sha256"],
        steps_done=row["steps_done"],
        simulated=bool(row["simulated"]),
    )


def _step_json(step: StepResult) -> str:
    return canonical_text(step)


def _step(text: str) -> StepResult:
    return TestRecord.from_dict({"record_id": "", "plan": "", "steps": [json.loads(text)]}).steps[0]


def finish_row(conn: Connection, run_id: int, record: TestRecord, digest: str, text: str) -> None:
    """The one change a running run's row may take (the schema's triggers allow only this):
    its final verdict, times, summary, operator, hash and record JSON (``text``, hashing to
    ``digest``). Shared by a live run's end and an uploaded run's import."""
    conn.execute(
        "UPDATE runs SET verdict = ?, finished_at = ?, summary = ?, operator = ?,"
        " sha256 = ?, record_json = ? WHERE id = ?",
        (
            record.verdict,
            record.finished_at or to_db(utc_now()),
            record.summary,
            record.operator,
            digest,
            text,
            run_id,
        ),
    )


class RunRecords(RecordsDatabase):
    """The ``runs`` and ``run_steps`` tables."""

    def begin_run(
        self,
        record: TestRecord,
        *,
        unit_serial: str | None = None,
        order_id: int | None = None,
        allow_simulated: bool = False,
    ) -> int:
        """Store a run that is starting (status ``running``, this process's pid and host).

        ``unit_serial`` defaults to ``record.unit.serial``; it need not be a registered unit
        (a bench may test a box before intake; ``spabench run`` itself refuses unregistered
        serials), but if ``order_id`` is given the order must be open and belong to that
        unit. A run on a simulated unit (``record.simulated``) is never evidence about a
        customer's box: it is filed on an order only with ``allow_simulated`` (``spabench
        run --simulated``), and :class:`SimulatedOnOrder` refuses it otherwise.
        """
        serial = (unit_serial or record.unit.serial).strip()
        if not serial:
            raise ValueError("a run needs a unit serial (record.unit.serial or unit_serial=)")
        if not record.record_id:
            raise ValueError("the record has no record_id")
        if order_id is not None and record.simulated and not allow_simulated:
            raise SimulatedOnOrder(
                f"a run on a SIMULATED UNIT is not filed on customer order {order_id} "
                f"unless that is said explicitly {FILE_SIMULATED}"
            )
        if order_id is not None:
            row = self._one("SELECT unit_serial, status FROM orders WHERE id = ?", (order_id,))
            if row is None:
                raise NotFound(f"unknown order {order_id}")
            if row["unit_serial"] != serial:
                raise ValueError(
                    f"order {order_id} is for unit {row['unit_serial']!r}, not {serial!r}"
                )
            if row["status"] == "handed-back":
                raise StoreError(f"order {order_id} is handed back; open a new order")
        now = utc_now()
        pid = os.getpid()
        try:
            with self._write() as conn:
                row = conn.execute(
                    "INSERT INTO runs (record_id, unit_serial, order_id, plan, operator, verdict,"
                    " started_at, created_at, pid, host, proc_start, summary, record_json,"
                    " simulated)"
                    " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        record.record_id,
                        serial,
                        order_id,
                        record.plan,
                        record.operator,
                        record.started_at or to_db(now),
                        to_db(now),
                        pid,
                        HOST,
                        own_start_token(pid),
                        record.summary,
                        canonical_json(record),
                        int(record.simulated),
                    ),
                ).fetchone()
        except IntegrityError as error:
            if self._one("SELECT 1 FROM runs WHERE record_id = ?", (record.record_id,)):
                raise StoreError(
                    f"a run with record id {record.record_id!r} is already stored"
                ) from None
            raise StoreError(f"the run was not stored: {refusal(error)}") from None
        run_id: int = row[0]
        return run_id

    def add_step(self, run_id: int, step: StepResult) -> None:
        """Append one finished step; committed before this returns."""
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO run_steps (run_id, seq, name, outcome, added_at, step_json)"
                    " SELECT :id, coalesce(max(seq), 0) + 1, :name, :outcome, :at, :json"
                    " FROM run_steps WHERE run_id = :id",
                    {
                        "id": run_id,
                        "name": step.name,
                        "outcome": step.outcome,
                        "at": to_db(utc_now()),
                        "json": _step_json(step),
                    },
                )
        except IntegrityError as error:
            if self.run(run_id).finished:  # NotFound for an unknown run
                raise RunFinished(f"run {run_id} is finished; steps cannot be added") from None
            raise StoreError(f"run {run_id}: the step was not stored: {error}") from None

    def add_frames(
        self,
        run_id: int,
        chunk: int,
        entries: Sequence[FrameEntry],
        trace: Sequence[TraceSample] = (),
    ) -> None:
        """Store chunk ``chunk`` (1, 2, ...) of a running run's frames and the ``trace``
        samples taken since the last chunk; committed before this returns, so a run cut short
        keeps the wire traffic and the chart samples stored up to then. A chunk number is
        used once (:class:`StoreError` otherwise) and a finished run takes no more."""
        if chunk < 1:
            raise ValueError(f"frame chunks are numbered from 1, got {chunk}")
        text = json.dumps([asdict(entry) for entry in entries], separators=(",", ":"))
        samples = json.dumps([asdict(sample) for sample in trace], separators=(",", ":"))
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO run_frames (run_id, chunk, frames_json, trace_json, added_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (run_id, chunk, text, samples, to_db(utc_now())),
                )
        except IntegrityError as error:
            if self.run(run_id).finished:  # NotFound for an unknown run
                raise RunFinished(f"run {run_id} is finished; frames cannot be added") from None
            raise StoreError(f"run {run_id}: frame chunk {chunk} was not stored: {error}") from None

    def run_frames(self, run_id: int) -> list[FrameEntry]:
        """The frames stored as the run went (every chunk, in order)."""
        rows = self._conn.execute(
            "SELECT frames_json FROM run_frames WHERE run_id = ? ORDER BY chunk", (run_id,)
        ).fetchall()
        return [FrameEntry(**item) for row in rows for item in json.loads(row["frames_json"])]

    def run_trace(self, run_id: int) -> list[TraceSample]:
        """The trace samples stored as the run went (every chunk, in order)."""
        rows = self._conn.execute(
            "SELECT trace_json FROM run_frames WHERE run_id = ? ORDER BY chunk", (run_id,)
        ).fetchall()
        return [TraceSample(**item) for row in rows for item in json.loads(row["trace_json"])]

    @staticmethod
    def _insert_step(conn: Connection, run_id: int, seq: int, step: StepResult) -> None:
        conn.execute(
            "INSERT INTO run_steps (run_id, seq, name, outcome, added_at, step_json)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, seq, step.name, step.outcome, to_db(utc_now()), _step_json(step)),
        )

    def finish_run(self, run_id: int, record: TestRecord) -> str:
        """Store the final record and verdict; returns the record's SHA-256.

        Steps of ``record`` not yet added with :meth:`add_step` are added now, so the steps
        table always holds every step of a finished run. After this the run is read-only.
        """
        if record.verdict not in FINAL_VERDICTS:
            raise ValueError(
                f"finish_run needs a final verdict (pass/fail/error), got {record.verdict!r}"
            )
        text = canonical_json(record)
        digest = sha256_text(text)
        try:
            with self._write() as conn:
                row = conn.execute(
                    "SELECT record_id, verdict FROM runs WHERE id = ?", (run_id,)
                ).fetchone()
                if row is None:
                    raise NotFound(f"unknown run {run_id}")
                if row["verdict"] != "running":
                    raise RunFinished(f"run {run_id} is already finished ({row['verdict']})")
                if row["record_id"] != record.record_id:
                    raise ValueError(
                        f"run {run_id} is record {row['record_id']!r}, not {record.record_id!r}"
                    )
                stored = [
                    r["name"]
                    for r in conn.execute(
                        "SELECT name FROM run_steps WHERE run_id = ? ORDER BY seq", (run_id,)
                    )
                ]
                names = [step.name for step in record.steps]
                if names[: len(stored)] != stored:
                    raise ValueError(
                        f"run {run_id}: the record's steps {names} do not continue the steps "
                        f"already stored {stored}"
                    )
                for seq, step in enumerate(record.steps[len(stored) :], start=len(stored) + 1):
                    self._insert_step(conn, run_id, seq, step)
                finish_row(conn, run_id, record, digest, text)
        except IntegrityError as error:
            raise RunFinished(f"run {run_id}: {error}") from None
        return digest

    def run(self, run_id: int) -> RunInfo:
        row = self._one(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,))
        if row is None:
            raise NotFound(f"unknown run {run_id}")
        return _run(row)

    def run_by_record_id(self, record_id: str) -> RunInfo:
        row = self._one(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.record_id = ?", (record_id,))
        if row is None:
            raise NotFound(f"unknown run record {record_id!r}")
        return _run(row)

    def runs_for_unit(self, serial: str) -> list[RunInfo]:
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.unit_serial = ? ORDER BY r.id",
            (serial.strip(),),
        ).fetchall()
        return [_run(row) for row in rows]

    def runs_for_order(self, order_id: int) -> list[RunInfo]:
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.order_id = ? ORDER BY r.id", (order_id,)
        ).fetchall()
        return [_run(row) for row in rows]

    def run_steps(self, run_id: int) -> list[StepResult]:
        rows = self._conn.execute(
            "SELECT step_json FROM run_steps WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        return [_step(row["step_json"]) for row in rows]

    def run_record(self, run_id: int) -> TestRecord:
        """The run's record: the final one if finished; otherwise the record as it began,
        with the steps completed and the frames and trace samples stored so far, and verdict
        ``running`` or ``interrupted``."""
        info = self.run(run_id)
        row = self._one("SELECT record_json FROM runs WHERE id = ?", (run_id,))
        assert row is not None
        record = TestRecord.from_json(row["record_json"])
        if info.finished:
            return record
        record.steps = self.run_steps(run_id)
        record.frames = self.run_frames(run_id)
        record.trace = self.run_trace(run_id)
        record.verdict = info.status
        if info.status == "interrupted":
            record.error = (
                f"interrupted: the bench process (pid {info.pid} on {info.host}) ended before "
                "the run finished"
            )
        return record
