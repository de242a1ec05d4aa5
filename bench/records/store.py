"""The records store: units, service orders and bench runs in one embedded SQLite file.

Why SQLite and these settings: a service centre has one or a few bench PCs, no database
server, and must not lose a record when a bench process is killed or two benches write at
once. So:

* WAL journal + ``synchronous=NORMAL``: a killed process never corrupts the file or loses a
  committed transaction; a power cut may lose the last few commits, never the file.
* every write is one short ``BEGIN IMMEDIATE`` transaction under a busy timeout, so two
  processes writing at once queue instead of failing (a deferred transaction that upgrades to
  a write lock fails at once with "database is locked", whatever the timeout);
* foreign keys on; finished runs, steps and the status timeline are protected by triggers,
  so even a hand-written ``UPDATE`` cannot rewrite history; corrections are new ``notes`` rows;
* the schema is versioned (``PRAGMA user_version``, see :mod:`bench.records.migrations`); a file
  that is corrupt, not ours, or newer than this code is refused with one line and never
  written to.

The runner's API, called as a run progresses::

    run_id = store.begin_run(record, unit_serial=..., order_id=...)  # status running
    store.add_step(run_id, step)         # committed as each step finishes
    store.finish_run(run_id, record)     # final verdict + record; never modified again

A run left ``running`` whose process is gone (pid not alive on this host) reads back as
``interrupted`` everywhere, with the steps it completed.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import os
import re
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from platformdirs import user_data_dir
from rich.table import Table

from bench.records.exports import canonical_json, canonical_text, sha256_text
from bench.records.migrations import APPLICATION_ID, MIGRATIONS, Migration, SchemaTooNew, migrate
from bench.records.orders import (
    AGREEMENTS,
    FINAL_STATUS,
    Agreement,
    IllegalTransition,
    Order,
    Status,
    check_transition,
    parse_status,
)
from bench.testing.record import StepResult, TestRecord
from protocols.cli_support import EXIT_ERROR, UsageError
from protocols.files import OutputWriteError
from protocols.mspa.parts import UnknownPart, lookup

if TYPE_CHECKING:
    from rich.console import Console

DB_ENV = "SPABENCH_DB"
DB_FILENAME = "records.sqlite3"
FINAL_VERDICTS: tuple[str, ...] = ("pass", "fail", "error")
RunStatus = Literal["running", "interrupted", "pass", "fail", "error"]
HOST = socket.gethostname()


class StoreError(Exception):
    """A records problem the user can act on; the message is one line."""


class StoreOpenError(StoreError):
    """The file cannot be used: corrupt, not a records database, or a newer schema."""


class NotFound(StoreError):
    """No unit / order / run with that key."""


class RunFinished(StoreError):
    """A finished run was asked to change."""


# --------------------------------------------------------------------------- time helpers


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    """UTC, microseconds, fixed width: text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` or ValueError with the reason in one line."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}") from None


# ------------------------------------------------------------------------------ entities


@dataclass(frozen=True)
class Unit:
    serial: str
    profile: str
    purchase_date: date
    owner: str
    original_owner: bool
    added_at: datetime


@dataclass(frozen=True)
class StatusChange:
    status: Status
    at: datetime
    by: str
    note: str


@dataclass(frozen=True)
class Contact:
    at: datetime
    by: str
    note: str


@dataclass(frozen=True)
class PartReplaced:
    part_number: str
    quantity: int
    at: datetime
    by: str


@dataclass(frozen=True)
class Note:
    id: int
    order_id: int | None
    run_id: int | None
    kind: Literal["note", "correction"]
    at: datetime
    by: str
    text: str


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

    @property
    def finished(self) -> bool:
        return self.status in FINAL_VERDICTS


# ------------------------------------------------------------------------ process liveness


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) from /proc, or None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], fields[19]


@functools.cache
def _own_start_token(pid: int) -> str | None:
    return process_start_token(pid)


def process_start_token(pid: int) -> str | None:
    """Identifies one incarnation of ``pid``, so a reused pid is not taken for the old run."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def process_alive(pid: int, start_token: str | None = None) -> bool:
    """Is the process that wrote a run still there (on this host)?"""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    if state in ("Z", "X"):  # killed but not yet reaped by its parent
        return False
    return start_token is None or start == start_token


# ------------------------------------------------------------------------------- opening


def default_db_path() -> Path:
    """``$SPABENCH_DB`` if set, else ``records.sqlite3`` in the user's data directory."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env)
    return Path(user_data_dir("spabench")) / DB_FILENAME


def _read_only_uri(path: Path, immutable: bool = False) -> str:
    return f"{path.resolve().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"


def _open_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection that also works on a read-only file system.

    A WAL database needs its ``-shm`` file; where it is absent and cannot be created (a
    read-only mount, a write-protected directory) no process can be writing the file either,
    so it is opened ``immutable`` instead.
    """
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True, timeout=timeout)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", None) != sqlite3.SQLITE_CANTOPEN:
                return conn  # the caller's checks say what is wrong with the file
            conn.close()
            conn = sqlite3.connect(_read_only_uri(path, immutable=True), uri=True, timeout=timeout)
        except sqlite3.DatabaseError:
            return conn  # likewise
        return conn
    except sqlite3.Error as error:
        raise StoreOpenError(f"cannot open records database {path}: {error}") from None


def _damage(conn: sqlite3.Connection) -> str | None:
    """What ``PRAGMA quick_check`` finds wrong (first line), or None for a sound file.

    quick_check reads every page (O(N), no index cross-check), so damage anywhere in the file
    is found when it is opened, before a run starts, not when a commit happens to touch it.
    """
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as error:  # too broken to even walk
        return str(error)
    first = str(rows[0][0]) if rows else "no answer"
    if first == "ok":
        return None
    return first.replace("*** in database main ***", "").strip().splitlines()[0]


def _inspect(conn: sqlite3.Connection, path: Path, latest: int, full: bool) -> int:
    """Refuse an existing file we must not use; returns its schema version.

    ``full`` (writers) also runs :func:`_damage` over the whole file; a reader skips it (it
    costs a read of every page) and meets damage, if any, as a one-line error on the page
    it reads — a read-only connection cannot make damage worse.
    """
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        objects = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        damage = _damage(conn) if full else None
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_CORRUPT:
            raise _damaged(path, str(error)) from None
        raise StoreOpenError(
            f"{path} is not a readable records database ({error}); the file was left untouched"
        ) from None
    if app_id != APPLICATION_ID and (version or objects):
        raise StoreOpenError(
            f"{path} is an SQLite file but not a spabench records database; "
            "the file was left untouched"
        )
    if version > latest:
        raise StoreOpenError(
            f"{path} has records schema version {version}, newer than this spabench "
            f"understands ({latest}); upgrade spabench (the file was left untouched)"
        )
    if damage is not None:
        raise _damaged(path, damage)
    return version


def _damaged(path: Path, detail: str) -> StoreOpenError:
    return StoreOpenError(
        f"{path} is damaged ({detail}); restore a backup "
        "or salvage it with 'sqlite3 FILE .recover' (the file was left untouched)"
    )


def _connect(
    path: Path, timeout: float, migrations: tuple[Migration, ...], read_only: bool
) -> sqlite3.Connection:
    try:
        exists = path.exists() and path.stat().st_size > 0
        if not exists:
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreOpenError(f"cannot open records database {path}: {error}") from None
    if exists:
        checked = _open_read_only(path, timeout)
        try:
            version = _inspect(checked, path, len(migrations), full=not read_only)
        finally:
            checked.close()
        if read_only and version == len(migrations):
            conn = _open_read_only(path, timeout)
            conn.row_factory = sqlite3.Row
            return conn
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn, migrations)
    except SchemaTooNew as error:
        conn.close()
        raise StoreOpenError(f"{path}: {error}; upgrade spabench") from None
    except sqlite3.DatabaseError as error:
        conn.close()
        raise StoreOpenError(f"cannot use records database {path}: {error}") from None
    conn.row_factory = sqlite3.Row
    return conn


# --------------------------------------------------------------------------------- store

_ORDER_COLUMNS = """
    o.id, o.unit_serial, o.opened_at, o.opened_by, o.symptom, o.agreement, o.quote_cents,
    o.quote_date, o.promised_date, o.status, o.status_at,
    (SELECT min(c.at) FROM contacts c WHERE c.order_id = o.id) AS first_contact_at
"""
_RUN_COLUMNS = """
    r.id, r.record_id, r.unit_serial, r.order_id, r.plan, r.operator, r.verdict, r.started_at,
    r.finished_at, r.created_at, r.pid, r.host, r.proc_start, r.summary, r.sha256,
    (SELECT count(*) FROM run_steps s WHERE s.run_id = r.id) AS steps_done
"""


def _order(row: sqlite3.Row) -> Order:
    return Order(
        id=row["id"],
        unit_serial=row["unit_serial"],
        opened_at=from_db(row["opened_at"]),
        opened_by=row["opened_by"],
        symptom=row["symptom"],
        agreement=row["agreement"],
        quote_cents=row["quote_cents"],
        quote_date=None if row["quote_date"] is None else date.fromisoformat(row["quote_date"]),
        promised=None if row["promised_date"] is None else date.fromisoformat(row["promised_date"]),
        status=row["status"],
        status_at=from_db(row["status_at"]),
        first_contact_at=None
        if row["first_contact_at"] is None
        else from_db(row["first_contact_at"]),
    )


def _run_status(row: sqlite3.Row) -> RunStatus:
    verdict: RunStatus = row["verdict"]
    if verdict != "running" or row["host"] != HOST:
        return verdict  # another host's process cannot be checked from here
    return "running" if process_alive(row["pid"], row["proc_start"]) else "interrupted"


def _run(row: sqlite3.Row) -> RunInfo:
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
    )


def _step_json(step: StepResult) -> str:
    return canonical_text(step)


def _step(text: str) -> StepResult:
    return TestRecord.from_dict({"record_id": "", "plan": "", "steps": [json.loads(text)]}).steps[0]


class Store:
    """One open records database. Not thread-safe: one per thread/process."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        timeout: float = 30.0,
        migrations: tuple[Migration, ...] = MIGRATIONS,
        read_only: bool = False,
    ) -> None:
        """Open (or create) the records at ``path``.

        Every existing file is checked first (ours, not newer, ``quick_check`` clean) and
        refused with :class:`StoreOpenError` otherwise. ``read_only`` opens it ``mode=ro``
        so read commands work on a read-only file system; a missing or older file is still
        created/migrated then (nothing to read otherwise).
        """
        self.path = default_db_path() if path is None else Path(path)
        self.read_only = read_only
        self._conn = _connect(self.path, timeout, migrations, read_only)
        self._in_batch = False

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock up front (see module doc).

        Inside :meth:`batch` it is a savepoint instead: a failed call still undoes only
        itself, but nothing is committed until the batch ends.
        """
        conn = self._conn
        begin, undo, done = (
            ("SAVEPOINT op", "ROLLBACK TO op", "RELEASE op")
            if self._in_batch
            else ("BEGIN IMMEDIATE", "ROLLBACK", "COMMIT")
        )
        conn.execute(begin)
        try:
            yield conn
        except BaseException:
            conn.execute(undo)
            if self._in_batch:
                conn.execute(done)
            raise
        conn.execute(done)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many calls into one transaction: for imports and bulk loads, where a commit
        per call would dominate. Never for a live run — its steps must be committed as they
        finish — and keep batches short: other processes wait for the write lock meanwhile.
        """
        if self._in_batch:
            raise StoreError("store batches do not nest")
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_batch = True
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._in_batch = False

    def _one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def _order_status(self, order_id: int) -> str:
        """The order's current status; NotFound if there is no such order."""
        row = self._one("SELECT status FROM orders WHERE id = ?", (order_id,))
        if row is None:
            raise NotFound(f"unknown order {order_id}")
        status: str = row["status"]
        return status

    # ---------------------------------------------------------------------------- units

    def add_unit(
        self,
        serial: str,
        profile: str,
        purchase_date: date,
        *,
        owner: str = "",
        original_owner: bool = True,
        now: datetime | None = None,
    ) -> Unit:
        serial, profile = serial.strip(), profile.strip()
        if not serial:
            raise ValueError("the serial number is empty")
        if not profile:
            raise ValueError("the profile is empty")
        added = now or utc_now()
        if purchase_date > added.date():
            raise ValueError(f"the purchase date {purchase_date.isoformat()} is in the future")
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO units (serial, profile, purchase_date, owner, original_owner,"
                    " added_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        serial,
                        profile,
                        purchase_date.isoformat(),
                        owner,
                        original_owner,
                        to_db(added),
                    ),
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"unit {serial!r} is already registered") from None
        return self.unit(serial)

    def unit(self, serial: str) -> Unit:
        row = self._one("SELECT * FROM units WHERE serial = ?", (serial.strip(),))
        if row is None:
            raise NotFound(f"unknown unit serial {serial!r}")
        return Unit(
            serial=row["serial"],
            profile=row["profile"],
            purchase_date=date.fromisoformat(row["purchase_date"]),
            owner=row["owner"],
            original_owner=bool(row["original_owner"]),
            added_at=from_db(row["added_at"]),
        )

    def has_unit(self, serial: str) -> bool:
        return self._one("SELECT 1 FROM units WHERE serial = ?", (serial.strip(),)) is not None

    # --------------------------------------------------------------------------- orders

    def open_order(
        self,
        serial: str,
        symptom: str,
        *,
        agreement: Agreement = "diagnosis",
        quote_cents: int | None = None,
        promised: date | None = None,
        by: str = "",
        now: datetime | None = None,
    ) -> int:
        """Intake: a new order in status ``received``; returns its id."""
        symptom = symptom.strip()
        if not symptom:
            raise ValueError("the customer's symptom is empty: write what they said")
        if agreement not in AGREEMENTS:
            raise ValueError(f"agreement must be one of {', '.join(AGREEMENTS)}")
        if quote_cents is not None and quote_cents < 0:
            raise ValueError("the quote cannot be negative")
        opened = now or utc_now()
        if promised is not None and promised < opened.date():
            raise ValueError(f"the promised date {promised.isoformat()} is in the past")
        if not self.has_unit(serial):
            raise NotFound(f"unknown unit serial {serial!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO orders (unit_serial, opened_at, opened_by, symptom, agreement,"
                " quote_cents, quote_date, promised_date, status, status_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', ?)",
                (
                    serial.strip(),
                    to_db(opened),
                    by,
                    symptom,
                    agreement,
                    quote_cents,
                    None if quote_cents is None else opened.date().isoformat(),
                    None if promised is None else promised.isoformat(),
                    to_db(opened),
                ),
            )
            order_id = cursor.lastrowid
            assert order_id is not None
            conn.execute(
                "INSERT INTO order_status (order_id, status, at, by) VALUES (?, 'received', ?, ?)",
                (order_id, to_db(opened), by),
            )
        return order_id

    def order(self, order_id: int) -> Order:
        row = self._one(f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.id = ?", (order_id,))
        if row is None:
            raise NotFound(f"unknown order {order_id}")
        return _order(row)

    def orders(self, *, open_only: bool = False, serial: str | None = None) -> list[Order]:
        where, params = [], []
        if open_only:
            where.append("o.status != 'handed-back'")
        if serial is not None:
            where.append("o.unit_serial = ?")
            params.append(serial)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders o {clause} ORDER BY o.id", params
        ).fetchall()
        return [_order(row) for row in rows]

    def overdue_candidates(self, *, contact_deadline: datetime, today: date) -> list[Order]:
        """Open orders opened before ``contact_deadline`` with no contact, or promised before
        ``today``; :func:`bench.records.orders.overdue_orders` decides and explains."""
        rows = self._conn.execute(
            f"""SELECT {_ORDER_COLUMNS} FROM orders o
                WHERE o.status != 'handed-back'
                  AND ((o.opened_at < :deadline
                        AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.order_id = o.id))
                       OR o.promised_date < :today)
                ORDER BY o.opened_at, o.id""",
            {"deadline": to_db(contact_deadline), "today": today.isoformat()},
        ).fetchall()
        return [_order(row) for row in rows]

    def timeline(self, order_id: int) -> list[StatusChange]:
        self.order(order_id)
        rows = self._conn.execute(
            "SELECT status, at, by, note FROM order_status WHERE order_id = ? ORDER BY id",
            (order_id,),
        ).fetchall()
        return [StatusChange(r["status"], from_db(r["at"]), r["by"], r["note"]) for r in rows]

    def set_status(
        self,
        order_id: int,
        status: str,
        *,
        by: str = "",
        note: str = "",
        now: datetime | None = None,
    ) -> Order:
        """Move an order along its flow (:data:`bench.records.orders.TRANSITIONS`).

        ``verified`` additionally needs the order's latest finished bench run to have passed:
        the customer report shows that run as proof the unit works.
        """
        new = parse_status(status)
        at = now or utc_now()
        with self._write() as conn:
            order = self.order(order_id)
            check_transition(order.status, new, order.agreement)
            if at < order.status_at:
                raise ValueError("a status change cannot be earlier than the previous one")
            if new == "verified":
                latest = conn.execute(
                    "SELECT id, verdict FROM runs WHERE order_id = ? AND verdict != 'running'"
                    " ORDER BY id DESC LIMIT 1",
                    (order_id,),
                ).fetchone()
                if latest is None or latest["verdict"] != "pass":
                    found = "none" if latest is None else f"run {latest['id']}: {latest['verdict']}"
                    raise IllegalTransition(
                        f"cannot mark order {order_id} verified: its latest finished bench run "
                        f"must pass (latest: {found})"
                    )
            conn.execute(
                "INSERT INTO order_status (order_id, status, at, by, note) VALUES (?, ?, ?, ?, ?)",
                (order_id, new, to_db(at), by, note),
            )
        return replace(order, status=new, status_at=at.astimezone(UTC))

    def add_contact(
        self, order_id: int, *, by: str = "", note: str = "", now: datetime | None = None
    ) -> Contact:
        at = now or utc_now()
        self._order_status(order_id)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO contacts (order_id, at, by, note) VALUES (?, ?, ?, ?)",
                (order_id, to_db(at), by, note),
            )
        return Contact(at, by, note)

    def contacts(self, order_id: int) -> list[Contact]:
        rows = self._conn.execute(
            "SELECT at, by, note FROM contacts WHERE order_id = ? ORDER BY at, id", (order_id,)
        ).fetchall()
        return [Contact(from_db(r["at"]), r["by"], r["note"]) for r in rows]

    def add_part(
        self,
        order_id: int,
        part_number: str,
        quantity: int = 1,
        *,
        by: str = "",
        now: datetime | None = None,
    ) -> PartReplaced:
        """Record a replaced part; the number must be in :mod:`protocols.mspa.parts`."""
        part = lookup(part_number)
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        at = now or utc_now()
        if self._order_status(order_id) == FINAL_STATUS:
            raise StoreError(f"order {order_id} is handed back; open a new order")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO parts_replaced (order_id, part_number, quantity, at, by)"
                " VALUES (?, ?, ?, ?, ?)",
                (order_id, part.number, quantity, to_db(at), by),
            )
        return PartReplaced(part.number, quantity, at, by)

    def parts(self, order_id: int) -> list[PartReplaced]:
        rows = self._conn.execute(
            "SELECT part_number, quantity, at, by FROM parts_replaced WHERE order_id = ?"
            " ORDER BY id",
            (order_id,),
        ).fetchall()
        return [
            PartReplaced(r["part_number"], r["quantity"], from_db(r["at"]), r["by"]) for r in rows
        ]

    # ---------------------------------------------------------------------------- notes

    def add_note(
        self,
        text: str,
        *,
        order_id: int | None = None,
        run_id: int | None = None,
        kind: Literal["note", "correction"] = "note",
        by: str = "",
        now: datetime | None = None,
    ) -> int:
        """A note on an order or a run; a correction of a finished run is ``kind="correction"``."""
        if not text.strip():
            raise ValueError("the note is empty")
        if order_id is None and run_id is None:
            raise ValueError("a note belongs to an order or a run")
        if order_id is not None:
            self._order_status(order_id)
        if run_id is not None and self._one("SELECT 1 FROM runs WHERE id = ?", (run_id,)) is None:
            raise NotFound(f"unknown run {run_id}")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO notes (order_id, run_id, kind, at, by, text)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (order_id, run_id, kind, to_db(now or utc_now()), by, text.strip()),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def notes(self, *, order_id: int | None = None, run_id: int | None = None) -> list[Note]:
        rows = self._conn.execute(
            "SELECT * FROM notes WHERE (order_id = :order OR run_id = :run) ORDER BY id",
            {"order": order_id, "run": run_id},
        ).fetchall()
        return [
            Note(
                r["id"], r["order_id"], r["run_id"], r["kind"], from_db(r["at"]), r["by"], r["text"]
            )
            for r in rows
        ]

    # ----------------------------------------------------------------------------- runs

    def begin_run(
        self,
        record: TestRecord,
        *,
        unit_serial: str | None = None,
        order_id: int | None = None,
    ) -> int:
        """Store a run that is starting (status ``running``, this process's pid and host).

        ``unit_serial`` defaults to ``record.unit.serial``; it need not be a registered unit
        (a bench may test a box before intake), but if ``order_id`` is given the order must be
        open and belong to that unit.
        """
        serial = (unit_serial or record.unit.serial).strip()
        if not serial:
            raise ValueError("a run needs a unit serial (record.unit.serial or unit_serial=)")
        if not record.record_id:
            raise ValueError("the record has no record_id")
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
                cursor = conn.execute(
                    "INSERT INTO runs (record_id, unit_serial, order_id, plan, operator, verdict,"
                    " started_at, created_at, pid, host, proc_start, summary, record_json)"
                    " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
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
                        _own_start_token(pid),
                        record.summary,
                        canonical_json(record),
                    ),
                )
        except sqlite3.IntegrityError:
            raise StoreError(
                f"a run with record id {record.record_id!r} is already stored"
            ) from None
        assert cursor.lastrowid is not None
        return cursor.lastrowid

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
        except sqlite3.IntegrityError as error:
            if self.run(run_id).finished:  # NotFound for an unknown run
                raise RunFinished(f"run {run_id} is finished; steps cannot be added") from None
            raise StoreError(f"run {run_id}: the step was not stored: {error}") from None

    @staticmethod
    def _insert_step(conn: sqlite3.Connection, run_id: int, seq: int, step: StepResult) -> None:
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
        except sqlite3.IntegrityError as error:
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
        with the steps completed so far and verdict ``running`` or ``interrupted``."""
        info = self.run(run_id)
        row = self._one("SELECT record_json FROM runs WHERE id = ?", (run_id,))
        assert row is not None
        record = TestRecord.from_json(row["record_json"])
        if info.finished:
            return record
        record.steps = self.run_steps(run_id)
        record.verdict = info.status
        if info.status == "interrupted":
            record.error = (
                f"interrupted: the bench process (pid {info.pid} on {info.host}) ended before "
                "the run finished"
            )
        return record


# ------------------------------------------------------------------------------ CLI glue


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db PATH`` on a records command (SUPPRESS: a subparser must not reset a parent's)."""
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"records database (default: ${DB_ENV} or {default_db_path()})",
    )


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BREAKS = frozenset("\t\n\r")


def printable(text: str) -> str:
    """Stored free text made safe for a terminal: C0/C1 control characters removed.

    A symptom or note typed (or imported) with ``ESC [ 2 J`` or an OSC sequence in it must
    not clear or retitle the technician's terminal; tabs and line breaks become spaces so a
    table row stays one row.
    """
    return _CONTROL.sub(lambda match: " " if match.group() in _LINE_BREAKS else "", text)


class SafeTable(Table):
    """A rich table of stored text: every string cell goes through :func:`printable`."""

    def add_row(self, *renderables: Any, **options: Any) -> None:
        cells = [printable(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, **options)


def console() -> Console:
    """Rich output for listings: no markup (a symptom "[red]" is text), strings printed
    through :func:`printable`; when piped and ``$COLUMNS`` is unset, 200 columns rather than
    rich's 80, so rows stay on one line for ``grep``."""
    from rich.console import Console

    class SafeConsole(Console):
        def print(self, *objects: Any, **options: Any) -> None:
            cleaned = [printable(item) if isinstance(item, str) else item for item in objects]
            super().print(*cleaned, **options)

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return SafeConsole(width=200 if piped else None, highlight=False, markup=False)


def default_actor() -> str:
    """Who is making a change when ``--by`` is not given: the logged-in user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def run_with_store(
    args: argparse.Namespace, action: Callable[[Store], int], *, read_only: bool = False
) -> int:
    """Open the store named by ``--db``/``$SPABENCH_DB``, run ``action``, map errors to exits.

    Unknown keys and bad input are usage errors (exit 2); an unusable database file is an
    error (exit 3); both one line. Commands that only read pass ``read_only=True``.
    """
    path = getattr(args, "db", None)
    prog = f"spabench {getattr(args, 'command', '')}".strip()
    try:
        with Store(path, read_only=read_only) as store:
            return action(store)
    except (StoreOpenError, OutputWriteError) as error:
        sys.stderr.write(f"{prog}: error: {error}\n")
        return EXIT_ERROR
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_CORRUPT:
            damaged = _damaged(default_db_path() if path is None else Path(path), str(error))
            sys.stderr.write(f"{prog}: error: {damaged}\n")
        else:
            sys.stderr.write(f"{prog}: error: records database failure: {error}\n")
        return EXIT_ERROR
    except (StoreError, ValueError, UnknownPart, OverflowError) as error:
        raise UsageError(str(error)) from None
