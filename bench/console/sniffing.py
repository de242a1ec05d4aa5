"""``spabench sniff --console``: the sniffer's decoded frames in the console's frame log.

Same taps, same receivers and same capture file as the plain sniffer (it *is* the sniffer,
with its output going to the screen instead of stdout), so a technician can filter and pause
a live cable instead of scrolling a terminal. The sniffer runs in a worker thread under its
real-time driver; frames reach the UI in batches, at most one message waiting at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from contextlib import ExitStack
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static

from bench.capture.sniff import Sniffer, SniffResult, open_sniffer, taps_line
from bench.console.mailbox import Mailbox
from bench.console.screens.pickers import filter_frame_log
from bench.console.state import FrameEntry
from bench.console.waiting import Updates
from bench.console.widgets.framelog import FrameLog
from bench.console.widgets.keys import KeyBar
from protocols.capture import CaptureWriter
from protocols.cli_support import EXIT_ERROR, EXIT_OK
from protocols.driver import RealTimeDriver
from protocols.links import Link, LinkLost
from protocols.mspa import Direction, Frame


def _discard(_line: str) -> None:
    return None


class ConsoleSniffer(Sniffer):
    """A :class:`~bench.capture.sniff.Sniffer` whose frames go to the console, not to stdout."""

    def __init__(
        self,
        driver: RealTimeDriver,
        box: Link,
        remote: Link,
        *,
        capture: CaptureWriter | None = None,
    ) -> None:
        super().__init__(driver, box, remote, capture=capture, out=_discard)
        self.mailbox = Mailbox()
        """The decoded frames for the UI, and its wake-up (``mailbox.notify``)."""
        self.counts: tuple[tuple[str, int, int], ...] = ()
        self.on_frame = self._frame

    def _frame(self, t: float, direction: Direction, frame: Frame) -> None:
        self.mailbox.put(FrameEntry(t, direction.sender, frame))
        self.counts = tuple(
            (way.value, counters.frames, counters.bad_checksums)
            for way, counters in self.counters().items()
        )
        self.mailbox.ring()


class FramesArrived(Message):
    """The sniffer decoded frames (posted from its thread)."""


class SniffEnded(Message):
    """The sniffer stopped (stop, duration reached, or an adapter went away)."""


class SniffApp(App[int]):
    """A read-only console: both taps' frames, filterable and pausable."""

    TITLE = "spabench sniff"
    ENABLE_COMMAND_PALETTE = False
    CSS = "#sniff-status { height: 1; background: $panel; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "log_filter", "log filter", key_display="/"),
        Binding("s", "log_pause", "pause log"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, sniffer: ConsoleSniffer, taps: str, duration: float | None = None) -> None:
        super().__init__()
        self.sniffer = sniffer
        self.taps = taps
        self.duration = duration
        self.result: SniffResult | None = None
        self.ended = False
        self.error: str | None = None
        """Why the sniff ended early other than a lost adapter (the capture file failed)."""
        self.updates = Updates()
        """Batches of frames shown (and the end); ``await app.updates.until(...)``."""
        self._thread: threading.Thread | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="sniff-status")
        yield FrameLog("Sniffed frames", id="frames")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sniffer.mailbox.notify = self._frames_arrived
        self._status()
        self._thread = threading.Thread(target=self._listen, name="spabench-sniff", daemon=True)
        self._thread.start()

    def _frames_arrived(self) -> None:
        self.post_message(FramesArrived())

    def _listen(self) -> None:
        try:
            self.result = self.sniffer.run(self.duration)
        except OSError as error:  # the capture's disk filled up or went away
            self.error = f"capture: {error.strerror or error}"
        finally:
            self.post_message(SniffEnded())

    def _status(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        result = self.result
        if self.error is not None:
            text.append(f" ● {self.error} ", style="bold white on red")
        elif result is None:
            text.append(" ● listening ", style="bold green")
        elif result.lost is not None:
            text.append(f" ● adapter lost: {result.lost_url} ", style="bold white on red")
        else:
            text.append(" ● stopped ", style="bold yellow")
        for direction, frames, bad in self.sniffer.counts:
            text.append(f"  {direction} {frames} frames")
            text.append(f", {bad} bad", style="bold red" if bad else "")
        if not self.sniffer.counts:
            text.append(f" {self.taps}", style="dim")
        self.query_one("#sniff-status", Static).update(text)

    def on_frames_arrived(self, _message: FramesArrived) -> None:
        self.query_one(FrameLog).add(self.sniffer.mailbox.take())
        self._status()
        self.updates.bump()

    def on_sniff_ended(self, _message: SniffEnded) -> None:
        self.query_one(FrameLog).add(self.sniffer.mailbox.take())
        self.ended = True
        self._status()
        self.updates.bump()

    def action_log_filter(self) -> None:
        filter_frame_log(self.query_one(FrameLog))

    def action_log_pause(self) -> None:
        self.query_one(FrameLog).toggle_pause()

    async def action_quit(self) -> None:
        await self._stop()
        lost = self.result is not None and self.result.lost is not None
        self.exit(EXIT_ERROR if lost or self.error else EXIT_OK)

    async def _stop(self) -> None:
        self.sniffer.stop()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)

    async def on_unmount(self) -> None:
        await self._stop()


def run_sniff_console(args: argparse.Namespace) -> int:
    """``spabench sniff --console``: open the taps (and capture), show them in the console."""
    with ExitStack() as stack:
        try:
            sniffer = open_sniffer(stack, args.box, args.remote, args.capture, ConsoleSniffer)
        except LinkLost as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_ERROR
        app = SniffApp(sniffer, taps_line(args.box, args.remote), args.duration)
        code = app.run()
        result = app.result
        if app.error is not None:
            print(f"error: {app.error}", file=sys.stderr)
            return EXIT_ERROR
        if result is not None and result.lost is not None:
            print(f"error: link lost ({result.lost_url})", file=sys.stderr)
            return EXIT_ERROR
    return code or EXIT_OK
