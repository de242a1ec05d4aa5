"""The records on a PostgreSQL server, shared by a workshop's benches (psycopg 3).

The records code is the same for a file and a server: it writes portable SQL with ``?`` and
``:name`` placeholders and reads rows by name or index. This module makes a psycopg
connection look like that (:class:`PgConnection`):

* placeholders are translated for psycopg (``?`` → ``%s``, ``:name`` → ``%(name)s``, a ``%``
  doubled), never inside a quoted literal or identifier or a comment, nor a ``::`` cast;
  Python booleans go in as 0/1, as SQLite stores them (the flags are INTEGER columns);
* rows answer to a column's name and its index (:class:`PgRow`, like :class:`sqlite3.Row`);
* a write the schema refuses (a trigger's ``RAISE``, a unique, check or foreign-key
  violation) raises :data:`~bench.records.backends.base.IntegrityError` with the database's
  one-line message; any other driver error :data:`~bench.records.backends.base.DatabaseError`.

The connection is in autocommit mode: a read is its own statement, and the store's writes
open their own short transactions (``BEGIN``/``COMMIT``, savepoints when grouped). Waiting
for a lock another bench holds is bounded like SQLite's busy timeout (``lock_timeout``).

Opening (:func:`connect`) refuses in one line, never printing the password: a server that
cannot be reached (``connect_timeout``, 5 s unless the URL says), a database that holds other
tables but not the records, a schema newer than this code. A connection whose network dies
is noticed (TCP keepalives, ``tcp_user_timeout``: :data:`KEEPALIVE`), and an upload is
bounded (:meth:`PgConnection.bounded`): a server that stops answering mid-upload — a network
that drops packets, a server process frozen — costs a bench a bounded wait, never a hang,
and the technician's Ctrl-C ends it at once. The schema version lives in the
table ``spabench_schema`` with the application marker; migrating takes a transaction-level
advisory lock, so two benches opening a fresh database at once cannot both migrate it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from types import FrameType
from typing import Any

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from bench.records.backends.base import (
    DB_ENV,
    DatabaseError,
    DataError,
    IntegrityError,
    NoRecordsDatabase,
    ServerUnreachable,
    StoreOpenError,
)
from bench.records.migrations import APPLICATION_ID, Migration, SchemaTooNew, check_sequence

SCHEMA_TABLE = "spabench_schema"
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
"""libpq's TCP settings unless the URL gives its own: a dead peer is noticed in about 25 s
(keepalive probes while idle; sent data unacknowledged for 30 s), not after the operating
system's two hours."""

# A quoted literal or identifier, a comment, a cast, a placeholder, a percent sign.
_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|::|\?|:([A-Za-z_]\w*)|%""",
    re.DOTALL,
)


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQL with SQLite's placeholders (``?``, ``:name``) in psycopg's (``%s``, ``%(name)s``)."""

    def replace(match: re.Match[str]) -> str:
        token = match[0]
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match[1] is not None:
            return f"%({match[1]})s"
        return token.replace("%", "%%")  # psycopg reads % everywhere, literals included

    return _TOKENS.sub(replace, sql)


def _value(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def _parameters(params: Any) -> Any:
    if isinstance(params, Mapping):
        return {key: _value(value) for key, value in params.items()}
    return [_value(value) for value in params]


def _message(error: psycopg.Error) -> str:
    """The server's own words, on one line: its primary message (never the ``CONTEXT`` or
    ``DETAIL`` lines psycopg adds), its lines joined when it wrote several (a trigger's
    ``RAISE`` may); psycopg's first line when the server said nothing (a lost connection)."""
    primary = error.diag.message_primary
    lines = (primary or "").strip().splitlines()
    if lines:
        return " ".join(line.strip() for line in lines if line.strip())
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


_LOST = (
    errors.ConnectionException,
    errors.AdminShutdown,
    errors.CrashShutdown,
    errors.CannotConnectNow,
    errors.IdleSessionTimeout,
)
"""Errors that end the session: the server is gone, not refusing anything."""


def mapped(error: psycopg.Error, *, broken: bool = False) -> Exception:
    """psycopg's error as the records code's, each said in one line: the schema's refusals
    are IntegrityError, a value it cannot store DataError, a connection that failed or was
    lost (``broken``: the driver says the connection is unusable) ServerUnreachable; the rest
    (a permission, a lock or a statement timeout) DatabaseError, saying what it is."""
    if isinstance(error, (psycopg.IntegrityError, errors.RaiseException)):
        return IntegrityError(_message(error))
    if isinstance(error, psycopg.DataError):
        return DataError(_message(error))
    if broken or isinstance(error, _LOST):
        return ServerUnreachable(f"the connection was lost: {_message(error)}")
    if isinstance(error, errors.LockNotAvailable):
        return DatabaseError(
            f"the records server is busy (another bench holds a lock): {_message(error)}"
        )
    if isinstance(error, errors.QueryCanceled):
        return DatabaseError(f"{_message(error)} (statement timeout)")
    return DatabaseError(_message(error))


def _untranslatable(conn: psycopg.Connection[Any], error: UnicodeError) -> DatabaseError:
    """Text the connection's client encoding cannot carry (only when the URL asked for one
    other than UTF8): the database's problem, said in one line, not the user's typing."""
    encoding = conn.info.parameter_status("client_encoding") or "?"
    return DatabaseError(
        f"the records server connection's encoding {encoding} cannot carry this "
        f"text ({error}); use UTF8 (no client_encoding in the URL)"
    )


class PgRow:
    """A row by column name or index, like :class:`sqlite3.Row`."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = tuple(values)

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            position = self._index.get(key)
            if position is None:
                position = self._index.get(key.lower())
            if position is None:
                raise IndexError(f"no such column: {key}")
            return self._values[position]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PgRow):
            return self._values == other._values and self.keys() == other.keys()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=False))!r})"


def _rows(cursor: psycopg.Cursor[Any]) -> Any:
    """psycopg's row factory for :class:`PgRow` (first column of a name wins, as SQLite)."""
    index: dict[str, int] = {}
    for position, column in enumerate(cursor.description or ()):
        index.setdefault(column.name, position)

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(index, values)

    return make


class PgCursor:
    """The result of :meth:`PgConnection.execute`, with driver errors mapped."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> PgRow | None:
        try:
            row: PgRow | None = self._cursor.fetchone()
        except psycopg.Error as error:
            raise mapped(error, broken=self._cursor.connection.broken) from None
        except UnicodeError as error:
            raise _untranslatable(self._cursor.connection, error) from None
        return row

    def fetchall(self) -> list[PgRow]:
        try:
            rows: list[PgRow] = self._cursor.fetchall()
        except psycopg.Error as error:
            raise mapped(error, broken=self._cursor.connection.broken) from None
        except UnicodeError as error:
            raise _untranslatable(self._cursor.connection, error) from None
        return rows

    def __iter__(self) -> Iterator[PgRow]:
        return iter(self.fetchall())


class _Guard:
    """What :meth:`PgConnection.bounded` keeps while it holds: a timer, and the signal
    handlers it put in place (main thread only: a signal is the main thread's)."""

    def __init__(self, conn: psycopg.Connection[Any], seconds: float) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._done = False
        self.expired = False
        self.signum: int | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._previous: dict[int, Any] = {}

    def start(self) -> None:
        self._timer.start()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._interrupted)

    def stop(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _expire(self) -> None:
        with self._lock:  # never once stop() has returned: the socket may be closed then
            if not self._done:
                self.expired = True
                self._abort()

    def _interrupted(self, signum: int, _frame: FrameType | None) -> None:
        # the main thread, between two of its own statements or inside one's wait: the
        # connection cannot be closed meanwhile, and the lock may be the main thread's own
        if self.signum is None:
            self.signum = signum
        if not self._done:
            self._abort()

    def _abort(self) -> None:
        """Shut the connection's socket down (a copy of its descriptor: the descriptor stays
        the driver's): the wait on it ends with an error at once."""
        try:
            descriptor = os.dup(self._conn.pgconn.socket)
        except (psycopg.Error, OSError):
            return  # already closed
        with socket.socket(fileno=descriptor) as cut, suppress(OSError):
            cut.shutdown(socket.SHUT_RDWR)


class NoRows:
    """The result of a statement that had nothing to do."""

    rowcount = 0

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[PgRow]:
        return []

    def __iter__(self) -> Iterator[PgRow]:
        return iter(())


class PgConnection:
    """A psycopg connection that speaks like :class:`sqlite3.Connection` (see module doc)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor | NoRows:
        if sql == "BEGIN" and self.in_transaction:
            # PostgreSQL only warns; SQLite refuses, and so must a store left mid-transaction
            raise DatabaseError("cannot start a transaction within a transaction")
        if sql == "ROLLBACK" and (self._conn.broken or self._conn.closed):
            # the server ended the transaction with the connection: nothing to undo, and
            # an error here would replace the one being handled (a Ctrl-C, a lost server)
            return NoRows()
        query, params = (translate(sql), _parameters(parameters)) if parameters else (sql, None)
        try:
            return PgCursor(self._conn.execute(query, params))
        except psycopg.Error as error:
            raise mapped(error, broken=self._conn.broken) from None
        except UnicodeError as error:
            raise _untranslatable(self._conn, error) from None

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (as :attr:`sqlite3.Connection.in_transaction`)."""
        return self._conn.info.transaction_status != TransactionStatus.IDLE

    @property
    def server_encoding(self) -> str:
        """The database's encoding, as the server told it when the connection began."""
        return self._conn.info.parameter_status("server_encoding") or "?"

    @contextmanager
    def bounded(self, seconds: float) -> Iterator[None]:
        """The statements inside take ``seconds`` at most, together, and a SIGINT/SIGTERM
        (in the main thread) ends them at once: either cuts the connection, client-side —
        the one bound that holds whatever the server does (a frozen server process neither
        cancels nor times out a statement) — and the server rolls back what was under way.
        Then :class:`ServerUnreachable` says so, or the signal is raised again once the
        statements have given up, for the program's own handler (psycopg's own Ctrl-C
        handling would first wait seconds for a cancellation the server cannot answer)."""
        guard = _Guard(self._conn, seconds)
        guard.start()
        try:
            yield
        except BaseException:
            guard.stop()
            if guard.signum is not None:
                signal.raise_signal(guard.signum)
            if guard.expired:
                raise ServerUnreachable(
                    f"the records server did not answer within {seconds:g} s; the upload "
                    "was abandoned"
                ) from None
            raise
        guard.stop()
        if guard.signum is not None:
            signal.raise_signal(guard.signum)

    def close(self) -> None:
        self._conn.close()


# ------------------------------------------------------------------------------- opening


_CREDENTIALS = re.compile(r"(://[^:@/\s\"']*):[^\s\"']*@")
"""``://user:password@`` in a URL (up to its last ``@``: a password may hold anything)."""
_PASSWORD_KEY = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&\"']+)", re.IGNORECASE)
"""``password=…`` in a URL's query or a ``key=value`` connection string."""


def scrub(text: str) -> str:
    """``text`` (a URL, or a message that quotes one) without any password in it, found by
    its shape: for a URL that does not parse, where the driver cannot say which it is."""
    return _PASSWORD_KEY.sub(r"\1***", _CREDENTIALS.sub(r"\1@", text))


def url_problem(url: str) -> str | None:
    """Why ``url`` does not parse as a connection URL (one line, no password), or None."""
    try:
        conninfo_to_dict(url)
    except psycopg.Error as error:
        lines = str(error).strip().splitlines()
        return scrub(lines[0] if lines else type(error).__name__)
    return None


def display(url: str) -> str:
    """``url`` for people: ``postgresql://user@host:port/database``, never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return scrub(url)  # unreadable: as given, without its credentials
    user = f"{params['user']}@" if params.get("user") else ""
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "5432")
    database = params.get("dbname") or ""
    if host.startswith("/"):  # a unix socket's directory
        return f"postgresql://{user}/{database}?host={host}&port={port}"
    return f"postgresql://{user}{host}:{port}/{database}"


def _scrubbed(text: str, url: str) -> str:
    """A driver message without the password, if it echoed one; its first line."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    line = text.strip().splitlines()[0] if text.strip() else "no answer"
    return scrub(line.replace(str(password), "***") if password else line)


def connect(
    url: str,
    *,
    timeout: float,
    connect_timeout: float,
    migrations: tuple[Migration, ...],
    read_only: bool,
) -> PgConnection:
    """The records database at ``url``, checked and migrated (see module doc)."""
    location = display(url)
    try:
        given = conninfo_to_dict(url)
    except psycopg.Error as error:
        raise StoreOpenError(
            f"records server {location}: {_scrubbed(str(error), url)}; check --db / ${DB_ENV}"
        ) from None
    options: dict[str, Any] = {"autocommit": True, "row_factory": _rows}
    if "connect_timeout" not in given:
        options["connect_timeout"] = max(1, round(connect_timeout))
    options.update({key: value for key, value in KEEPALIVE.items() if key not in given})
    if "application_name" not in given:
        options["application_name"] = "spabench"
    options["client_encoding"] = given.get("client_encoding", "UTF8")  # not $PGCLIENTENCODING
    try:
        raw = psycopg.connect(url, **options)
    except psycopg.Error as error:
        raise StoreOpenError(
            f"records server {location} unreachable: {_scrubbed(str(error), url)}"
        ) from None
    except Exception as error:  # not the driver's: still one line, never a traceback
        raise StoreOpenError(
            f"cannot use records server {location}: {_scrubbed(str(error), url)}"
        ) from None
    conn = PgConnection(raw)
    try:
        conn.execute(f"SET lock_timeout = {max(1, int(timeout * 1000))}")
        migrate(conn, migrations, location, read_only=read_only)
        if read_only:
            conn.execute("SET default_transaction_read_only = on")
    except SchemaTooNew as error:
        conn.close()
        raise StoreOpenError(f"records server {location}: {error}; upgrade spabench") from None
    except (StoreOpenError, NoRecordsDatabase):
        conn.close()
        raise
    except Exception as error:  # the server's (DatabaseError) or any other: one line
        conn.close()
        raise StoreOpenError(
            f"cannot use records server {location}: {_scrubbed(str(error), url)}"
        ) from None
    return conn


# ----------------------------------------------------------------------------- migrations


def schema_version(conn: PgConnection, location: str) -> int | None:
    """The records schema version of the connected database; None when it has none yet.

    A ``spabench_schema`` table without our marker is not ours (StoreOpenError).
    """
    # pg_tables, not to_regclass(): a name looked up before another bench created the table
    # stays "missing" in this session's catalog cache until a lock on a table refreshes it
    found = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
        (SCHEMA_TABLE,),
    ).fetchone()
    if found is None:
        return None
    row = conn.execute(
        f"SELECT application_id, version FROM {SCHEMA_TABLE} WHERE id = 1"
    ).fetchone()
    if row is None or row["application_id"] != APPLICATION_ID:
        raise StoreOpenError(
            f"records server {location}: the database is not spabench records "
            f"({SCHEMA_TABLE} is not ours); nothing was changed"
        )
    version: int = row["version"]
    return version


def _other_tables(conn: PgConnection) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        " ORDER BY c.relname LIMIT 3"
    ).fetchall()
    return [str(row[0]) for row in rows]


def migrate(
    conn: PgConnection, migrations: Sequence[Migration], location: str, *, read_only: bool
) -> int:
    """Bring the database to the newest schema version; returns that version.

    All pending migrations run in one transaction under ``pg_advisory_xact_lock``: a bench
    that opens a fresh database while another is migrating it waits, then finds it migrated.
    A database that holds tables but not the records' marker is refused, never "migrated";
    a read-only opening of a database without records is :class:`NoRecordsDatabase`.
    """
    check_sequence(migrations)
    latest = len(migrations)
    current = schema_version(conn, location)
    if current == latest:
        return latest
    if current is not None and current > latest:
        raise SchemaTooNew(
            f"schema version {current} is newer than this spabench understands ({latest})"
        )
    if current is None and read_only:
        raise NoRecordsDatabase(
            f"no records on the server at {location} — nothing has been recorded there; "
            f"check --db / ${DB_ENV}"
        )
    _check_encoding(conn, location)
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (APPLICATION_ID,))
        current = schema_version(conn, location)  # another bench may have migrated meanwhile
        if current is None:
            others = _other_tables(conn)
            if others:
                raise StoreOpenError(
                    f"records server {location}: the database holds other tables "
                    f"({', '.join(others)}...) but no spabench records; use an empty "
                    "database for them (nothing was changed)"
                )
            conn.execute(
                f"CREATE TABLE {SCHEMA_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1),"
                " application_id BIGINT NOT NULL, version INTEGER NOT NULL)"
            )
            conn.execute(
                f"INSERT INTO {SCHEMA_TABLE} (id, application_id, version) VALUES (1, ?, 0)",
                (APPLICATION_ID,),
            )
            current = 0
        if current > latest:
            raise SchemaTooNew(
                f"schema version {current} is newer than this spabench understands ({latest})"
            )
        for migration in migrations[current:]:
            conn.execute(migration.script("postgresql"))
        conn.execute(f"UPDATE {SCHEMA_TABLE} SET version = ? WHERE id = 1", (latest,))
    except BaseException:
        with contextlib.suppress(DatabaseError):  # a lost connection: its cause is said, not this
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return latest


def _check_encoding(conn: PgConnection, location: str) -> None:
    """Records are made only in a UTF8 database: in SQL_ASCII (``initdb`` in a C locale) the
    server checks no text at all, in LATIN1 and the like an operator's name in another script
    would be refused at every upload, forever. Said before anything is created."""
    encoding = conn.server_encoding
    if encoding != "UTF8":
        raise StoreOpenError(
            f"records server {location}: the database's encoding is {encoding}, the records "
            "need UTF8: make one with createdb --encoding UTF8 --template template0 "
            "(nothing was changed)"
        )
