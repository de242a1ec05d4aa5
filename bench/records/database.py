"""The records database: where it is, opening it, its schema version, short write transactions.

Every part of the records (units, orders, runs) is kept in one database; this module is the
one place that opens it and decides how it is written. It is an embedded SQLite file by
default (:mod:`bench.records.backends.sqlite`: one or a few bench PCs, no server), or a
PostgreSQL server a workshop's benches share (``--db postgresql://…``,
:mod:`bench.records.backends.postgresql`). The records code above this module is one code
path for both: portable SQL with ``?``/``:name`` placeholders, rows read by column name,
:data:`IntegrityError`/:data:`DatabaseError` caught, never a driver's classes. So:

* every write is one short transaction (:meth:`RecordsDatabase._write`): ``BEGIN IMMEDIATE``
  on SQLite, so two processes writing at once queue instead of failing; on PostgreSQL a plain
  ``BEGIN`` with the rows that decide a rule locked (:meth:`RecordsDatabase._lock_order`);
* finished runs, steps and the status timeline are protected by triggers, so even a
  hand-written ``UPDATE`` cannot rewrite history; corrections are new ``notes`` rows; the
  order rules are triggers too, so they hold whichever bench writes, and however many at once;
* the schema is versioned with the same migrations on both backends
  (:mod:`bench.records.migrations`); records that are corrupt, not ours, or newer than this
  code are refused with one line and never written to.

Times are stored as fixed-width UTC text (:func:`to_db`), so text order is time order; every
change also records who made it (:func:`default_actor` when nobody says).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from platformdirs import user_data_dir

from bench.records.backends.base import (
    DB_ENV,
    BadLocation,
    Connection,
    DatabaseError,
    DataError,
    IntegrityError,
    NoRecordsDatabase,
    NotFound,
    Row,
    ServerUnreachable,
    StoreError,
    StoreOpenError,
    refusal,
)
from bench.records.backends.sqlite import connect as connect_file
from bench.records.backends.sqlite import damaged_file
from bench.records.migrations import MIGRATIONS, Dialect, Migration

__all__ = [
    "DB_ENV",
    "BadLocation",
    "Connection",
    "DataError",
    "DatabaseError",
    "IntegrityError",
    "NoRecordsDatabase",
    "NotFound",
    "RecordsDatabase",
    "Row",
    "ServerUnreachable",
    "StoreError",
    "StoreOpenError",
    "damaged_file",
    "default_actor",
    "default_db_path",
    "default_location",
    "from_db",
    "is_server_url",
    "parse_location",
    "refusal",
    "shown_location",
    "to_db",
    "utc_now",
]

DB_FILENAME = "records.sqlite3"
SERVER_SCHEMES = ("postgresql", "postgres")
"""URL schemes (any case) of a ``--db`` naming a records server rather than a file."""
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a records server before saying it is unreachable (``connect_timeout``
in the URL overrides it): a bench must not hang on a dead network."""

# What a URL begins with, ``word:``. One letter is a drive (``C:/records``), not a scheme.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")


def _server_url(text: str) -> str | None:
    """``text`` as a server's URL (surrounding blanks gone, the scheme in lower case, as libpq
    wants it), or None when it does not name a server."""
    stripped = text.strip()
    match = _SCHEME.match(stripped)
    if match is None or match[1].lower() not in SERVER_SCHEMES:
        return None
    rest = stripped[match.end() :]
    return f"{match[1].lower()}:{rest}" if rest.startswith("//") else None


def is_server_url(location: object) -> bool:
    """Does ``--db``/``$SPABENCH_DB`` name a records server (PostgreSQL) rather than a file?"""
    return isinstance(location, str) and _server_url(location) is not None


def parse_location(location: str | Path) -> str | Path:
    """``--db``/``$SPABENCH_DB`` as what it names: a server's URL (a str, normalised: no blanks
    around it, the scheme ``postgresql``/``postgres`` in lower case) or a file's :class:`Path`.

    What is neither is :class:`BadLocation`, never taken for a file — it would create an
    SQLite file in folders named after the URL, password included: another scheme's URL
    (``word:/…``: ``mysql://``, ``sqlite://``, ``postgresql+psycopg://``) and a server scheme
    without its two slashes (``postgresql:/…``). The refusal names the scheme only, never the
    rest (it may hold a password). A file whose path does begin so is written ``./word:/…``.
    """
    if isinstance(location, Path):
        return location
    server = _server_url(location)
    if server is not None:
        return server
    stripped = location.strip()
    if not stripped:
        raise BadLocation(f"--db / ${DB_ENV}: the records location is empty")
    match = _SCHEME.match(stripped)
    rest = "" if match is None else stripped[match.end() :]
    if match is None or (match[1].lower() not in SERVER_SCHEMES and not rest.startswith("/")):
        return Path(location)
    shown = match[0] + rest[: len(rest) - len(rest.lstrip("/"))][:2] + "…"
    if match[1].lower() in SERVER_SCHEMES:
        said = f"{shown} is not a server URL (two slashes: postgresql://user@host/database)"
    else:
        said = (
            f"{shown} is neither a records file nor a records server "
            "(postgresql://user@host/database)"
        )
    raise BadLocation(f"--db / ${DB_ENV}: {said}; nothing was opened or created")


# ------------------------------------------------------------------------- time and actor


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    """UTC, microseconds, fixed width: text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def default_actor() -> str:
    """Who is making a change when ``--by`` is not given: the logged-in user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


# ------------------------------------------------------------------------------- opening


def default_location() -> Path | str:
    """``$SPABENCH_DB`` (a file or a server URL, :func:`parse_location`) if set, else
    :func:`default_db_path`."""
    env = os.environ.get(DB_ENV)
    if env:
        return parse_location(env)
    return default_db_path()


def default_db_path() -> Path:
    """The records file: ``$SPABENCH_DB`` if set (and not a server), else
    ``records.sqlite3`` in the user's data directory."""
    env = os.environ.get(DB_ENV)
    if env:
        location = parse_location(env)
        if isinstance(location, Path):
            return location
    return data_dir() / DB_FILENAME


def data_dir() -> Path:
    """The user's data directory for spabench: the default records file, the journals."""
    return Path(user_data_dir("spabench"))


def shown_location(location: str | Path) -> str:
    """Where records are, for people: a file's path, or a server's URL without its password."""
    if isinstance(location, Path):
        return str(location)
    from bench.records.backends import postgresql

    return postgresql.display(location)


class RecordsDatabase:
    """One open records database, a file or a server: the connection and its write
    transactions.

    The records' parts (:mod:`bench.records.unit_records`, :mod:`bench.records.order_records`,
    :mod:`bench.records.run_records`) build on this; :class:`bench.records.store.Store` is all
    of them on one connection. Not thread-safe: one per thread/process.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        timeout: float = 30.0,
        migrations: tuple[Migration, ...] = MIGRATIONS,
        read_only: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        """Open (or create) the records at ``path``: a file's path, or a server's URL
        (``postgresql://user@host/database``); None for :func:`default_location`.

        Existing records are checked first (ours, not newer; a file also ``quick_check``
        clean) and refused with :class:`StoreOpenError` otherwise, as is a server that does
        not answer within ``connect_timeout`` seconds. ``read_only`` opens them read-only, so
        read commands work on a read-only file system; missing records (a missing or empty
        file, a database without them) are then refused with :class:`NoRecordsDatabase` and
        never created — a mistyped ``--db`` must not leave new empty records behind — while
        older ones are still migrated. ``timeout`` bounds a wait for another writer's lock.
        """
        location = default_location() if path is None else parse_location(path)
        self.read_only = read_only
        self.grouped = False
        """True while a caller holds its own transaction around many writes (a bulk load)."""
        self.dialect: Dialect
        self.path: Path | None
        """The records file; None on a server."""
        self.location: str
        """Where the records are, for people: the file's path, or the server's URL without
        its password."""
        self._conn: Connection
        if isinstance(location, str):  # a server's URL
            from bench.records.backends import postgresql

            self.dialect, self.path = "postgresql", None
            self.location = postgresql.display(location)
            self._conn = postgresql.connect(
                location,
                timeout=timeout,
                connect_timeout=connect_timeout,
                migrations=migrations,
                read_only=read_only,
            )
        else:
            self.dialect, self.path = "sqlite", location
            self.location = str(self.path)
            self._conn = connect_file(self.path, timeout, migrations, read_only)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One short write transaction (see module doc): on SQLite it takes the write lock up
        front (``BEGIN IMMEDIATE``), so a writer queues under the busy timeout instead of
        failing half-way.

        Inside a transaction the caller opened itself and said so (:attr:`grouped`: a bulk load
        grouping many calls) it is a savepoint instead: a failed call still undoes only itself,
        and nothing is committed until the caller commits. A transaction left open by anything
        else (a COMMIT that failed) is not taken for a group: ``BEGIN`` then fails loudly
        rather than writes being silently left uncommitted.
        """
        conn = self._conn
        nested = self.grouped
        begin, undo, done = (
            ("SAVEPOINT op", "ROLLBACK TO op", "RELEASE op")
            if nested
            else ("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN", "ROLLBACK", "COMMIT")
        )
        conn.execute(begin)
        try:
            yield conn
        except BaseException:
            # A failed undo never takes the place of the error that made it: a lost connection
            # cannot roll back, nor can SQLite once it ended the transaction itself (a full
            # disk, a trigger's RAISE(ROLLBACK)); what the user must read is why the write
            # failed. (A transaction left open on a live connection is refused at next BEGIN.)
            with contextlib.suppress(DatabaseError):
                conn.execute(undo)
                if nested:
                    conn.execute(done)
            raise
        conn.execute(done)

    def schema_version(self) -> int:
        """The records schema version: the same number on every backend for the same schema
        (SQLite keeps it as ``PRAGMA user_version``, a server in ``spabench_schema``)."""
        sql = (
            "PRAGMA user_version"
            if self.dialect == "sqlite"
            else "SELECT version FROM spabench_schema"
        )
        row = self._one(sql)
        assert row is not None
        version: int = row[0]
        return version

    def _lock_order(self, conn: Connection, order_id: int) -> None:
        """Inside :meth:`_write`: hold order ``order_id`` until the transaction ends, so what
        the store reads to decide a rule (the order's status, its events) stays as read until
        the write is committed. SQLite's ``BEGIN IMMEDIATE`` already holds the whole file; a
        server locks the order's row (the schema's triggers lock it too, for other writers).
        """
        if self.dialect == "postgresql":
            conn.execute("SELECT id FROM orders WHERE id = ? FOR UPDATE", (order_id,)).fetchall()

    def _one(self, sql: str, params: object = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row
