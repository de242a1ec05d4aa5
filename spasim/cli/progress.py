"""Progress of a long ``spasim simulate`` run on stderr, for the person waiting for it.

A 240 h run takes tens of seconds of wall time; without a sign of life it looks hung. On a
terminal the progress is a rich bar that disappears when the run ends (stdout, the summary
or the CSV, is never touched). Not on a terminal — a pipe, a log, CI — nothing is shown
unless asked for with ``--progress``, and then as plain lines every 10 %, which read well in
a log file. ``--no-progress`` silences the bar on a terminal too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from spasim.simulation.recorder import Progress

PLAIN_LINES = 10
"""Plain progress lines: one every tenth of the run."""


def wanted(switch: bool | None, stream: TextIO) -> bool:
    """``--progress`` / ``--no-progress`` when given; else on a terminal, outside CI."""
    if switch is not None:
        return switch
    return stream.isatty() and not os.environ.get("CI")


@contextmanager
def simulation_progress(
    seconds: float, stream: TextIO, *, switch: bool | None
) -> Iterator[Progress | None]:
    """A progress callback for a run of ``seconds`` simulated seconds (None: show nothing)."""
    if not wanted(switch, stream):
        yield None
        return
    if stream.isatty():
        with _bar(seconds, stream) as progress:
            yield progress
        return
    yield _plain_lines(seconds, stream)


@contextmanager
def _bar(seconds: float, stream: TextIO) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    hours = seconds / 3600.0
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[done]:.1f} of {task.fields[hours]:g} h"),
        TimeElapsedColumn(),
    )
    bar = RichProgress(*columns, console=Console(file=stream), transient=True)
    with bar:
        task = bar.add_task("simulate", total=seconds, done=0.0, hours=hours)

        def update(done: float) -> None:
            bar.update(task, completed=done, done=done / 3600.0)

        yield update


def _plain_lines(seconds: float, stream: TextIO) -> Progress:
    hours = seconds / 3600.0
    last = [0]
    """The last tenth of the run a line was written for."""

    def update(done: float) -> None:
        share = min(done / seconds, 1.0) if seconds else 1.0
        tenth = int(share * PLAIN_LINES + 1e-9)
        if tenth <= last[0]:
            return
        last[0] = tenth
        stream.write(f"simulated {done / 3600.0:.1f} of {hours:g} h ({share:.0%})\n")
        stream.flush()

    return update
