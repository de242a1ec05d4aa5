"""The top line: is the unit talking, which unit (and, on a station, which channel), how clean
the line is, what is running."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from bench.console.state import Snapshot

_LINK_STYLE = {
    "connected": "bold green",
    "handshaking": "bold yellow",
    "silent": "bold red",
    "lost": "bold white on red",
}


def clock(seconds: float) -> str:
    """``01:02:03``: simulated time since the console started."""
    whole = int(max(0.0, seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def status_text(snapshot: Snapshot, speed: float | None = None) -> Text:
    link = snapshot.link
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" ● ", style=_LINK_STYLE[link.state])
    text.append(link.text, style=_LINK_STYLE[link.state])
    text.append("  ")
    if snapshot.place:
        text.append(snapshot.place, style="bold reverse")
        text.append("  ")
    text.append(snapshot.serial or "no serial", style="bold" if snapshot.serial else "dim")
    if snapshot.profile:
        text.append(f" {snapshot.profile}")
    if snapshot.order_id is not None:
        text.append(f" order {snapshot.order_id}", style="bold")
    bad = snapshot.bad_frames
    text.append("  bad frames ")
    text.append(str(bad), style="bold red" if bad else "")
    text.append(f"  {clock(snapshot.t)}")
    if speed is not None and speed != 1:
        text.append(f" ×{speed:g}", style="dim")
    if snapshot.error:
        text.append(f"  internal error: {snapshot.error}", style="bold red")
    elif snapshot.busy:
        text.append(f"  ▶ {snapshot.busy}", style="bold cyan")
    return text


class LinkBar(Static):
    """Link state (connected / handshaking / silent for N s / lost), unit, bad frames, time."""

    DEFAULT_CSS = """
    LinkBar {
        dock: top;
        height: 1;
        background: $panel;
    }
    """

    def __init__(self, speed: float | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.speed = speed

    def show(self, snapshot: Snapshot) -> None:
        self.update(status_text(snapshot, self.speed))
