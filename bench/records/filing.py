"""Filing a run as it goes: one set of runner hooks for ``spabench run`` and the console.

A run is filed step by step — begun when it starts, each step when it finishes, the wire
traffic in chunks as it flows, the verdict at the end — so a run cut short (lost link,
Ctrl-C, a crash) keeps what it measured and the frames it saw. A run that cannot be filed
(the disk fills, the file is damaged mid-run) is not lost either: the finished record is
saved as JSON next to the database (or in the working folder) and :attr:`RunFiling.unfiled`
says why, so no caller reports success for it. How the news is shown is the caller's: the
command line prints it, the console shows it on the run screen.

Frames are written as chunk rows (:meth:`~bench.records.run_records.RunRecords.add_frames`),
each with the trace samples (the report's charts) taken since the last: at every step's end,
whenever :data:`FRAME_CHUNK` frames are waiting or :data:`FRAME_FLUSH_S` wall seconds have
passed during a long step, and when the run is interrupted. A chunk is one short
transaction, so filing costs a long run a few dozen commits, not one per frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench.records.store import Store
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks
from protocols.files import OutputPathError, OutputWriteError, write_atomic

FRAME_CHUNK = 500
"""Frames waiting that make a chunk mid-step (a full run has a few thousand)."""
FRAME_FLUSH_S = 5.0
"""Wall seconds after which waiting frames are stored mid-step, however few (a real bench
sends a frame or two a second: a long step loses at most this much if the PC dies)."""


def _ignore(_news: object) -> None:
    return None


class RunFiling(NoHooks):
    """Runner hooks that file the run in ``store`` under ``serial`` (and ``order_id``).

    ``on_begun`` hears the run id as soon as the run is in the records (before its first
    step: the one id a person sees for it), ``on_problem`` each error (one line),
    ``on_filed`` the run id once the run is complete in the records, ``on_rescued`` where an
    unfiled record was saved instead. ``allow_simulated`` files a run on a simulated unit on
    ``order_id`` (see :meth:`~bench.records.run_records.RunRecords.begin_run`).
    """

    def __init__(
        self,
        store: Store,
        serial: str,
        order_id: int | None = None,
        *,
        allow_simulated: bool = False,
        on_begun: Callable[[int], None] = _ignore,
        on_problem: Callable[[str], None] = _ignore,
        on_filed: Callable[[int], None] = _ignore,
        on_rescued: Callable[[Path], None] = _ignore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.serial = serial
        self.order_id = order_id
        self.allow_simulated = allow_simulated
        self._begun = on_begun
        self._problem = on_problem
        self._filed = on_filed
        self._rescued = on_rescued
        self._clock = clock
        self.run_id: int | None = None
        self.unfiled: str | None = None
        """Why the run is not (completely) in the records; None once it is filed."""
        self.steps_stored = 0
        self.frames_stored = 0
        self.samples_stored = 0
        self._record: TestRecord | None = None
        self._chunks = 0
        self._flushed_at = clock()

    def _failed(self, error: Exception) -> None:
        self._problem(str(error))
        self.unfiled = self.unfiled or str(error)
        self.run_id = None

    def on_started(self, record: TestRecord) -> None:
        self._record = record
        try:
            self.run_id = self.store.begin_run(
                record,
                unit_serial=self.serial,
                order_id=self.order_id,
                allow_simulated=self.allow_simulated,
            )
        except Exception as error:  # the store says why; the run itself goes on
            self._failed(error)
            return
        self._flushed_at = self._clock()
        self._begun(self.run_id)

    def on_step_started(self, step: StepResult) -> None:
        self._maybe_store_frames()

    def on_progress(self, label: str, done: float, total: float) -> None:
        self._maybe_store_frames()

    def on_step_finished(self, step: StepResult) -> None:
        if self.run_id is not None:
            try:
                self.store.add_step(self.run_id, step)
                self.steps_stored += 1
            except Exception as error:
                self._failed(error)
        self.store_frames()

    def on_interrupted(self, record: TestRecord) -> None:
        """Ctrl-C, SIGTERM: keep every frame seen and sample taken so far (the steps are
        already in)."""
        self.store_frames()

    def _maybe_store_frames(self) -> None:
        record = self._record
        if record is None:
            return
        waiting = len(record.frames) - self.frames_stored
        sampled = len(record.trace) > self.samples_stored
        if waiting >= FRAME_CHUNK or (
            (waiting > 0 or sampled) and self._clock() - self._flushed_at >= FRAME_FLUSH_S
        ):
            self.store_frames()

    def store_frames(self) -> None:
        """Store the frames the run saw and the trace samples it took since the last chunk,
        as the next chunk."""
        record = self._record
        self._flushed_at = self._clock()
        if self.run_id is None or record is None:
            return
        entries = record.frames[self.frames_stored :]
        samples = record.trace[self.samples_stored :]
        if not entries and not samples:
            return
        try:
            self.store.add_frames(self.run_id, self._chunks + 1, entries, samples)
        except Exception as error:
            self._failed(error)
            return
        self._chunks += 1
        self.frames_stored += len(entries)
        self.samples_stored += len(samples)

    def on_finished(self, record: TestRecord) -> None:
        if self.run_id is not None:  # finish_run stores the whole record, every frame
            try:
                self.store.finish_run(self.run_id, record)
                self._filed(self.run_id)
                return
            except Exception as error:
                self._failed(error)
        self.rescue(record)

    def rescue(self, record: TestRecord) -> Path | None:
        """Save the record next to the database file (a server's records: in the current
        directory), since it could not go into it."""
        db = self.store.path
        name = f"{db.name if db else 'records'}.unfiled-{record.record_id or 'run'}.json"
        for folder in (*([db.parent] if db else []), Path.cwd()):
            try:
                write_atomic(folder / name, record.to_json() + "\n")
            except (OutputPathError, OutputWriteError) as error:
                self._problem(str(error))
                continue
            self._rescued(folder / name)
            return folder / name
        return None
