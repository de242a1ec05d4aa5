"""A channel's run filed beside its clock: the records written in the channel's helper thread.

Channels of a station run the same plan side by side, so they finish their steps at nearly
the same moment, and each files its step in the records then. With one records file, the
writers queue for its lock; a channel filing in its own thread stopped its clock meanwhile —
measured with 16 channels, one step in six waited over 5 ms, the longest 37 ms — and the
unit's reports arriving then were stamped late by as much. :class:`PacedFiling` hands the
hooks that come while the unit is being tested (a step begun, progress, a step finished) to
the channel's helper thread (:class:`~bench.station.beside.Beside`) and keeps the driver
running until they are done; the run's beginning and end (begun, finished, interrupted) wait
for the records as before, so where a run is in the records never changes. The records
connection is opened, used and closed in the helper thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.station.beside import Beside
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks
from protocols.driver import Driver

if TYPE_CHECKING:
    from bench.records.filing import RunFiling


class PacedFiling(NoHooks):
    """``filing``'s hooks, each done in ``beside``'s thread (see the module doc)."""

    def __init__(self, filing: RunFiling, driver: Driver, beside: Beside) -> None:
        self.filing = filing
        self._driver = driver
        self._beside = beside

    def on_started(self, record: TestRecord) -> None:
        self._beside.call_blocking(lambda: self.filing.on_started(record))

    def on_step_started(self, step: StepResult) -> None:
        self._beside.call(self._driver, lambda: self.filing.on_step_started(step))

    def on_progress(self, label: str, done: float, total: float) -> None:
        self._beside.call(self._driver, lambda: self.filing.on_progress(label, done, total))

    def on_step_finished(self, step: StepResult) -> None:
        self._beside.call(self._driver, lambda: self.filing.on_step_finished(step))

    def on_finished(self, record: TestRecord) -> None:
        self._beside.call_blocking(lambda: self.filing.on_finished(record))

    def on_interrupted(self, record: TestRecord) -> None:
        self._beside.call_blocking(lambda: self.filing.on_interrupted(record))
