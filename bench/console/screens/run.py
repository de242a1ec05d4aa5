"""A test plan running from the console: its steps, the current wait, the verdict.

The runner works in the driver thread; this screen only draws the session's
:class:`~bench.console.state.RunView`. Leaving it (escape) does not stop the run — the main
screen's bar shows it is still going and ``t`` comes back here; ``a`` aborts it (loads off),
here or from any dialog. Each finished step lists what it measured, value against limits
(``1,495 W (1,000–2,200) pass``), so a pass that was close shows as close. A run on a
simulated unit says SIMULATED UNIT in its title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label, ProgressBar

from bench.console.state import RunView, Snapshot
from bench.console.widgets.keys import KeyBar
from bench.console.widgets.status import LinkBar

if TYPE_CHECKING:
    from bench.console.screens.host import ConsoleHost

_OUTCOME_STYLE = {
    "pass": "bold green",
    "fail": "bold red",
    "error": "bold magenta",
    "skipped": "dim",
    "running": "bold cyan",
    "pending": "dim",
}
_VERDICT_STYLE = {"pass": "bold white on green", "fail": "bold white on red"}


_MEASUREMENT_STYLE = {"pass": "green", "marginal": "bold yellow", "fail": "bold red"}
_NOTE_ROOM = 30
"""Cells kept for the note column, where a value against its limits is shown."""
SIMULATED = " SIMULATED UNIT "


def verdict_text(run: RunView) -> Text:
    text = Text(no_wrap=False)
    if run.aborted:
        text.append(" ABORTED ", style="bold white on magenta")
        text.append("  the run was stopped; every load switched off")
        return text
    if run.verdict is None:
        text.append(f" {run.done_count}/{len(run.steps)} steps ", style="bold cyan")
        return text
    text.append(f" {run.verdict.upper()} ", style=_VERDICT_STYLE.get(run.verdict, "bold magenta"))
    if run.stopped and run.stopped not in run.summary:
        text.append(f"  plan stopped: {run.stopped}.", style="bold")
    text.append(f"  {run.summary}")
    return text


def title_text(run: RunView) -> Text:
    text = Text(f" Plan {run.plan} — {run.title}", style="bold", no_wrap=True, overflow="ellipsis")
    if run.simulated:
        text = Text.assemble(Text(SIMULATED, style="bold white on dark_orange3"), text)
    return text


def step_rows(run: RunView) -> list[tuple[str, Text, Text, Text]]:
    """One row per step, then one per value it measured (``  · label`` / ``reading pass``)."""
    rows = []
    for index, step in enumerate(run.steps, start=1):
        rows.append(
            (
                str(index),
                Text(step.title, no_wrap=True, overflow="ellipsis"),
                Text(step.outcome, style=_OUTCOME_STYLE.get(step.outcome, "")),
                Text(step.message, no_wrap=True, overflow="ellipsis", style="dim"),
            )
        )
        for value in step.values:
            reading = Text(value.reading, no_wrap=True, overflow="ellipsis")
            if value.outcome:
                reading.append(f" {value.outcome}", style=_MEASUREMENT_STYLE.get(value.outcome))
            label = Text(f"  · {value.label}", style="dim", no_wrap=True, overflow="ellipsis")
            rows.append(("", label, Text(""), reading))
    return rows


class RunScreen(Screen[None]):
    """Steps with their outcome, the progress of the current one, and the verdict."""

    DEFAULT_CSS = """
    RunScreen #run-title { width: 1fr; }
    RunScreen DataTable { height: 1fr; overflow-x: hidden; }
    RunScreen #progress-label { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    RunScreen ProgressBar { width: 1fr; }
    RunScreen #verdict { width: 1fr; height: auto; max-height: 3; }
    RunScreen #filed { width: 1fr; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back"),
        Binding("a", "abort", "abort run"),
        Binding("t", "again", "run another"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, host: ConsoleHost) -> None:
        super().__init__()
        self.host = host
        self._shown: RunView | None = None

    def compose(self) -> ComposeResult:
        yield LinkBar(self.host.speed)
        yield Label("", id="run-title", markup=False)
        yield DataTable[Text | str](cursor_type="row", zebra_stripes=False)
        yield Label("", id="progress-label", markup=False)
        yield ProgressBar(total=1.0, show_eta=False, show_percentage=False)
        yield Label("", id="verdict")
        yield Label("", id="filed", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.show(self.host.snapshot)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        run = self.host.snapshot.run
        running = run is not None and not run.finished
        if action == "abort":
            return True if running else None
        if action == "again":
            return None if running or self.host.snapshot.busy else True
        return True

    def show(self, snapshot: Snapshot) -> None:
        self.query_one(LinkBar).show(snapshot)
        run = snapshot.run
        if run is None or run is self._shown:
            return
        finished_changed = self._shown is None or self._shown.finished != run.finished
        self._shown = run
        self.query_one("#run-title", Label).update(title_text(run))
        table: DataTable[Text | str] = self.query_one(DataTable)
        table.clear(columns=True)
        # The step column leaves room for a value against its limits in the note column.
        longest = max((len(step.title) for step in run.steps), default=10)
        width = max(20, min(longest, (self.size.width or 80) - 16 - _NOTE_ROOM))
        table.add_column("#", width=2)
        table.add_column("step", width=width)
        table.add_column("result", width=7)
        table.add_column("note")
        rows = step_rows(run)
        current_row = None
        for row_index, row in enumerate(rows):
            table.add_row(*row)
            if run.current is not None and row[0] == str(run.current + 1):
                current_row = row_index
        if current_row is not None:
            table.move_cursor(row=current_row, animate=False)
        label, done, total = run.progress or ("", 0.0, 1.0)
        current = run.steps[run.current].title if run.current is not None else ""
        if run.finished:
            label_text = ""
        elif label:
            label_text = f" {current}: {label} {done:.0f}/{total:.0f} s"
        else:
            label_text = f" {current}"
        self.query_one("#progress-label", Label).update(label_text)
        bar = self.query_one(ProgressBar)
        bar.display = not run.finished
        bar.update(total=max(total, 1e-9), progress=done if label else 0.0)
        self.query_one("#verdict", Label).update(verdict_text(run))
        self.query_one("#filed", Label).update(f" {run.filed}" if run.filed else "")
        if finished_changed:
            self.refresh_bindings()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_abort(self) -> None:
        self.host.session.abort_job()

    def action_again(self) -> None:
        self.app.pop_screen()
        self.host.open_plan()

    async def action_quit(self) -> None:
        await self.host.action_quit()
