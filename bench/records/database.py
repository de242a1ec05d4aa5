"""The records file: opening it safely, its schema version, and short write transactions.

Every part of the records (units, orders, runs) is kept in one embedded SQLite file; this
module is the one place that opens it and decides how it is written. Why SQLite and these
settings: a service centre has one or a few bench PCs, no database server, and must not lose
a record when a bench process is killed or two benches write at once. So:

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

Times are stored as fixed-width UTC text (:func:`to_db`), so text order is time order; every
change also records who made it (:func:`default_actor` when nobody says).
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from platformdirs import user_data_dir

from bench.records.migrations import APPLICATION_ID, MIGRATIONS, Migration, SchemaTooNew, migrate

DB_ENV = "SPABENCH_DB"
DB_FILENAME = "records.sqlite3"
SERVER_SCHEMES = ("postgresql://", "postgres://")
"""``--db`` values naming a records server rather than a file."""


def is_server_url(location: object) -> bool:
    """Does ``--db``/``$SPABENCH_DB`` name a records server (PostgreSQL) rather than a file?"""
    return isinstance(location, str) and location.startswith(SERVER_SCHEMES)


IntegrityError = sqlite3.IntegrityError
"""A write the schema refused (a constraint or a trigger's rule). Callers catch this name, never
a driver's own class, so the same code runs on every backend (the PostgreSQL backend maps its
driver's errors onto these names)."""
DatabaseError = sqlite3.DatabaseError
"""Any failure of the database itself (the backend's driver error, mapped)."""


class StoreError(Exception):
    """A records problem the user can act on; the message is one line."""


class StoreOpenError(StoreError):
    """The file cannot be used: corrupt, not a records database, or a newer schema."""


class NotFound(StoreError):
    """No unit / order / run with that key."""


class NoRecordsDatabase(StoreError):
    """A read-only command was pointed at a file that does not exist (a mistyped ``--db``, a
    bench where nothing was ever recorded): reading must not create it."""


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
            raise damaged_file(path, str(error)) from None
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
        raise damaged_file(path, damage)
    return version


def damaged_file(path: Path, detail: str) -> StoreOpenError:
    """The one-line refusal of a file SQLite reports as corrupt (on opening or later)."""
    return StoreOpenError(
        f"{path} is damaged ({detail}); restore a backup "
        "or salvage it with 'sqlite3 FILE .recover' (the file was left untouched)"
    )


def _connect(
    path: Path, timeout: float, migrations: tuple[Migration, ...], read_only: bool
) -> sqlite3.Connection:
    try:
        exists = path.exists() and path.stat().st_size > 0
        if not exists and read_only:
            raise NoRecordsDatabase(
                f"no records database at {path} — nothing has been recorded there; "
                f"check --db / ${DB_ENV}"
            )
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


class RecordsDatabase:
    """One open records file: the connection and its write transactions.

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
    ) -> None:
        """Open (or create) the records at ``path``.

        Every existing file is checked first (ours, not newer, ``quick_check`` clean) and
        refused with :class:`StoreOpenError` otherwise. ``read_only`` opens it ``mode=ro``
        so read commands work on a read-only file system; a missing (or empty) file is then
        refused with :class:`NoRecordsDatabase` and never created — a mistyped ``--db`` must
        not leave a new empty database behind — while an older one is still migrated.
        """
        self.path = default_db_path() if path is None else Path(path)
        self.read_only = read_only
        self._conn = _connect(self.path, timeout, migrations, read_only)
        self.grouped = False
        """True while a caller holds its own transaction around many writes (a bulk load)."""

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock up front (see module doc).

        Inside a transaction the caller opened itself and said so (:attr:`grouped`: a bulk load
        grouping many calls) it is a savepoint instead: a failed call still undoes only itself,
        and nothing is committed until the caller commits. A transaction left open by anything
        else (a COMMIT that failed) is not taken for a group: ``BEGIN IMMEDIATE`` then fails
        loudly rather than writes being silently left uncommitted.
        """
        conn = self._conn
        nested = self.grouped
        begin, undo, done = (
            ("SAVEPOINT op", "ROLLBACK TO op", "RELEASE op")
            if nested
            else ("BEGIN IMMEDIATE", "ROLLBACK", "COMMIT")
        )
        conn.execute(begin)
        try:
            yield conn
        except BaseException:
            conn.execute(undo)
            if nested:
                conn.execute(done)
            raise
        conn.execute(done)

    def _one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
        return row
