"""The frame log: both directions, time-stamped, hex and meaning, filterable, pausable.

It keeps its own buffer of entries, so a filter or a resume after a pause redraws from what
was heard rather than losing it: a technician who pauses to read a handshake can resume
without a gap, and narrowing to ``06 water`` shows the past reports too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, RichLog

from bench.console.state import FrameEntry
from protocols.mspa import Command

REDRAW_LINES = 1000
"""How many matching entries a redraw (filter change, resume) puts back."""


def command_name(code: int) -> str:
    """``06 water-temp``: how the filter names a command code."""
    try:
        name = Command(code).name.lower().replace("_", "-")
    except ValueError:
        name = "unknown"
    return f"{code:02X} {name}"


def entry_text(entry: FrameEntry) -> Text:
    style = "cyan" if entry.sender == "box" else ""
    return Text(entry.line(), style=style, no_wrap=True, overflow="ellipsis")


class FrameLog(Vertical):
    """A titled, filterable, pausable log of :class:`FrameEntry`."""

    DEFAULT_CSS = """
    FrameLog {
        height: 1fr;
    }
    FrameLog > #frame-title {
        background: $boost;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    FrameLog > RichLog {
        height: 1fr;
        scrollbar-size-vertical: 1;
        background: $surface;
    }
    """

    def __init__(
        self, title: str = "Frames", *, max_entries: int = 20000, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.title = title
        self.entries: deque[FrameEntry] = deque(maxlen=max_entries)
        self.filter: frozenset[int] | None = None
        """Command codes shown (None: every frame)."""
        self.paused = False
        self.unseen = 0

    def compose(self) -> ComposeResult:
        yield Label("", id="frame-title", markup=False)
        yield RichLog(max_lines=REDRAW_LINES * 2, wrap=False, markup=False, highlight=False)

    def on_mount(self) -> None:
        self._update_title()

    @property
    def log_widget(self) -> RichLog:
        return self.query_one(RichLog)

    def shown(self, entry: FrameEntry) -> bool:
        return self.filter is None or entry.command in self.filter

    def visible_lines(self) -> list[str]:
        """The lines the log shows now (tests, and the sniff console's summary)."""
        return [entry.line() for entry in self.entries if self.shown(entry)][-REDRAW_LINES:]

    def add(self, entries: Iterable[FrameEntry]) -> None:
        log = self.log_widget
        for entry in entries:
            self.entries.append(entry)
            if not self.shown(entry):
                continue
            if self.paused:
                self.unseen += 1
            else:
                log.write(entry_text(entry))
        if self.paused:
            self._update_title()

    def set_filter(self, codes: Iterable[int] | None) -> None:
        self.filter = None if codes is None else frozenset(codes)
        self._redraw()

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        if not self.paused:
            self._redraw()
        self._update_title()
        return self.paused

    def _redraw(self) -> None:
        log = self.log_widget
        log.clear()
        matching = [entry for entry in self.entries if self.shown(entry)][-REDRAW_LINES:]
        for entry in matching:
            log.write(entry_text(entry), scroll_end=False)
        # Once laid out (a modal may still cover the log), show the newest lines.
        self.call_after_refresh(log.scroll_end, animate=False, immediate=True)
        self.unseen = 0
        self._update_title()

    def _update_title(self) -> None:
        if self.filter is None:
            shown = "all commands"
        elif not self.filter:
            shown = "nothing"
        else:
            shown = ", ".join(f"{code:02X}" for code in sorted(self.filter))
        state = f"PAUSED, {self.unseen} new" if self.paused else "live"
        text = f" {self.title} · {state} · showing {shown}"
        self.query_one("#frame-title", Label).update(text)
