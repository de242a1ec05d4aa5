"""Forward-only schema migrations of the records database.

Each ``NNNN_name.sql`` file in this package moves the schema from version ``NNNN - 1`` to
``NNNN``; ``PRAGMA user_version`` holds the version a file is at. Migrations never go backwards
and are never edited once released: a change is a new file. All pending migrations run in one
``BEGIN IMMEDIATE`` transaction, so a crash half-way leaves the old version intact and two
processes opening a fresh file at once cannot both migrate it.

``PRAGMA application_id`` marks the file as ours, so a stray SQLite file handed over by
``--db`` is refused instead of being "migrated".
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

APPLICATION_ID = 0x53504142  # "SPAB"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


class SchemaTooNew(Exception):
    """The file was written by a newer spabench; this code must not touch it."""


def load() -> tuple[Migration, ...]:
    """The migrations shipped in this package, checked to be numbered 1, 2, 3... without gaps."""
    found = []
    for entry in resources.files(__name__).iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda item: item.version)
    check_sequence(found)
    return tuple(found)


def check_sequence(migrations: Sequence[Migration]) -> None:
    versions = [item.version for item in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1..n without gaps, got {versions}")


def statements(script: str) -> list[str]:
    """Split a script into statements (triggers contain ``;``, so ask SQLite where they end)."""
    result, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                result.append(pending.strip())
            pending = ""
    leftover = [line for line in pending.splitlines() if line.strip()[:2] not in ("", "--")]
    if leftover:
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending!r}")
    return result


def user_version(conn: sqlite3.Connection) -> int:
    value: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return value


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None) -> int:
    """Bring ``conn``'s database to the newest version; returns that version.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so this function owns the
    transaction.
    """
    migrations = load() if migrations is None else migrations
    check_sequence(migrations)
    latest = len(migrations)
    if user_version(conn) == latest:
        return latest
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = user_version(conn)  # another process may have migrated while we waited
        if current > latest:
            raise SchemaTooNew(
                f"schema version {current} is newer than this spabench understands ({latest})"
            )
        for migration in migrations[current:]:
            for statement in statements(migration.sql):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {latest}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return latest


MIGRATIONS: tuple[Migration, ...] = load()
