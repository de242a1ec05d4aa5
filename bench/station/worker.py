"""One channel's run, in that channel's own thread: build its target, file its run, run the
plan with the existing synchronous runner on the channel's own real-time driver.

Everything that can go wrong on one channel — a port that will not open, a unit that cannot
be identified, a lost link, a failing step, a bug — ends that channel (its view says why,
what it measured stays filed) and nothing else: the other channels' threads never see it.
The records are opened here, in the thread that files into them (an SQLite connection is
one thread's), and closed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.station.session import ChannelSession, ChannelStopped
from bench.testing.plans import Plan
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks, RunHooks, Runner
from bench.testing.targets import Target
from protocols.driver import Driver

if TYPE_CHECKING:
    from bench.records.filing import RunFiling
    from bench.records.store import Store


class StepCount(NoHooks):
    """Steps finished, counted before the records and the display hear of them: the
    steps a stopped run keeps."""

    def __init__(self) -> None:
        self.finished = 0

    def on_step_finished(self, step: StepResult) -> None:
        self.finished += 1


@dataclass
class ChannelJob:
    """What one channel's thread needs, prepared (and checked) by the main thread."""

    session: ChannelSession
    plan: Plan
    build: Callable[[], Target]
    """Makes the channel's target (opens its port, identifies the unit): in the thread."""
    serial: str = ""
    order: int | None = None
    allow_simulated: bool = False
    open_store: Callable[[], Store] | None = None
    """A new records connection (None: the run is not filed, :attr:`not_filed` says why)."""
    not_filed: str = ""
    station: str | None = None
    """What the record says tested it (host, station, channel)."""
    binders: list[Callable[[Driver | None], None]] = field(default_factory=list)
    """Told the channel's driver once the target is built (an operator that waits through
    it), and None before it closes."""
    # -- filled by the run ----------------------------------------------------------------
    record: TestRecord | None = None
    steps: StepCount = field(default_factory=StepCount)
    filing: RunFiling | None = None
    stopped_by: int | None = None
    """The signal that stopped the channel, if one did."""
    rescued: Path | None = None


def run_channel(job: ChannelJob) -> None:
    """The channel's thread: run the plan, end the session with its outcome. Never raises
    (an exception ends this channel only)."""
    session = job.session
    try:
        _run(job)
    except ChannelStopped as stop:
        job.stopped_by = stop.signum
        record = job.record
        if record is not None:  # the runner began: it kept what was done
            session.end("interrupted", _kept(job))
        else:
            session.end("interrupted", "stopped before the run began: nothing was run")
    except Exception as error:  # a bug or an instrument beyond the runner's rules
        session.end("error", f"{type(error).__name__}: {error}")
        session.say(f"error: {type(error).__name__}: {error}")


def _kept(job: ChannelJob) -> str:
    filing = job.filing
    steps = f"{job.steps.finished} of {len(job.plan.steps)} steps"
    if filing is not None and filing.run_id is not None:
        run = job.session.view.run_name or f"run {filing.run_id}"
        return f"{run} kept — {steps}, {filing.frames_stored:,} frames"
    if filing is not None:
        return f"{steps}; not filed ({filing.unfiled})"
    return f"{steps}; not filed ({job.not_filed})"


def _run(job: ChannelJob) -> None:
    session = job.session
    session.update(state="connecting")
    session.check_stop()
    try:
        target = job.build()
    except Exception as error:
        session.end("error", str(error))
        session.say(f"error: {error}")
        return
    store: Store | None = None
    try:
        session.bind(target.driver)
        for bind in job.binders:
            bind(target.driver)
        session.check_stop()  # stopped while the unit was being identified
        if target.identified:
            session.say(f"unit: {target.identified}")
        hooks: list[RunHooks] = [job.steps]
        if job.open_store is not None:
            try:
                store = job.open_store()
            except Exception as error:  # checked before the run: changed under our feet
                session.end("error", f"records: {error}; nothing was run")
                session.say(f"error: records: {error}; nothing was run")
                return
            job.filing = _filing(job, store)
            hooks.append(job.filing)
        hooks.append(session)
        runner = Runner(job.plan, target, hooks=hooks, station=job.station)
        try:
            job.record = runner.run()
        except KeyboardInterrupt:
            job.record = getattr(runner, "record", None)
            raise
    finally:
        session.bind(None)  # no stop or wake-up is written into a closed driver's pipe
        for bind in job.binders:
            bind(None)
        target.close()
        if store is not None:
            store.close()
    _ended(job)


def _filing(job: ChannelJob, store: Store) -> RunFiling:
    from bench.records.filing import RunFiling

    session = job.session

    def rescued(path: Path) -> None:
        job.rescued = path
        session.say(f"records: NOT FILED; the record is saved as {path}")

    return RunFiling(
        store,
        job.serial,
        job.order,
        allow_simulated=job.allow_simulated,
        on_begun=session.begun,
        on_problem=lambda text: session.say(f"records: {text}"),
        on_rescued=rescued,
    )


def _ended(job: ChannelJob) -> None:
    """The channel's final state: the verdict, or an error when the run was not filed."""
    record = job.record
    assert record is not None
    session = job.session
    filing = job.filing
    if filing is not None and filing.unfiled is not None:
        where = f"; saved as {job.rescued}" if job.rescued is not None else ""
        session.end("error", f"not filed: {filing.unfiled}{where}")
        return
    if record.verdict == "pass":
        session.end("pass")
    elif record.verdict == "fail":  # the parts are the view's; a summary without one says why
        session.end("fail", "" if record.suspected_parts else record.summary)
    else:
        session.end("error", record.error or "")
