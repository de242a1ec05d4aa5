"""Running a test plan from the console: the same runner as ``spabench run``, shown live.

The runner's output hooks are called in the driver thread; :class:`RunTracker` turns them into
an immutable :class:`~bench.console.state.RunView` the session publishes, so the run screen
redraws from snapshots like everything else. With a records database and a unit serial the
run is filed as it goes (:class:`StoreFiling`, the store opened in the driver thread because a
SQLite connection belongs to the thread that opened it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bench.console.state import RunView, StepView
from bench.testing.plans import Plan
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks, RunHooks, Runner

if TYPE_CHECKING:
    from bench.console.session import Session
    from bench.records.store import Store


class RunTracker(NoHooks):
    """Keeps the session's :class:`RunView` in step with the runner."""

    def __init__(self, session: Session, plan: Plan) -> None:
        self.session = session
        session.run_view = RunView(
            plan.name,
            plan.title,
            tuple(StepView(spec.name, spec.title) for spec in plan.steps),
        )

    def update(self, view: RunView) -> None:
        self.session.run_view = view
        self.session.publish()

    @property
    def view(self) -> RunView:
        view = self.session.run_view
        assert view is not None
        return view

    def _set_step(self, step: StepResult, outcome: str) -> RunView:
        view = self.view
        steps = list(view.steps)
        for index, item in enumerate(steps):
            if item.name == step.name:
                steps[index] = StepView(item.name, item.title, outcome, step.message)
                return replace(view, steps=tuple(steps), current=index)
        return view

    def on_step_started(self, step: StepResult) -> None:
        self.update(replace(self._set_step(step, "running"), progress=None))

    def on_progress(self, label: str, done: float, total: float) -> None:
        self.update(replace(self.view, progress=(label, done, total)))

    def on_step_finished(self, step: StepResult) -> None:
        self.update(replace(self._set_step(step, step.outcome), progress=None))

    def on_finished(self, record: TestRecord) -> None:
        self.update(
            replace(self.view, verdict=record.verdict, summary=record.summary, progress=None)
        )

    def aborted(self) -> None:
        self.update(replace(self.view, aborted=True, progress=None))


class StoreFiling(NoHooks):
    """Files the run in the records store step by step (as ``spabench run`` does)."""

    def __init__(self, store: Store, serial: str, tracker: RunTracker) -> None:
        self.store = store
        self.serial = serial
        self.tracker = tracker
        self.run_id: int | None = None

    def _note(self, text: str) -> None:
        self.tracker.update(replace(self.tracker.view, filed=text))

    def on_started(self, record: TestRecord) -> None:
        try:
            self.run_id = self.store.begin_run(record, unit_serial=self.serial)
        except Exception as error:  # the store says why; the run itself goes on
            self._note(f"not filed: {error}")

    def on_step_finished(self, step: StepResult) -> None:
        if self.run_id is not None:
            try:
                self.store.add_step(self.run_id, step)
            except Exception as error:
                self._note(f"not filed: {error}")
                self.run_id = None

    def on_finished(self, record: TestRecord) -> None:
        if self.run_id is not None:
            try:
                self.store.finish_run(self.run_id, record)
                self._note(f"filed as run {self.run_id}")
            except Exception as error:
                self._note(f"not filed: {error}")


def run_plan(session: Session, plan: Plan) -> TestRecord | None:
    """Run ``plan`` on the session's target (in the driver thread); the finished record."""
    tracker = RunTracker(session, plan)
    hooks: list[RunHooks] = [tracker]
    store = _open_store(session, tracker)
    if store is not None:
        hooks.append(StoreFiling(store, session.target.unit.serial, tracker))
    try:
        return Runner(plan, session.target, hooks=hooks).run()
    except KeyboardInterrupt:
        tracker.aborted()
        raise
    finally:
        if store is not None:
            store.close()


def _open_store(session: Session, tracker: RunTracker) -> Store | None:
    serial = session.target.unit.serial
    if not serial:
        tracker.update(replace(tracker.view, filed="not filed: no unit serial (--unit)"))
        return None
    from bench.records.store import Store

    try:
        return Store(session.db_path)
    except Exception as error:
        tracker.update(replace(tracker.view, filed=f"not filed: {error}"))
        return None
