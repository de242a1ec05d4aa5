"""One channel's run, in that channel's own thread: build its target, file its run, run the
plan with the existing synchronous runner on the channel's own real-time driver.

Everything that can go wrong on one channel — a port that will not open, a unit that cannot
be identified, a lost link, a failing step, a bug — ends that channel (its view says why,
what it measured stays filed) and nothing else: the other channels' threads never see it.
The records are opened, written and closed in the channel's records thread (an SQLite
connection is one thread's), and a wired meter is read in a thread of its own, each while
the channel's driver keeps reading the unit (:mod:`bench.station.beside`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.station.beside import Beside
from bench.station.filing import PacedFiling
from bench.station.meter import PacedMeter
from bench.station.session import ChannelSession, ChannelStopped
from bench.testing.instruments.meter import ModbusMeter
from bench.testing.plans import Plan
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks, RunHooks, Runner
from bench.testing.targets import Target
from protocols.driver import Driver, RealTimeDriver

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
    build: Callable[[RealTimeDriver], Target]
    """Makes the channel's target on the clock given (opens its port, identifies the unit):
    in the thread. The clock is made first and the stop bound to it, so a stop reaches a
    channel still identifying its unit (the listen runs on that clock)."""
    speed: float = 1.0
    """The channel clock's speed (a served unit faster than real time)."""
    serial: str = ""
    order: int | None = None
    allow_simulated: bool = False
    open_store: Callable[[], Store] | None = None
    """A new records connection (None: the run is not filed, :attr:`not_filed` says why)."""
    not_filed: str = ""
    station: str | None = None
    """What the record says tested it (host, station, channel)."""
    binders: list[Callable[[Driver | None], None]] = field(default_factory=list)
    """Told the channel's driver before the target is built (an operator that waits
    through it), and None before it closes."""
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


def _bind(job: ChannelJob, driver: Driver | None) -> None:
    """Stops and prompt answers reach the channel through ``driver`` (None: no more — before
    it closes, so nothing is written into a closed driver's wake-up pipe)."""
    job.session.bind(driver)
    for bind in job.binders:
        bind(driver)


def _run(job: ChannelJob) -> None:
    session = job.session
    session.update(state="connecting")
    session.say(f"connecting to {session.view.port}", detail=True)
    session.check_stop()
    driver = RealTimeDriver(speed=job.speed)
    _bind(job, driver)
    try:
        target = job.build(driver)
    except BaseException as error:
        _bind(job, None)
        driver.close()  # not the target's: it was not made
        if not isinstance(error, Exception):  # stopped (ChannelStopped) while identifying
            raise
        session.end("error", str(error))
        session.say(f"error: {error}")
        return
    records = Beside(f"{session.label} records")
    store: Store | None = None
    try:
        _pace_meter(target)
        session.check_stop()  # stopped just as the unit was identified
        if target.identified:
            session.say(f"unit: {target.identified}")
        hooks: list[RunHooks] = [job.steps]
        if job.open_store is not None:
            try:
                store = records.call_blocking(job.open_store)
            except Exception as error:  # checked before the run: changed under our feet
                session.end("error", f"records: {error}; nothing was run")
                session.say(f"error: records: {error}; nothing was run")
                return
            job.filing = _filing(job, store)
            hooks.append(PacedFiling(job.filing, target.driver, records))
        hooks.append(session)
        runner = Runner(job.plan, target, hooks=hooks, station=job.station)
        try:
            job.record = runner.run()
        except KeyboardInterrupt:
            job.record = getattr(runner, "record", None)
            raise
    finally:
        _bind(job, None)
        target.close()  # the driver with it
        if store is not None:
            records.call_blocking(store.close)
        records.close()
    _ended(job)


def _pace_meter(target: Target) -> None:
    """A meter on a wire is read beside the channel's clock (:mod:`bench.station.meter`):
    the unit's frames keep their arrival times while the meter answers."""
    if isinstance(target.meter, ModbusMeter):
        paced = PacedMeter(target.meter, target.driver)
        target.meter = paced
        target.closers.append(paced.close)  # closers run last first: before the meter's


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
