"""Running a test plan from the console: the same runner as ``spabench run``, shown live.

The runner's output hooks are called in the driver thread; :class:`RunTracker` turns them into
an immutable :class:`~bench.console.state.RunView` the session publishes, so the run screen
redraws from snapshots like everything else. With a records database and a unit serial the
run is filed as it goes (:class:`~bench.records.filing.RunFiling`, as ``spabench run`` files
it; the store is opened in the driver thread because a SQLite connection belongs to the
thread that opened it).
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
    from bench.records.filing import RunFiling
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


def run_plan(session: Session, plan: Plan) -> TestRecord | None:
    """Run ``plan`` on the session's target (in the driver thread); the finished record."""
    tracker = RunTracker(session, plan)
    hooks: list[RunHooks] = [tracker]
    store = _open_store(session, tracker)
    if store is not None:
        hooks.append(_filing(store, session.target.unit.serial, tracker))
    try:
        return Runner(plan, session.target, hooks=hooks).run()
    except KeyboardInterrupt:
        tracker.aborted()
        raise
    finally:
        if store is not None:
            store.close()


def _filing(store: Store, serial: str, tracker: RunTracker) -> RunFiling:
    """File the run as it goes; the run screen says what the records did with it."""
    from bench.records.filing import RunFiling

    def note(text: str) -> None:
        tracker.update(replace(tracker.view, filed=text))

    return RunFiling(
        store,
        serial,
        on_problem=lambda text: note(f"not filed: {text}"),
        on_filed=lambda run_id: note(f"filed as run {run_id}"),
        on_rescued=lambda path: note(f"not filed: the record is saved as {path}"),
    )


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
