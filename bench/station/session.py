"""One channel of a station under way: what it shows, and how it is stopped.

A :class:`ChannelSession` is the runner's hooks for one channel's run, turned into an
immutable :class:`ChannelView` (unit, model, step k/n, last reading, verdict, part to
replace, run id) that the thread owning the screen reads whenever it draws — a live table,
a console's channel switcher — without locks and without touching the run. Its news (one
line per step, for logs) goes to a callback.

It is also how the station stops a channel: :meth:`ChannelSession.stop` queues a
:class:`ChannelStopped` into the channel's driver, so the runner in that channel's thread
sees a KeyboardInterrupt at its next wait, leaves the unit safe and keeps what was
measured, exactly as ``spabench run`` does on Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks
from protocols.driver import Driver
from protocols.mspa.parts import UnknownPart, lookup

ChannelState = Literal["waiting", "connecting", "running", "pass", "fail", "error", "interrupted"]
ENDED: frozenset[str] = frozenset({"pass", "fail", "error", "interrupted"})
"""States a channel does not leave."""


def part_labels(record: TestRecord) -> list[str]:
    """The parts to replace as the run's summary names them ("B9300929 filter pump", "PTC
    heater": never a key nobody can order by), each once."""
    labels: list[str] = []
    for part in record.suspected_parts:
        try:
            label = lookup(part.part_number).label
        except UnknownPart:
            label = part.name or part.part_number
        if label not in labels:
            labels.append(label)
    return labels


class ChannelStopped(KeyboardInterrupt):
    """Raised in a channel's thread when the station stops (Ctrl-C, SIGTERM): the runner
    treats it as the technician's Ctrl-C (unit left safe, hooks keep what was done)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class News:
    """A line about one channel, for whoever shows the station."""

    text: str
    """``channel A: verdict FAIL — replace: PTC heater``."""
    detail: bool = False
    """One step's outcome: a log prints it, a live table already shows it."""


@dataclass(frozen=True)
class ChannelView:
    """What one channel shows at one moment (replaced whole, never changed)."""

    name: str
    port: str
    serial: str = ""
    model: str = ""
    state: ChannelState = "waiting"
    step: int = 0
    """The step under way or last finished, 1-based (0: none yet)."""
    steps: int = 0
    step_title: str = ""
    reading: str = ""
    """The last thing measured (a step's measurement, or the water and the power now)."""
    verdict: str = ""
    replace: str = ""
    """Parts to replace, as the summary says them ("B9300929 filter pump"), or ""."""
    run_id: int | None = None
    journal_run: bool = False
    """:attr:`run_id` is the bench journal's number (a records server gives its own when
    the run is uploaded), not the records'."""
    not_filed: str = ""
    """Why the run is not filed in the records (no unit serial), when it is not."""
    note: str = ""
    """Why the channel errored, was not filed, or what else a technician must know."""
    simulated: bool = False

    @property
    def run_name(self) -> str:
        """``run 12``, ``journal run 3`` (not uploaded yet), or "" when not filed (yet)."""
        if self.run_id is None:
            return ""
        return f"{'journal run' if self.journal_run else 'run'} {self.run_id}"


class ChannelSession(NoHooks):
    """Runner hooks of one channel (see module doc); ``news`` hears each :class:`News`."""

    def __init__(
        self,
        name: str,
        port: str,
        *,
        serial: str = "",
        steps: int = 0,
        not_filed: str = "",
        news: Callable[[News], None] = lambda _news: None,
        journaled: bool = False,
    ) -> None:
        """``journaled``: the run is filed in the bench's journal (a records server), so its
        number is the journal's until :meth:`uploaded` gives the server's."""
        self.label = f"channel {name}"
        self._journaled = journaled
        self._news = news
        self.view = ChannelView(
            name=name, port=port, serial=serial, steps=steps, not_filed=not_filed
        )
        self.version = 0
        """Counts changes of :attr:`view` (a drawer redraws only when it moved)."""
        self.record: TestRecord | None = None
        self._shown = 0
        self._record_live: TestRecord | None = None
        self._stop_lock = threading.Lock()
        self._driver: Driver | None = None
        self._stop_signum: int | None = None
        self._stop_raised = False

    # -- the view -------------------------------------------------------------------------

    def update(self, **changes: object) -> None:
        """Replace the view with ``changes`` (the channel's own thread only)."""
        self.view = replace(self.view, **changes)  # type: ignore[arg-type]
        self.version += 1

    def say(self, text: str, *, detail: bool = False) -> None:
        """A line of news about this channel (``channel A: text``)."""
        self._news(News(f"{self.label}: {text}", detail))

    def end(self, state: ChannelState, note: str = "") -> None:
        """The channel is done: ``state`` for good, with why."""
        self.update(state=state, note=note or self.view.note)

    # -- runner hooks (the channel's thread) ------------------------------------------------

    def begun(self, run_id: int) -> None:
        """The records (or the journal) filed the run as ``run_id`` (before its first step)."""
        self.update(run_id=run_id, journal_run=self._journaled)

    def uploaded(self, server_run_id: int) -> None:
        """The records server has the journal run, as ``server_run_id``."""
        self.update(run_id=server_run_id, journal_run=False)

    def on_started(self, record: TestRecord) -> None:
        self._record_live = record
        self.record = record
        self.update(
            state="running",
            serial=record.unit.serial,
            model=record.unit.profile or record.unit.model,
            simulated=record.simulated,
        )
        run = self.view.run_name or "not filed"
        unit = record.unit.serial or record.unit.profile or "unit"
        marked = " — SIMULATED UNIT" if record.simulated else ""
        self.say(f"{run}: plan {record.plan} on {unit} via {record.link}{marked}")

    def on_step_started(self, step: StepResult) -> None:
        self.update(step=self._shown + 1, step_title=step.title)

    def on_progress(self, label: str, done: float, total: float) -> None:
        record = self._record_live
        if record is None or not record.trace:
            return
        sample = record.trace[-1]
        parts = []
        if sample.water_c is not None:
            parts.append(f"{sample.water_c:.1f} °C")
        if sample.power_w is not None:
            parts.append(f"{sample.power_w:.1f} W")
        reading = " · ".join(parts)
        if reading and reading != self.view.reading:
            self.update(reading=reading)

    def on_step_finished(self, step: StepResult) -> None:
        self._shown += 1
        self.update(step=self._shown, step_title=step.title)
        measured = [m for m in step.measurements if m.outcome != "unset"]
        if measured:
            last = measured[-1]
            unit = f" {last.unit}" if last.unit else ""
            self.update(reading=f"{last.name} = {last.value}{unit}")
        message = f" — {step.message}" if step.message else ""
        self.say(f"  {step.outcome:7} {step.name}{message}", detail=True)

    def on_finished(self, record: TestRecord) -> None:
        self._record_live = None
        parts = ", ".join(part_labels(record))
        self.update(verdict=record.verdict, replace=parts, note=record.error or "")
        self.say(f"verdict {record.verdict.upper()} — {record.summary or record.error or ''}")

    def on_interrupted(self, record: TestRecord) -> None:
        self._record_live = None
        self.update(verdict="interrupted")

    # -- stopping -------------------------------------------------------------------------

    def bind(self, driver: Driver | None) -> None:
        """The channel's driver, before its target is built on it (so a stop ends the
        unit's identification too): stops are queued into it. None before the driver
        closes: a closed driver's wake-up descriptor may be reused by then, and nothing must
        be written into whatever file took its number."""
        with self._stop_lock:
            self._driver = driver
            if driver is not None and self._stop_signum is not None:
                driver.call_soon_threadsafe(self.check_stop)

    def stop(self, signum: int = signal.SIGINT) -> None:
        """Stop this channel (any thread): its run ends as interrupted at its next wait."""
        with self._stop_lock:
            if self._stop_signum is not None:
                return
            self._stop_signum = signum
            if self._driver is not None:
                self._driver.call_soon_threadsafe(self.check_stop)

    @property
    def stopping(self) -> bool:
        return self._stop_signum is not None

    def check_stop(self) -> None:
        """Raise :class:`ChannelStopped` once, if the station stops (the channel's thread):
        once only, so the runner's own wait while it leaves the unit safe is not cut."""
        signum = self._stop_signum
        if signum is None or self._stop_raised:
            return
        self._stop_raised = True
        raise ChannelStopped(signum)
