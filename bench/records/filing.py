"""Filing a run as it goes: one set of runner hooks for ``spabench run`` and the console.

A run is filed step by step — begun when it starts, each step when it finishes, the verdict
at the end — so a run cut short (lost link, Ctrl-C, a crash) keeps what it measured. A run
that cannot be filed (the disk fills, the file is damaged mid-run) is not lost either: the
finished record is saved as JSON next to the database (or in the working folder) and
:attr:`RunFiling.unfiled` says why, so no caller reports success for it. How the news is
shown is the caller's: the command line prints it, the console shows it on the run screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.records.store import Store
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks
from protocols.files import OutputPathError, OutputWriteError, write_atomic


def _ignore(_news: object) -> None:
    return None


class RunFiling(NoHooks):
    """Runner hooks that file the run in ``store`` under ``serial`` (and ``order_id``).

    ``on_problem`` hears each error (one line), ``on_filed`` the run id once the run is
    complete in the records, ``on_rescued`` where an unfiled record was saved instead.
    """

    def __init__(
        self,
        store: Store,
        serial: str,
        order_id: int | None = None,
        *,
        on_problem: Callable[[str], None] = _ignore,
        on_filed: Callable[[int], None] = _ignore,
        on_rescued: Callable[[Path], None] = _ignore,
    ) -> None:
        self.store = store
        self.serial = serial
        self.order_id = order_id
        self._problem = on_problem
        self._filed = on_filed
        self._rescued = on_rescued
        self.run_id: int | None = None
        self.unfiled: str | None = None
        """Why the run is not (completely) in the records; None once it is filed."""

    def _failed(self, error: Exception) -> None:
        self._problem(str(error))
        self.unfiled = self.unfiled or str(error)
        self.run_id = None

    def on_started(self, record: TestRecord) -> None:
        try:
            self.run_id = self.store.begin_run(
                record, unit_serial=self.serial, order_id=self.order_id
            )
        except Exception as error:  # the store says why; the run itself goes on
            self._failed(error)

    def on_step_finished(self, step: StepResult) -> None:
        if self.run_id is not None:
            try:
                self.store.add_step(self.run_id, step)
            except Exception as error:
                self._failed(error)

    def on_finished(self, record: TestRecord) -> None:
        if self.run_id is not None:
            try:
                self.store.finish_run(self.run_id, record)
                self._filed(self.run_id)
                return
            except Exception as error:
                self._failed(error)
        self.rescue(record)

    def rescue(self, record: TestRecord) -> Path | None:
        """Save the record next to the database, since it could not go into it."""
        db = Path(self.store.path)
        name = f"{db.name}.unfiled-{record.record_id or 'run'}.json"
        for folder in (db.parent, Path.cwd()):
            try:
                write_atomic(folder / name, record.to_json() + "\n")
            except (OutputPathError, OutputWriteError) as error:
                self._problem(str(error))
                continue
            self._rescued(folder / name)
            return folder / name
        return None
