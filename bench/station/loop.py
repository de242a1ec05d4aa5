"""Running a station: one thread per channel, the main thread for the terminal.

Each channel's thread runs :func:`~bench.station.worker.run_channel` (the existing
synchronous runner on the channel's own real-time driver — a thread per channel, never one
per frame or per step). The main thread sleeps on the :class:`~bench.station.prompts.
PromptDesk`: it wakes for a prompt (asks it, one at a time), a line of news (prints it in a
log), a channel that ended, or a few times a second to redraw the live table when a channel
moved. A signal lands in the main thread: it stops every channel through its driver and
waits for them to keep what they measured.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.station.display import StationDisplay
from bench.station.prompts import Prompt, PromptDesk
from bench.station.session import News
from bench.station.worker import ChannelJob, run_channel

REFRESH_S = 0.25
"""Wall seconds between looks at the live table (redrawn only when a channel moved)."""
STOP_WAIT_S = 30.0
"""Wall seconds a stopped station waits for its channels to leave their units safe and
keep what they measured (a channel still identifying its unit finishes listening first)."""
STOPPING = "the station is stopping"


@dataclass(frozen=True)
class ChannelEnded:
    """News: a channel's thread is done."""

    name: str


def run_station(
    jobs: Sequence[ChannelJob],
    desk: PromptDesk,
    display: StationDisplay,
    ask: Callable[[Prompt], None],
) -> None:
    """Run every job at once until each has ended; ``ask`` asks one prompt in the main
    thread (and answers or refuses it on the desk). A KeyboardInterrupt in the main thread
    (Ctrl-C, or the CLI's SIGTERM handler) stops every channel — each keeps what it
    measured — and is raised again once they have stopped (or :data:`STOP_WAIT_S` passed)."""
    threads = [
        threading.Thread(
            target=_channel_thread,
            args=(job, desk),
            name=job.session.label,
            daemon=True,  # one that will not stop must not hold the process after the wait
        )
        for job in jobs
    ]
    display.start()
    try:
        for thread in threads:
            thread.start()
        _serve(len(threads), desk, display, ask)
    except KeyboardInterrupt as interrupt:
        signum = int(getattr(interrupt, "signum", signal.SIGINT))
        for job in jobs:  # first the stop, so a waiting prompt ends as interrupted
            job.session.stop(signum)
        desk.close(STOPPING)
        _wait_for(threads, desk, display)
        raise
    finally:
        display.stop()


def _channel_thread(job: ChannelJob, desk: PromptDesk) -> None:
    try:
        run_channel(job)
    finally:
        desk.post(ChannelEnded(job.session.view.name))


def _serve(
    running: int, desk: PromptDesk, display: StationDisplay, ask: Callable[[Prompt], None]
) -> None:
    while running:
        item = desk.next(REFRESH_S)
        if isinstance(item, Prompt):
            ask(item)
        elif isinstance(item, ChannelEnded):
            running -= 1
        elif isinstance(item, News):
            display.line(item)
        display.refresh()


def _wait_for(
    threads: Sequence[threading.Thread], desk: PromptDesk, display: StationDisplay
) -> None:
    """Let the stopped channels finish (printing their news), at most :data:`STOP_WAIT_S`."""
    deadline = time.monotonic() + STOP_WAIT_S
    while any(thread.is_alive() for thread in threads):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        item = desk.next(min(left, REFRESH_S))
        if isinstance(item, News):
            display.line(item)
        elif isinstance(item, Prompt):  # asked after the desk closed: never asked now
            desk.refused(item, STOPPING)
        display.refresh()
