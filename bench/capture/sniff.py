"""Listen to a live remote↔box cable in both directions and record it (``spabench sniff``).

The wiring is the real one: two USB-UART adapters share the cable's ground, one adapter's RX
on the green wire hears what the box sends (box→remote), the other's RX on the black wire
hears what the remote sends (remote→box). The sniffer never writes: a tap that talked would
corrupt the traffic it is there to witness.

Each direction has its own :class:`~protocols.capture.FrameSplitter` (a receiver's
:class:`~protocols.mspa.FrameDecoder` underneath, with the 100 ms partial-frame timeout on
the arrival times), so what it prints and counts is what a receiver on that wire decides.
Times are seconds since the sniff started, rounded to the microsecond before decoding, so
replaying the capture through a decoder (:mod:`bench.capture.replay`) makes the same decisions and
prints the same lines.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from protocols.capture import CaptureWriter, FrameSplitter, Segment, open_capture, round_time
from protocols.cli_support import UsageError
from protocols.driver import RealTimeDriver
from protocols.links import Link, LinkLost, open_link
from protocols.mspa import DecoderCounters, Direction, Frame, describe

Output = Callable[[str], None]
S_co = TypeVar("S_co", bound="Sniffer", covariant=True)


def frame_line(t: float, direction: Direction, frame: Frame) -> str:
    """``  12.345  box→remote A5 06 2F DA  water 23.5 °C``: one decoded frame on the console."""
    return f"{t:8.3f}  {describe(frame, direction)}"


def summary_lines(counters: dict[Direction, DecoderCounters]) -> list[str]:
    """What each direction's receiver counted, one line per direction."""
    return [
        f"{direction.value}: {_count(c.frames, 'frame')}, {_count(c.bad_checksums, 'bad sum')}, "
        f"{_count(c.discarded_bytes, 'discarded byte')}"
        for direction, c in counters.items()
    ]


def taps_line(box_url: str, remote_url: str) -> str:
    """``box→remote on URL, remote→box on URL``: which adapter hears which wire."""
    return f"box→remote on {box_url}, remote→box on {remote_url}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass
class _Tap:
    direction: Direction
    link: Link
    splitter: FrameSplitter = field(default_factory=FrameSplitter)


@dataclass
class SniffResult:
    counters: dict[Direction, DecoderCounters]
    lost: LinkLost | None = None
    """Why the sniff ended early: an adapter went away."""
    lost_url: str | None = None


class Sniffer:
    """Reads two tap links under a real-time driver, prints frames, writes the capture.

    ``box`` is the link hearing box→remote, ``remote`` the one hearing remote→box. The
    caller opens and closes the links and the capture; :meth:`run` only listens, once.
    """

    def __init__(
        self,
        driver: RealTimeDriver,
        box: Link,
        remote: Link,
        *,
        capture: CaptureWriter | None = None,
        out: Output = print,
    ) -> None:
        self.driver = driver
        self.capture = capture
        self.out = out
        self.taps = (_Tap(Direction.BOX_TO_REMOTE, box), _Tap(Direction.REMOTE_TO_BOX, remote))
        self.on_frame: Callable[[float, Direction, Frame], None] | None = None
        """Called for every decoded frame (seconds since the start, direction, frame): how a
        live view (the console) follows the sniff without touching stdout."""
        self.lost: LinkLost | None = None
        self.lost_url: str | None = None
        self._stopped = False
        self._start = 0.0

    def stop(self) -> None:
        """End :meth:`run` soon; safe from another thread or a signal handler."""
        self.driver.call_soon_threadsafe(self._stop)

    def _stop(self) -> None:
        self._stopped = True

    def run(self, duration: float | None = None) -> SniffResult:
        """Listen until :meth:`stop`, ``duration`` seconds, or a lost adapter; then flush
        partial frames into the capture and print the summary."""
        self._start = self.driver.sim_time()
        for tap in self.taps:
            self.driver.add_reader(tap.link, partial(self._readable, tap))
        try:
            self.driver.wait_until(lambda: self._stopped or self.lost is not None, duration)
        finally:
            for tap in self.taps:
                self.driver.remove_reader(tap.link)
        for tap in self.taps:
            self._record(tap, tap.splitter.flush())
        counters = {tap.direction: tap.splitter.counters for tap in self.taps}
        for line in summary_lines(counters):
            self.out(line)
        return SniffResult(counters, self.lost, self.lost_url)

    def _readable(self, tap: _Tap) -> None:
        try:
            data = tap.link.read(0)
        except LinkLost as error:
            self.driver.remove_reader(tap.link)
            if self.lost is None:
                self.lost, self.lost_url = error, tap.link.url
            return
        if data:
            t = round_time(max(0.0, self.driver.now() - self._start))
            self._record(tap, tap.splitter.feed(data, t))

    def _record(self, tap: _Tap, segments: list[Segment]) -> None:
        for segment in segments:
            if self.capture is not None:
                self.capture.write(segment.t, tap.direction, segment.data, note=segment.note)
            if segment.frame is not None:
                self.out(frame_line(segment.t, tap.direction, segment.frame))
                if self.on_frame is not None:
                    self.on_frame(segment.t, tap.direction, segment.frame)

    def counters(self) -> dict[Direction, DecoderCounters]:
        """Frames, bad sums and discarded bytes so far, per direction."""
        return {tap.direction: tap.splitter.counters for tap in self.taps}


def open_taps(
    stack: ExitStack, box_url: str, remote_url: str, capture_path: str | None
) -> tuple[Link, Link, CaptureWriter | None]:
    """Open the two adapters (green wire, black wire) and the capture file, all closed by
    ``stack``. ``LinkLost`` when an adapter cannot be opened (exit 3 for the caller);
    ``UsageError`` for the same adapter twice or a capture that cannot be written."""
    if box_url == remote_url:
        raise UsageError("--box and --remote must be two different adapters")
    box = stack.enter_context(open_link(box_url))
    remote = stack.enter_context(open_link(remote_url))
    capture: CaptureWriter | None = None
    if capture_path:
        header = {"source": "spabench sniff", "box-tap": box_url, "remote-tap": remote_url}
        try:
            capture = stack.enter_context(open_capture(capture_path, **header))
        except OSError as error:
            raise UsageError(f"cannot write {capture_path}: {error.strerror}") from None
    return box, remote, capture


class SnifferFactory(Protocol[S_co]):
    """Builds a sniffer over opened taps: :class:`Sniffer` (with its ``out`` bound) or a
    subclass, such as the console's."""

    def __call__(
        self, driver: RealTimeDriver, box: Link, remote: Link, *, capture: CaptureWriter | None
    ) -> S_co: ...


def open_sniffer(
    stack: ExitStack,
    box_url: str,
    remote_url: str,
    capture_path: str | None,
    make: SnifferFactory[S_co],
) -> S_co:
    """The one set-up of a sniff, for the plain sniffer and the console alike: the taps and
    the capture (:func:`open_taps`), a real-time driver, and the sniffer ``make`` builds over
    them. ``stack`` closes the driver first, then the capture and the adapters. Raises as
    :func:`open_taps` does."""
    box, remote, capture = open_taps(stack, box_url, remote_url, capture_path)
    driver = RealTimeDriver()
    stack.callback(driver.close)
    return make(driver, box, remote, capture=capture)
