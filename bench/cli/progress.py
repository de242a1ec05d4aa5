"""Live progress of a run in the terminal, and the summary a technician reads at the end.

The display is one of the runner's output callbacks (:class:`bench.testing.runner.RunHooks`): a
table of the plan's steps with their status, and a progress bar for the current wait (in
virtual mode the waits are simulated, so the bars move fast). On a terminal it redraws in
place with rich's ``Live``; anywhere else (CI logs, pipes) it prints one line per finished
step, so logs stay readable. A pipe whose reader left (``| head -3``) silences the display
and nothing else (:class:`RunConsole`).

A run has one id a person sees: its number in the records (``run 12``), known from the
moment it is filed — before its first step — and shown in the first line, the summary's
title, ``history`` and ``report``; the record's UUID stays in the JSON for machines. A run
on a simulated unit says "SIMULATED UNIT" in its first line, its summary and its verdict.
"""

from __future__ import annotations

import os
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bench.records.display import display_time
from bench.testing.plans import Plan
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks

STYLES = {
    "pass": "green",
    "fail": "bold red",
    "error": "bold magenta",
    "skipped": "dim",
    "running": "yellow",
    "pending": "dim",
}
VERDICT_STYLES = {"pass": "bold green", "fail": "bold red", "error": "bold magenta"}
SIMULATED = "SIMULATED UNIT"
"""How every line about a run on a simulated unit marks it (never evidence about a box)."""
LOG_WIDTH = 140
"""Width of tables written to a log or pipe (rich would otherwise assume 80 and wrap)."""


def discard_output(stream: IO[str]) -> None:
    """The reader of ``stream`` went away (``spabench run … | head -3``): point its file
    descriptor at /dev/null, so the rest of the run's words — and the interpreter's final
    flush — go nowhere quietly instead of ending the run."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # not a real file (a test's capture): nothing to point
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class RunConsole(Console):
    """A console whose reader may leave: a closed pipe silences it, nothing more.

    rich's default ends the process (SystemExit 1) on a broken pipe: a run piped into
    ``head`` would stop half-way and read back as interrupted. A test is not stopped because
    nobody reads its progress: the run goes on to its verdict and is filed as usual.
    """

    reader_gone = False
    """The pipe broke: nothing more is shown (the records and ``--json`` have it all)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        self.reader_gone = True
        discard_output(self.file)


def make_console(*, stderr: bool = False) -> Console:
    """A console for the terminal, or a wide one for logs (readable, greppable tables).

    ``stderr``: the run's words go to standard error (standard output carries the record,
    ``--json -``)."""
    console = RunConsole(stderr=stderr)
    return console if console.is_terminal else RunConsole(stderr=stderr, width=LOG_WIDTH)


class LiveProgress(NoHooks):
    """Runner hooks that draw the run; call :meth:`pause`/:meth:`resume` around prompts."""

    def __init__(self, plan: Plan, console: Console | None = None) -> None:
        self.plan = plan
        self.console = console or Console()
        self.status: dict[str, tuple[str, str]] = {
            spec.name: ("pending", "") for spec in plan.steps
        }
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task: TaskID | None = None
        self.live: Live | None = None
        self.interactive = self.console.is_terminal
        self.run_id: int | None = None
        """The run's number in the records, once filed (:meth:`begun`); None: not filed."""
        self.run_name: str | None = None
        """How the run is named on screen: "run 12", "journal run 3"; None: not filed."""
        self.simulated = False

    def begun(self, run_id: int) -> None:
        """The records filed the run as ``run_id`` (before its first step)."""
        self.run_id = run_id
        self.run_name = f"run {run_id}"

    def begun_in_journal(self, run_id: int) -> None:
        """The bench's journal filed the run (a records server gives its number on upload)."""
        self.run_name = f"journal run {run_id}"

    # -- rendering ------------------------------------------------------------------------

    def _table(self) -> Table:
        title = f"{self.plan.name} — {self.plan.title}"
        if self.run_name is not None:
            title = f"{self.run_name} · {title}"
        if self.simulated:
            title = f"{title} · {SIMULATED}"
        table = Table(title=title, title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("step")
        table.add_column("status")
        table.add_column("")
        for index, spec in enumerate(self.plan.steps, start=1):
            state, message = self.status[spec.name]
            table.add_row(
                str(index), spec.title, Text(state, style=STYLES[state]), Text(message[:70])
            )
        return table

    def _render(self) -> Group:
        return Group(self._table(), self.progress)

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    # -- hooks ----------------------------------------------------------------------------

    def on_started(self, record: TestRecord) -> None:
        self.simulated = record.simulated
        if self.interactive:
            self._start_live()
        else:
            unit = record.unit.serial or record.unit.profile or "unit"
            run = self.run_name or "not filed"
            marked = f" — {SIMULATED}" if record.simulated else ""
            self.console.print(
                f"spabench: {run}: plan {record.plan} on {unit} via {record.link}{marked}",
                markup=False,
            )

    def on_step_started(self, step: StepResult) -> None:
        self.status[step.name] = ("running", "")
        if self._task is not None:
            self.progress.remove_task(self._task)
            self._task = None
        self._refresh()

    def on_progress(self, label: str, done: float, total: float) -> None:
        if not self.interactive:
            return
        if self._task is None:
            self._task = self.progress.add_task(label, total=total)
        self.progress.update(self._task, description=label, completed=done, total=total)
        self._refresh()

    def on_step_finished(self, step: StepResult) -> None:
        self.status[step.name] = (step.outcome, step.message)
        if self._task is not None:
            self.progress.remove_task(self._task)
            self._task = None
        if self.interactive:
            self._refresh()
        else:
            message = f" — {step.message}" if step.message else ""
            self.console.print(f"  {step.outcome:7} {step.name}{message}", markup=False)

    def on_finished(self, record: TestRecord) -> None:
        self.stop()
        self.console.print(summary_table(record, self.run_id, self.run_name))
        style = VERDICT_STYLES.get(record.verdict, "")
        marked = f" — {SIMULATED}" if record.simulated else ""
        self.console.print(Text(f"verdict: {record.verdict.upper()}{marked}", style=style))
        self.console.print(Text(record.summary, style="bold"))

    # -- prompts ----------------------------------------------------------------------------

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def pause(self) -> None:
        """Step aside for an operator prompt."""
        if self.live is not None:
            self.live.stop()

    def resume(self) -> None:
        """The table again, below the prompt and its answer."""
        if self.live is not None:
            self._start_live()

    def _start_live(self) -> None:
        """A new ``Live`` each time: rich (15) restarts a stopped one at the height it had,
        and its first drawing would erase that many lines above it — the prompt just
        answered and its answer."""
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
        self.live.start()


def summary_table(record: TestRecord, run_id: int | None = None, name: str | None = None) -> Table:
    """Every step with its outcome and what it measured against which limits, titled with
    the run's number in the records (or ``name``: "journal run 3"; or "not filed")."""
    name = name or (None if run_id is None else f"run {run_id}")
    title = f"{name[0].upper()}{name[1:]} — {record.plan}" if name else f"{record.plan} (not filed)"
    if record.started_at:
        title = f"{title} — {display_time(record.started_at)}"
    if record.simulated:
        title = f"{title} — {SIMULATED}"
    table = Table(title=title, title_justify="left")
    table.add_column("step")
    table.add_column("outcome")
    table.add_column("measured")
    table.add_column("limits")
    for step in record.steps:
        measured = [m for m in step.measurements if m.outcome != "unset"]
        values = "\n".join(
            f"{m.name} = {m.value}{' ' + m.unit if m.unit else ''}" for m in measured
        )
        bounds = "\n".join(
            Text.assemble((m.limits.text(m.unit), STYLES.get(m.outcome, ""))).plain
            for m in measured
        )
        outcome = Text(step.outcome, style=STYLES.get(step.outcome, ""))
        if step.outcome in ("skipped", "error") and step.message:
            values = step.message
        table.add_row(step.title, outcome, values, bounds)
    return table
