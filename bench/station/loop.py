"""Running a station: one thread per channel, the main thread for the terminal.

Each channel's thread runs :func:`~bench.station.worker.run_channel` (the existing
synchronous runner on the channel's own real-time driver — a thread per channel, never one
per frame or per step). The main thread sleeps on the :class:`~bench.station.prompts.
PromptDesk`: it wakes for a prompt (asks it, one at a time), a line of news (prints it in a
log), a channel that ended, or a few times a second to redraw the live table when a channel
moved. A signal lands in the main thread: it stops every channel through its driver and
waits for them to keep what they measured — saying so, since that can take a while; a second
signal ends the wait at once.
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
keep what they measured."""
STOPPING = "the station is stopping"
STOPPING_NEWS = (
    "station: stopping — every channel leaves its unit safe and keeps what it measured "
    "(interrupt again to stop at once)"
)


class StationInterrupted(KeyboardInterrupt):
    """The station was stopped by a signal (``signum``: the first one); ``again``: a second
    signal cut short the wait for the channels, so one still running was not waited for."""

    def __init__(self, signum: int, *, again: bool) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.again = again


@dataclass(frozen=True)
class ChannelEnded:
    """News: a channel's thread is done."""

    name: str


def run_station(
    jobs: Sequence[ChannelJob],
    desk: PromptDesk,
    display: StationDisplay,
    ask: Callable[[Prompt], None],
    interrupted_again: Callable[[], bool] = lambda: False,
) -> None:
    """Run every job at once until each has ended; ``ask`` asks one prompt in the main
    thread (and answers or refuses it on the desk). A KeyboardInterrupt in the main thread
    (Ctrl-C, or the CLI's SIGTERM handler) stops every channel — each keeps what it
    measured — and :class:`StationInterrupted` is raised once they have stopped, or
    :data:`STOP_WAIT_S` passed, or a second interrupt came (``interrupted_again`` says so:
    the CLI's handler raises only once, or a KeyboardInterrupt during the wait)."""
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
        again = False
        try:
            for job in jobs:  # first the stop, so a waiting prompt ends as interrupted
                job.session.stop(signum)
            desk.close(STOPPING)
            display.line(News(STOPPING_NEWS))
            again = not _wait_for(threads, desk, display, interrupted_again)
        except KeyboardInterrupt:  # the second, raised: stop waiting
            again = True
        raise StationInterrupted(signum, again=again) from None
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
    threads: Sequence[threading.Thread],
    desk: PromptDesk,
    display: StationDisplay,
    interrupted_again: Callable[[], bool],
) -> bool:
    """Let the stopped channels finish (printing their news), at most :data:`STOP_WAIT_S`;
    False when a second interrupt ended the wait first."""
    deadline = time.monotonic() + STOP_WAIT_S
    while any(thread.is_alive() for thread in threads):
        if interrupted_again():
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        item = desk.next(min(left, REFRESH_S))
        if isinstance(item, News):
            display.line(item)
        elif isinstance(item, Prompt):  # asked after the desk closed: never asked now
            desk.refused(item, STOPPING)
        display.refresh()
    return True
