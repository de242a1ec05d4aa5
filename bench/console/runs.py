"""Running a test plan from the console: the same runner as ``spabench run``, shown live.

The runner's output hooks are called in the driver thread; :class:`RunTracker` turns them into
an immutable :class:`~bench.console.state.RunView` the session publishes, so the run screen
redraws from snapshots like everything else. With a records database and a unit serial the
run is filed as it goes (:class:`~bench.records.filing.RunFiling`, as ``spabench run`` files
it; the store is opened in the driver thread because a SQLite connection belongs to the
thread that opened it), on the console's service order when it has one. The store comes from
:func:`~bench.records.destination.open_destination`, the door ``spabench run`` files through,
so a bench configured with a records server files the console's runs the same way.

Two things the console adds to what ``spabench run`` files, because only here can they happen:

* a run the technician aborts (``a``, or quitting the console mid-run) is filed at once as
  stopped — verdict ``error``, "aborted by the technician during <step>", every step measured
  so far kept, the rest ``skipped`` — instead of staying "running" while the console lives on;
* a plan stopped by a safety step (``stop_on_fail``: a PRCD that failed or whose dialog was
  cancelled) says so in the record's error and summary, not only on each skipped step.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from bench.console.readings import step_values
from bench.console.state import RunView, StepView
from bench.records.database import DatabaseError, StoreError
from bench.testing.plans import Plan
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks, RunHooks, Runner, utc_now

if TYPE_CHECKING:
    from bench.console.session import Session
    from bench.records.destination import RunDestination
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
            simulated=session.target.simulated,
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
                values = step_values(step) if outcome not in ("running", "skipped") else ()
                steps[index] = StepView(item.name, item.title, outcome, step.message, values)
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
            replace(
                self.view,
                verdict=record.verdict,
                summary=record.summary,
                stopped=stop_reason(record) or "",
                progress=None,
            )
        )

    def aborted(self) -> None:
        self.update(replace(self.view, aborted=True, progress=None))


def stop_reason(record: TestRecord) -> str | None:
    """Why the plan stopped before its end, if it did: the reason the runner gave every step it
    skipped after a step that failed or errored (a safety step's ``stop_on_fail``, or the
    step's own halt such as "the unit did not come back after PRCD RESET")."""
    steps = record.steps
    for index, step in enumerate(steps[:-1]):
        if step.outcome not in ("fail", "error"):
            continue
        rest = steps[index + 1 :]
        reason = rest[0].message
        if reason and all(s.outcome == "skipped" and s.message == reason for s in rest):
            return reason
    return None


class StopExplained(NoHooks):
    """Before the run is filed: a plan stopped by a safety step says so in the record's error
    and summary (the runner writes it only on each skipped step)."""

    def on_finished(self, record: TestRecord) -> None:
        reason = stop_reason(record)
        if reason is None:
            return
        step = next(s for s in record.steps if s.outcome in ("fail", "error"))
        said = f"the plan stopped after '{step.title}': {reason}"
        if record.error and reason not in record.error:
            record.error = f"{record.error}; {said}"
        if reason not in record.summary:
            record.summary = f"{said[0].upper()}{said[1:]}. {record.summary}".strip()


def abort_record(record: TestRecord, plan: Plan, running: str | None) -> TestRecord:
    """``record`` (as far as the runner got) completed as aborted by the technician: the step
    ``running`` when it happened ``error`` (with what it had measured), the steps not reached
    ``skipped``, verdict ``error``."""
    reached = {step.name for step in record.steps}
    step = next((s for s in record.steps if s.name == running), None)
    where = f" during '{step.title}'" if step is not None else ""
    why = f"aborted by the technician{where}"
    if step is not None:
        step.outcome = "error"
        step.message = "aborted by the technician"
    for spec in plan.steps:
        if spec.name not in reached:
            record.steps.append(
                StepResult(spec.name, spec.title, spec.kind, "skipped", "the run was aborted")
            )
    record.verdict = "error"
    record.error = why
    record.summary = f"{why[0].upper()}{why[1:]}: no verdict; the steps before it are kept."
    record.finished_at = utc_now()
    return record


def run_plan(session: Session, plan: Plan) -> TestRecord | None:
    """Run ``plan`` on the session's target (in the driver thread); the finished record."""
    from bench.records.destination import open_destination

    tracker = RunTracker(session, plan)
    hooks: list[RunHooks] = [StopExplained(), tracker]
    destination = open_destination(session.db_path)
    store = _open_store(session, destination, tracker)
    filing = None
    if store is not None:
        filing = _filing(store, session, destination, tracker)
        hooks.append(filing)
    runner = Runner(plan, session.target, hooks=hooks)
    try:
        return runner.run()
    except KeyboardInterrupt:
        if filing is not None and filing.run_id is not None:
            running = next((s.name for s in tracker.view.steps if s.outcome == "running"), None)
            filing.on_finished(abort_record(runner.record, plan, running))
        tracker.aborted()
        raise
    finally:
        if store is not None:
            store.close()
            filed = None if filing is None or filing.unfiled is not None else filing.run_id
            _after_run(session, destination, tracker, filed)


def _on_order(session: Session) -> str:
    return f" on order {session.order_id}" if session.order_id is not None else ""


def _filing(
    store: Store, session: Session, destination: RunDestination, tracker: RunTracker
) -> RunFiling:
    """File the run as it goes; the run screen says what the records did with it (with a
    records server: the journal's number until the upload gives the server's)."""
    from bench.records.filing import RunFiling

    def note(text: str) -> None:
        tracker.update(replace(tracker.view, filed=text))

    on_order = _on_order(session)

    def filed(run_id: int) -> None:
        if destination.journaled:
            note(
                f"filed in the journal as journal run {run_id}{on_order}; uploading to "
                f"{destination.server_name}"
            )
        else:
            note(f"filed as run {run_id}{on_order}")

    return RunFiling(
        store,
        session.target.unit.serial,
        session.order_id,
        on_problem=lambda text: note(f"not filed: {text}"),
        on_filed=filed,
        on_rescued=lambda path: note(f"not filed: the record is saved as {path}"),
        # a simulated run reaches an order only after the technician said yes to filing it
        allow_simulated=True,
    )


def _open_store(session: Session, destination: RunDestination, tracker: RunTracker) -> Store | None:
    """Where the run is filed live: through the same door as ``spabench run``
    (:func:`~bench.records.destination.open_destination`), in this (the driver) thread."""
    serial = session.target.unit.serial
    if not serial:
        tracker.update(replace(tracker.view, filed="not filed: no unit serial (--unit)"))
        return None
    try:
        return destination.open_store()
    except Exception as error:
        tracker.update(replace(tracker.view, filed=f"not filed: {error}"))
        return None


def _after_run(
    session: Session, destination: RunDestination, tracker: RunTracker, run_id: int | None
) -> None:
    """Hand the filed run on (with a records server: upload it from the journal) in a thread
    of its own, so a slow or unreachable server never holds up the unit's driver thread; what
    it says shows as the console's notice, and the run screen then gives the run's number on
    the server (or says it waits in the journal)."""
    said = tracker.view.filed  # what the run screen says of this run now (the driver thread)

    def upload() -> None:
        destination.after_runs(session.tell)
        if run_id is None or not destination.journaled:
            return
        try:
            entry = destination.journal_entry(run_id)
        except (StoreError, DatabaseError):
            return  # after_runs said what is wrong with the journal
        if entry is None:
            return
        server = destination.server_name
        if entry.server_run_id is not None:
            text = f"filed as run {entry.server_run_id} on {server}{_on_order(session)}"
        elif entry.refused is not None:
            text = (
                f"journal run {run_id} refused by {server}: {entry.refused} (kept in the "
                "journal; spabench status lists it)"
            )
        else:
            text = (
                f"filed as journal run {run_id}{_on_order(session)}: waits in the journal "
                f"until {server} answers (spabench sync)"
            )

        def show() -> None:  # the driver thread: unless another run has begun meanwhile
            if session.run_view is not None and session.run_view.filed == said:
                tracker.update(replace(session.run_view, filed=text))

        session.call(show)

    threading.Thread(target=upload, name="spabench-console-after-run", daemon=True).start()
