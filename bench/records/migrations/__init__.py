"""Forward-only schema migrations of the records database, for every backend.

Each migration moves the schema from version ``NNNN - 1`` to ``NNNN`` and is plain SQL:

* ``NNNN_name.sql`` when one script serves both dialects (SQLite and PostgreSQL);
* otherwise ``NNNN_name.sqlite.sql`` and ``NNNN_name.postgresql.sql``, the same tables,
  columns, views, rules and refusal messages written in each dialect (triggers are where
  the dialects differ most: SQLite's ``RAISE`` in a trigger body, PostgreSQL's plpgsql).

:func:`load` checks the numbering (1, 2, 3... without gaps) and that every version exists for
both dialects, so a migration can never be shipped for one backend only: both backends
always have the same schema version for the same schema. Migrations never go backwards and
are never edited once released: a change is a new version. The backends apply them
(:mod:`bench.records.backends.sqlite`, :mod:`bench.records.backends.postgresql`), all
pending ones in one transaction, and refuse a database whose version is newer than this code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

APPLICATION_ID = 0x53504142  # "SPAB"
"""Marks a database as spabench records (SQLite's ``application_id``; on PostgreSQL the
``spabench_schema`` table holds it), so a stray database is refused instead of "migrated"."""

Dialect = Literal["sqlite", "postgresql"]
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgresql")
_FILE = re.compile(r"(\d{4})_(\w+?)(?:\.(sqlite|postgresql))?\.sql")


@dataclass(frozen=True)
class Migration:
    """One schema version: its SQLite script and, when the dialects differ, PostgreSQL's."""

    version: int
    name: str
    sql: str
    """The SQLite script; PostgreSQL's too when :attr:`postgresql` is None (a shared file)."""
    postgresql: str | None = None

    def script(self, dialect: Dialect) -> str:
        if dialect == "postgresql" and self.postgresql is not None:
            return self.postgresql
        return self.sql


class SchemaTooNew(Exception):
    """The database was written by a newer spabench; this code must not touch it."""


def load(folder: Traversable | None = None) -> tuple[Migration, ...]:
    """The migrations in ``folder`` (default: those shipped in this package): numbered 1, 2,
    3... without gaps, each one shared script or one per dialect (``ValueError`` otherwise)."""
    found: dict[int, dict[str, tuple[str, str]]] = {}
    for entry in (folder or resources.files(__name__)).iterdir():
        match = _FILE.fullmatch(entry.name)
        if match is None:
            continue
        scripts = found.setdefault(int(match[1]), {})
        dialect = match[3] or "shared"
        if dialect in scripts:
            raise ValueError(f"two {dialect} scripts for migration {match[1]}")
        scripts[dialect] = (match[2], entry.read_text(encoding="utf-8"))
    migrations = [_migration(version, scripts) for version, scripts in sorted(found.items())]
    check_sequence(migrations)
    return tuple(migrations)


def _migration(version: int, scripts: dict[str, tuple[str, str]]) -> Migration:
    names = {name for name, _ in scripts.values()}
    if len(names) != 1:
        raise ValueError(f"migration {version:04d} has scripts of different names: {names}")
    name = names.pop()
    if set(scripts) == {"shared"}:
        return Migration(version, name, scripts["shared"][1])
    if set(scripts) == set(DIALECTS):
        return Migration(version, name, scripts["sqlite"][1], scripts["postgresql"][1])
    have = ", ".join(sorted(scripts))
    raise ValueError(
        f"migration {version:04d}_{name} needs one shared .sql file or both a .sqlite.sql and "
        f"a .postgresql.sql file (found: {have})"
    )


def check_sequence(migrations: Sequence[Migration]) -> None:
    versions = [item.version for item in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1..n without gaps, got {versions}")


MIGRATIONS: tuple[Migration, ...] = load()
