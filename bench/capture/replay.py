"""Play a capture back (``spabench replay``): through the decoder, or into a link on time.

* :func:`decode_capture` feeds every line, in file order, to a receiver for its direction
  at the line's recorded time and prints the decoded frames — exactly what the sniffer
  printed live for the same capture (file order is the order the sniffer recorded in).
* :func:`play_capture` writes the chosen side's bytes into a link at the recorded times
  ÷ ``speed``, scheduled on a :class:`~protocols.driver.RealTimeDriver`: a recorded remote
  can drive a box, a recorded box can answer a remote, a bug report can be re-enacted.
  Garbage and bad-sum lines are written too: the wire is reproduced, noise included.
  Times count from the start of the capture, so the silence before the first frame (a box
  takes 5.46 s to boot) is kept.
"""

from __future__ import annotations

from typing import Literal

from bench.capture.sniff import Output, frame_line, summary_lines
from protocols.capture import Capture, CaptureEntry
from protocols.driver import RealTimeDriver
from protocols.links import Link, LinkLost
from protocols.mspa import DecoderCounters, Direction, FrameDecoder

Side = Literal["box", "remote", "both"]
SIDES: tuple[Side, ...] = ("box", "remote", "both")


def _directions(side: Side) -> tuple[Direction, ...]:
    if side == "both":
        return (Direction.BOX_TO_REMOTE, Direction.REMOTE_TO_BOX)
    return (Direction.from_sender(side),)


class _Receivers:
    """One decoder per direction, printing each frame with the time of the line it ended in."""

    def __init__(self, side: Side, out: Output) -> None:
        self.decoders = {direction: FrameDecoder() for direction in _directions(side)}
        self.out = out

    def wants(self, entry: CaptureEntry) -> bool:
        return entry.direction in self.decoders

    def feed(self, entry: CaptureEntry) -> None:
        direction = entry.direction
        for frame in self.decoders[direction].feed(entry.data, entry.t):
            self.out(frame_line(entry.t, direction, frame))

    def finish(self) -> dict[Direction, DecoderCounters]:
        counters = {direction: d.counters for direction, d in self.decoders.items()}
        for line in summary_lines(counters):
            self.out(line)
        return counters


def decode_capture(
    capture: Capture, *, side: Side = "both", out: Output = print
) -> dict[Direction, DecoderCounters]:
    """Decode as fast as possible; prints frame lines and the summary, returns the counters."""
    receivers = _Receivers(side, out)
    for entry in capture.entries:
        if receivers.wants(entry):
            receivers.feed(entry)
    return receivers.finish()


def play_capture(
    capture: Capture,
    link: Link,
    *,
    side: Side = "both",
    speed: float = 1.0,
    out: Output = print,
) -> dict[Direction, DecoderCounters]:
    """Write ``side``'s bytes into ``link`` on time, printing frames as they leave.

    Whatever comes back on the link is read and dropped (so the peer never blocks on a full
    buffer, and a vanished peer is noticed). Raises :class:`LinkLost` when the link dies.
    """
    driver = RealTimeDriver(speed=speed)
    receivers = _Receivers(side, out)
    entries = [entry for entry in capture.entries if receivers.wants(entry)]
    remaining = len(entries)
    lost: list[LinkLost] = []

    def send(entry: CaptureEntry) -> None:
        nonlocal remaining
        if lost:
            return
        try:
            link.write(entry.data)
        except LinkLost as error:
            lost.append(error)
            return
        receivers.feed(entry)
        remaining -= 1

    def drain() -> None:
        try:
            link.read(0)
        except LinkLost as error:
            driver.remove_reader(link)
            lost.append(error)

    for entry in entries:
        driver.scheduler.call_at(entry.t, send, entry)
    driver.add_reader(link, drain)
    try:
        driver.wait_until(lambda: remaining == 0 or bool(lost), None)
    finally:
        driver.remove_reader(link)
        driver.close()
    if lost:
        raise lost[0]
    return receivers.finish()
