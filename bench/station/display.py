"""The station on the terminal: one live table of every channel, and the summary at the end.

On a terminal the table redraws in place (rich's ``Live``, refreshed by the main thread only
when a channel's view moved, so sixteen idle channels cost nothing) and the channels' news
that is not a step's (the unit identified, a verdict, an error) scrolls above it; anywhere
else (CI logs, pipes) every piece of news is one line prefixed with the channel
(``channel B:   pass    reports``), so interleaved channels stay readable and greppable.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bench.station.session import ENDED, ChannelSession, ChannelView, News

STYLES = {
    "pass": "bold green",
    "fail": "bold red",
    "error": "bold magenta",
    "interrupted": "bold yellow",
    "running": "yellow",
    "connecting": "yellow",
    "waiting": "dim",
}
SIMULATED = "SIMULATED UNIT"


def _status(view: ChannelView) -> Text:
    """``pass``, ``fail — replace: B9300929 filter pump``, ``error: link lost``..."""
    style = STYLES.get(view.state, "")
    text = Text(view.state, style=style)
    if view.state == "fail" and view.replace:
        text.append(f" — replace: {view.replace}")
    elif view.note and view.state in ENDED:
        text.append(f": {view.note}")
    return text


def _run(view: ChannelView) -> str:
    if view.run_name:
        return view.run_name
    return f"not filed ({view.not_filed})" if view.not_filed else "—"


def _unit(view: ChannelView) -> str:
    """The serial; ``*`` marks a simulated unit (the table's caption says what it means)."""
    serial = view.serial or "—"
    return f"{serial} *" if view.simulated else serial


def _table(title: str, views: Sequence[ChannelView], columns: Sequence[str]) -> Table:
    caption = f"* {SIMULATED}" if any(view.simulated for view in views) else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in columns:
        cut = column in ELLIPSIS
        table.add_column(column, overflow="ellipsis" if cut else "fold", no_wrap=cut)
    return table


ELLIPSIS = frozenset({"port", "model", "step", "last reading"})
"""Columns cut short on a narrow terminal (the rest wrap: a verdict is read whole)."""


def live_table(title: str, views: Sequence[ChannelView]) -> Table:
    """Every channel as it is now: port, unit, model, step k/n, last reading, status."""
    columns = ("channel", "port", "unit", "model", "step", "last reading", "status", "run")
    table = _table(title, views, columns)
    for view in views:
        step = f"{view.step}/{view.steps} {view.step_title}" if view.step else ""
        table.add_row(
            view.name,
            view.port,
            _unit(view),
            view.model,
            step,
            view.reading,
            _status(view),
            _run(view),
        )
    return table


def summary_table(title: str, views: Sequence[ChannelView]) -> Table:
    """The end of a station run: each channel's verdict, part to replace and run id."""
    columns = ("channel", "port", "unit", "model", "verdict", "replace", "run")
    table = _table(title, views, columns)
    for view in views:
        verdict = Text(view.state.upper(), style=STYLES.get(view.state, ""))
        if view.note and view.state != "pass":
            verdict.append(f": {view.note}", style="")
        table.add_row(
            view.name,
            view.port,
            _unit(view),
            view.model,
            verdict,
            view.replace or "—",
            _run(view),
        )
    return table


class StationDisplay:
    """What the main thread draws: the live table (terminal) or the news lines (logs)."""

    def __init__(self, title: str, sessions: Sequence[ChannelSession], console: Console) -> None:
        self.title = title
        self.sessions = list(sessions)
        self.console = console
        self.interactive = console.is_terminal
        self._live: Live | None = None
        self._drawn: tuple[int, ...] = ()

    def _versions(self) -> tuple[int, ...]:
        return tuple(session.version for session in self.sessions)

    def _table(self) -> Table:
        self._drawn = self._versions()
        return live_table(self.title, [session.view for session in self.sessions])

    def start(self) -> None:
        if self.interactive:
            self._start_live()

    def _start_live(self) -> None:
        """A new ``Live`` each time: rich (15) restarts a stopped one at the height it had,
        and its first drawing would erase that many lines above it — the prompt just
        answered, its answer and the channels' news."""
        self._live = Live(self._table(), console=self.console, auto_refresh=False, transient=True)
        self._live.start(refresh=True)

    def refresh(self) -> None:
        """Redraw if any channel moved since the last drawing (main thread)."""
        if self._live is not None and self._versions() != self._drawn:
            self._live.update(self._table(), refresh=True)

    def line(self, news: News) -> None:
        """One channel's news: every line in a log; on a terminal, above the live table,
        all but the steps' (the table shows those)."""
        if not (self.interactive and news.detail):  # never wrapped: one line per event
            self.console.print(news.text, markup=False, highlight=False, soft_wrap=True)

    def pause(self) -> None:
        """Step aside for an operator prompt."""
        if self._live is not None:
            self._live.stop()

    def resume(self) -> None:
        """The table again, below the prompt and its answer."""
        if self._live is not None:
            self._start_live()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def summary(self) -> Table:
        return summary_table(self.title, [session.view for session in self.sessions])
