"""Where a bench files its runs: the records database, or — with a records server — the
bench's local journal first, uploaded to the server after.

This is the one door every run-filing command goes through (``spabench run``, ``spabench
station run``, the console), so "offline first" is decided once:

* no server configured (``--db PATH`` / ``$SPABENCH_DB`` a file, or the default): runs are
  filed live in that SQLite file, as always;
* a server configured (``--db postgresql://…`` or ``$SPABENCH_DB``): EVERY run is filed live
  in the local journal (:mod:`bench.records.journal`, an SQLite file of the same schema),
  online or not, and uploaded, complete and idempotently, to the server when it ends
  (:meth:`RunDestination.after_runs`, :mod:`bench.records.journal_sync`); when the server
  cannot be reached the runs wait in the journal and the bench says so. Filing never
  depends on the network: a run is as safe on a bench whose cable was pulled as on one
  with a server next door. Unit and order checks, which need the workshop's records, are
  made on the server (:meth:`RunDestination.open_records`) when it answers, and again by
  the server when the run is uploaded.

A :class:`RunDestination` hands each thread its own :class:`~bench.records.store.Store`
(:meth:`RunDestination.open_store`): an SQLite connection is one thread's. Long-lived
processes (a station, the console) also call :meth:`RunDestination.start_retrying`, so
what waits goes up soon after the network is back, not only when the next run ends.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.records.database import (
    DB_ENV,
    BadLocation,
    DatabaseError,
    StoreError,
    default_db_path,
    parse_location,
    shown_location,
)
from bench.records.journal import (
    JournalEntry,
    JournalStore,
    journal_path,
    journal_server,
)
from bench.records.journal_server import Server
from bench.records.journal_sync import Outcome, SyncReport, sync_journal
from bench.records.run_import import upload_timeout
from bench.records.store import Store

RETRY_EVERY_S = 60.0
"""Seconds between a long-lived process's automatic upload passes (a station, the console):
what waits goes up within a minute of the server answering again."""


def _ignore(_line: str) -> None:
    return None


def _ignore_outcome(_outcome: Outcome) -> None:
    return None


def open_server_store(url: str) -> Store:
    """The records on the server at ``url`` (:class:`~bench.records.database.StoreOpenError`
    when it cannot be reached). One name for it, so a test can stand a file in for a server."""
    return Store(url)


@dataclass
class RunDestination:
    """Where runs go for one bench process (see module doc)."""

    location: str | None
    """``--db`` as given (a path, a server URL) or None for ``$SPABENCH_DB``/the default."""
    server: str | None = None
    """The records server's URL when one is configured: runs then go through the journal."""
    journal: Path | None = None
    """The local journal file (with a server)."""
    open_server: Callable[[], Store] | None = None
    """Opens the server's records (default: :func:`open_server_store` of :attr:`server`)."""
    identity: Server | None = None
    """The server as the journal keys its runs (default: :attr:`server`'s, worked out)."""
    _passes: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def journaled(self) -> bool:
        """Are runs filed in the journal (a server is configured)?"""
        return self.server is not None

    @property
    def server_name(self) -> str:
        """The server's URL as it may be shown (password masked)."""
        return "" if self.server is None else shown_location(self.server)

    @property
    def server_identity(self) -> Server:
        """The server the journal's runs are filed for (a server must be configured)."""
        if self.identity is None:
            if self.server is None:
                raise StoreError("no records server is configured: runs are filed directly")
            self.identity = journal_server(self.server)
        return self.identity

    def open_store(self) -> Store:
        """A new connection for the calling thread: where a run is filed live."""
        if self.journal is not None:
            return JournalStore(self.journal, server=self.server_identity)
        return Store(self.location)

    def journal_entry(self, local_id: int) -> JournalEntry | None:
        """How journal run ``local_id`` stands now (uploaded as which server run, refused,
        waiting), as the journal's bookkeeping says — whichever process uploaded it; None
        without a journal."""
        if self.journal is None:
            return None
        with JournalStore(self.journal) as journal:
            return journal.journal_entry(local_id)

    def open_records(self) -> Store:
        """The workshop's records, for unit and order checks: the server (raises
        :class:`~bench.records.database.StoreOpenError` when it does not answer) or the file."""
        if self.server is None:
            return Store(self.location)
        if self.open_server is not None:
            return self.open_server()
        return open_server_store(self.server)

    def describe(self) -> str:
        """Where runs are filed, for a line on screen."""
        if self.journal is not None:
            return f"the local journal {self.journal}, uploaded to {self.server_name}"
        return str(default_db_path() if self.location is None else Path(self.location))

    def sync(
        self,
        *,
        on_outcome: Callable[[Outcome], None] = _ignore_outcome,
        journal: JournalStore | None = None,
    ) -> SyncReport:
        """Upload what waits in the journal now (one pass; see
        :func:`~bench.records.journal_sync.sync_journal`). Needs a server. ``journal``: the
        calling thread's open journal (else it is opened, and checked whole, for this pass)."""
        if self.journal is None:
            raise StoreError("no records server is configured: runs are filed directly")
        with self._passes, contextlib.ExitStack() as stack:
            if journal is None:
                journal = stack.enter_context(JournalStore(self.journal))
            return sync_journal(
                journal, self.open_records, server=self.server_identity, on_outcome=on_outcome
            )

    def after_runs(self, say: Callable[[str], None] = _ignore) -> SyncReport | None:
        """Called when runs end: with a server, upload what waits in the journal and ``say``
        how it went (one line); without, nothing to do (None). Never raises for an
        unreachable server: the runs stay in the journal; a journal that cannot be used is
        said in one line too."""
        if self.journal is None:
            return None
        try:
            report = self.sync()
        except (StoreError, DatabaseError) as error:
            say(f"records journal {self.journal}: {error}")
            return None
        line = report.summary()
        if line:
            say(line)
        return report

    def start_retrying(
        self, interval_s: float, say: Callable[[str], None] = _ignore
    ) -> Retrying | None:
        """Upload what waits every ``interval_s`` seconds until :meth:`Retrying.stop`, in a
        daemon thread (for a station or the console, which live long). None without a
        server. ``say`` hears a line when runs were uploaded or refused, and once when the
        server stops answering (not at every failed retry)."""
        if self.journal is None:
            return None
        if interval_s <= 0:
            raise ValueError(f"the retry interval must be positive, got {interval_s}")
        retrying = Retrying(self, interval_s, say)
        retrying.start()
        return retrying


class Retrying:
    """The automatic retry of a long-lived process (see :meth:`RunDestination.start_retrying`)."""

    def __init__(
        self, destination: RunDestination, interval_s: float, say: Callable[[str], None]
    ) -> None:
        self.destination = destination
        self.interval_s = interval_s
        self._say = say
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="journal-retry", daemon=True)
        self._was_unreachable = False

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """No more retries; waits (bounded) for a pass under way to end."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        """Each pass reads the journal through one connection kept by this thread: opening
        it again would check the whole file (``quick_check``) at every retry."""
        journal: JournalStore | None = None
        try:
            while not self._stopped.wait(self.interval_s):
                try:
                    if journal is None:
                        assert self.destination.journal is not None
                        journal = JournalStore(self.destination.journal)
                    report = self.destination.sync(journal=journal)
                except (StoreError, DatabaseError) as error:
                    self._say(f"records journal {self.destination.journal}: {error}")
                    continue
                stopped = report.stopped is not None
                if report.outcomes or (stopped and not self._was_unreachable):
                    self._say(report.summary())
                self._was_unreachable = stopped
        finally:
            if journal is not None:
                journal.close()


def check_location(location: str | None) -> None:
    """:class:`~bench.records.database.BadLocation` when ``location`` (None:
    ``$SPABENCH_DB``) is neither a file's path nor a server's URL (:func:`parse_location`), or
    is a server URL that does not parse: a typing error, refused before anything runs (taking
    it for "offline" would file runs in a journal no server will ever take them from). The
    line names it without its password. A server's upload bound
    (``$SPABENCH_UPLOAD_TIMEOUT``) that is none is refused too."""
    configured = location if location is not None else os.environ.get(DB_ENV) or None
    if configured is None:
        return
    server = parse_location(configured)
    if not isinstance(server, str):
        return
    from bench.records.backends.postgresql import url_problem

    problem = url_problem(server)
    if problem is not None:
        raise BadLocation(
            f"records server {shown_location(server)}: the URL does not parse "
            f"({problem}); check --db / ${DB_ENV}"
        )
    upload_timeout()  # the bound of every upload to it


def open_destination(location: str | None) -> RunDestination:
    """The destination for ``--db`` (None: ``$SPABENCH_DB`` or the default file);
    :class:`~bench.records.database.BadLocation` for a location that is neither a path nor a
    server URL that parses."""
    check_location(location)
    configured = location if location is not None else os.environ.get(DB_ENV) or None
    server = None if configured is None else parse_location(configured)
    if isinstance(server, str):
        return RunDestination(location, server=server, journal=journal_path(server))
    return RunDestination(location)
