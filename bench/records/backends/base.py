"""What every records backend gives the records code: errors, connections, cursors, rows.

The records code catches :data:`IntegrityError` and :data:`DatabaseError`, never a driver's own
classes, so one code path serves every backend: SQLite raises them itself (they are its
classes), the PostgreSQL backend maps psycopg's errors onto them. A connection is anything
with SQLite's ``execute(sql, params)``; a row answers to a column's name and its index, as
:class:`sqlite3.Row` does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any, Protocol

from protocols.cli_support import UsageError

DB_ENV = "SPABENCH_DB"
"""Where the records are when ``--db`` is not given: a file's path or a server's URL."""

IntegrityError = sqlite3.IntegrityError
"""A write the schema refused (a constraint or a trigger's rule). Callers catch this name, never
a driver's own class, so the same code runs on every backend (the PostgreSQL backend maps its
driver's errors onto these names)."""
DatabaseError = sqlite3.DatabaseError
"""Any failure of the database itself (the backend's driver error, mapped)."""
DataError = sqlite3.DataError
"""A value the database cannot store (a NUL in a text, a number out of range): a fault of
that record, not of the database."""


class ServerUnreachable(DatabaseError):
    """The connection to a records server failed, was lost, or the server stopped answering
    in time: nothing was decided about what was being written."""


REFUSAL_PREFIX = "spabench: "
"""How the schema's own refusals (its triggers' messages) begin."""


class StoreError(Exception):
    """A records problem the user can act on; the message is one line."""


class StoreOpenError(StoreError):
    """The records cannot be used: a corrupt file, not a records database, a newer schema, a
    server that cannot be reached."""


class BadLocation(StoreError, UsageError):
    """``--db``/``$SPABENCH_DB`` is neither a records file's path nor a records server's URL
    (``mysql://…``, ``postgresql:/…``), or the server's upload bound
    (``$SPABENCH_UPLOAD_TIMEOUT``) is none: refused before anything is opened or created. A
    usage error wherever it surfaces, so every command says it in one line and exits 2."""


class NotFound(StoreError):
    """No unit / order / run with that key."""


class NoRecordsDatabase(StoreError):
    """A read-only command was pointed at records that do not exist (a mistyped ``--db``, a
    bench where nothing was ever recorded): reading must not create them."""


def refusal(error: BaseException) -> str:
    """The schema's refusal in words for a person: its first line, without ``spabench:``."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__).removeprefix(REFUSAL_PREFIX)


class Row(Protocol):
    """A result row: ``row["column"]`` or ``row[0]``."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """An open connection as the records code uses it (SQLite's own is one)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def close(self) -> None: ...
