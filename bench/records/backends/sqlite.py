"""The records in an embedded SQLite file: opening it safely, checking it, migrating it.

Why SQLite and these settings: a service centre has one or a few bench PCs, no database
server, and must not lose a record when a bench process is killed or two benches write at
once. So:

* WAL journal + ``synchronous=NORMAL``: a killed process never corrupts the file or loses a
  committed transaction; a power cut may lose the last few commits, never the file;
* every write is one short ``BEGIN IMMEDIATE`` transaction under a busy timeout (see
  :meth:`bench.records.database.RecordsDatabase._write`), so two processes writing at once
  queue instead of failing;
* foreign keys on; the schema is versioned (``PRAGMA user_version``) and marked as ours
  (``PRAGMA application_id``); a file that is corrupt, not ours, or newer than this code is
  refused with one line and never written to.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from bench.records.backends.base import DB_ENV, NoRecordsDatabase, StoreOpenError
from bench.records.migrations import (
    APPLICATION_ID,
    Migration,
    SchemaTooNew,
    check_sequence,
)


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
        # one read transaction: another bench may commit the file's creation between two
        # reads, and version 0 and no application id beside its tables is a foreign file
        conn.execute("BEGIN")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            objects = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
            damage = _damage(conn) if full else None
        finally:
            conn.rollback()
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


def _use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch ``conn``'s file to WAL, waiting for other openers as a write would.

    On a file no one has switched yet, the switch needs the file to itself, and SQLite
    answers "database is locked" at once instead of calling the busy handler: the
    channels of a station opening their journal together lost one channel that way. So
    it is retried, briefly, until ``timeout``; a file already in WAL answers at once.
    """
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            code = getattr(error, "sqlite_errorcode", None)
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def connect(
    path: Path, timeout: float, migrations: tuple[Migration, ...], read_only: bool
) -> sqlite3.Connection:
    """The records file at ``path``, checked and migrated (see module doc); rows are
    :class:`sqlite3.Row`."""
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
        _use_wal(conn, timeout)
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


# ----------------------------------------------------------------------------- migrations


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


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Bring ``conn``'s database to the newest version; returns that version.

    All pending migrations run in one ``BEGIN IMMEDIATE`` transaction, so a crash half-way
    leaves the old version intact and two processes opening a fresh file at once cannot both
    migrate it. ``conn`` must be in autocommit mode (``isolation_level=None``) so this
    function owns the transaction.
    """
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
            for statement in statements(migration.script("sqlite")):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {latest}")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # rolled back already (a full disk): say why
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return latest
