"""Frame captures: what was seen on the remote cable, as a text file a person can read and diff.

Format (``spasim capture v1``)
------------------------------

UTF-8 text, one line per frame::

    # spasim capture v1
    # date: 2024-05-01T18:20:00Z
    # profile: premium-4
    # source: spabench sniff
    5.460000 box A5 09 00 AE
    5.660000 box A5 07 0C B8
    5.890000 remote A5 0B 00 B0
    6.012345 box 00 FF  # garbage
    6.100000 remote A5 01 01 A8  # bad checksum

* The first line that is not blank is ``# spasim capture v1``. Readers refuse other versions.
  Writers always write it; readers also take a file without it (a capture cut by hand, or
  converted from a logic analyser's export) when every line is a frame line, a comment or
  blank — such a file has no header, and its first other line is refused by number.
* Header: ``# key: value`` comment lines after it and before the first frame line (``date``
  in ISO 8601 UTC, ``profile``, ``source`` and any other key made of letters, digits,
  ``_ . -``). A key may appear once. Other comments, and ``key: value`` comments after the
  first frame line, are plain comments.
* A frame line is ``<seconds> <box|remote> <hex bytes>``: seconds since the start of the
  capture with 6 decimals (a plain non-negative decimal number), who sent the bytes (``box``:
  box→remote on the green wire, ``remote``: remote→box on the black wire) and the bytes as
  two-digit hex separated by spaces. The time is when the first byte of the line arrived.
* Bytes that are not a frame are kept on their own line, followed by a comment saying why
  (``# garbage``, ``# bad checksum``, ``# partial frame timed out``, ``# incomplete frame``),
  so nothing seen on the wire is lost. Readers ignore the comment: the bytes are the record.
  A recorder starts a new such line wherever the arrival time changes, so every byte that is
  not part of a frame carries its own arrival time.
* ``#`` starts a comment anywhere; blank lines and comment lines may appear anywhere.
* Times never go back for the same sender (one wire carries bytes in order). Lines of the
  two senders may step back relative to each other: lines are in the order they were
  recorded, and a frame that began before the other side's frame may be recorded after it.
  Readers reject a time going back for one sender and name the line; times compare at the
  stored microsecond precision.
* Readers reject any other malformed line with ``ValueError("line N: ...")``.

Why text: a capture is evidence in a service record and a fixture in tests; a person must
be able to read it, ``diff`` two of them and cut one by hand without a tool.

:class:`FrameSplitter` cuts a live byte stream into the lines of a capture, using the same
:class:`~protocols.mspa.FrameDecoder` every receiver uses, so a capture fed back through a
decoder at its recorded times decodes to the same frames with the same counters.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Literal, NamedTuple

from protocols.mspa.decoder import DecoderCounters, FrameDecoder
from protocols.mspa.frames import FRAME_LENGTH, PARTIAL_FRAME_TIMEOUT, Direction, Frame

MAGIC = "# spasim capture v1"
Sender = Literal["box", "remote"]
SENDERS: tuple[Sender, ...] = ("box", "remote")

GARBAGE = "garbage"
"""Bytes skipped while hunting for A5."""
BAD_CHECKSUM = "bad checksum"
"""A run of non-frame bytes that includes a candidate frame whose sum did not match."""
TIMED_OUT = "partial frame timed out"
"""A partial frame dropped because the next bytes came more than 100 ms after it began."""
INCOMPLETE = "incomplete frame"
"""A partial frame still waiting when the capture ended."""

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_HEADER_LINE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_.-]*)\s*:\s?(.*)\Z")
_VERSION_LINE = re.compile(r"#\s*spasim capture v(\S+)\s*\Z")
_SECONDS = re.compile(r"\d+(\.\d+)?\Z")
_HEX_BYTE = re.compile(r"[0-9A-Fa-f]{2}\Z")
MAX_SECONDS = 10 * 366 * 86400
"""Latest time a capture line may carry (ten years): a replay schedules every line on a real
clock, and an absurd time (``1e29``) would overflow the platform's ``time_t``."""
MAX_LINE_BYTES = 1024 * 1024
"""Longest capture line read; a longer one (say a file with no newlines) is refused."""


def round_time(t: float) -> float:
    """``t`` as the file stores it (whole microseconds).

    A live reader that decodes with the rounded time makes the same partial-timeout decisions
    as a replay of its capture, to the last microsecond.
    """
    return float(f"{t:.6f}")


def format_line(t: float, sender: Sender, data: bytes, note: str | None = None) -> str:
    """One capture line without the newline: ``5.460000 box A5 09 00 AE``."""
    line = f"{t:.6f} {sender} {data.hex(' ').upper()}"
    return f"{line}  # {note}" if note else line


def _as_sender(sender: Sender | Direction) -> Sender:
    if isinstance(sender, Direction):
        return "box" if sender is Direction.BOX_TO_REMOTE else "remote"
    if sender not in SENDERS:
        raise ValueError(f"unknown sender {sender!r}: expected 'box' or 'remote'")
    return sender


def classify(data: bytes) -> str | None:
    """Why ``data`` is not one frame (None when it is exactly one valid frame).

    Used when a caller writes bytes without saying what they are; a :class:`FrameSplitter`
    knows better (it saw the timing) and passes its own note.
    """
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    counters = decoder.counters
    if counters.bad_checksums:
        return BAD_CHECKSUM
    clean = not counters.discarded_bytes and not decoder.pending
    if frames:
        if clean:
            return None if len(frames) == 1 else f"{len(frames)} frames on one line"
        return "frames mixed with other bytes"
    if not counters.discarded_bytes:
        return INCOMPLETE
    return GARBAGE


class CaptureEntry(NamedTuple):
    """One line of a capture: when, who sent it, the bytes."""

    t: float
    sender: Sender
    data: bytes

    @property
    def direction(self) -> Direction:
        return Direction.from_sender(self.sender)


@dataclass
class Capture:
    """A whole capture file: its header pairs and its lines in file order."""

    header: dict[str, str] = field(default_factory=dict)
    entries: list[CaptureEntry] = field(default_factory=list)


class CaptureWriter:
    """Writes a capture line by line; each line is flushed, so a killed process leaves a
    valid file holding everything up to its last line.

    ``header`` pairs are written after the version line; ``date`` (UTC, now) is added when
    missing. The writer refuses what a reader would refuse (a time going back for a sender,
    a negative or non-finite time, an unknown sender, no bytes), so a file it wrote always
    reads back. ``close_stream`` says whether :meth:`close` closes ``stream`` too.
    Not thread-safe: one writer belongs to one thread (a driver's).
    """

    def __init__(
        self, stream: IO[str], *, header: dict[str, str], close_stream: bool = False
    ) -> None:
        self._stream = stream
        self._close_stream = close_stream
        self._last: dict[Sender, float] = {}
        self.closed = False
        self.lines_written = 0
        pairs = dict(header)
        if "date" not in pairs:
            pairs = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **pairs}
        lines = [MAGIC]
        for key, value in pairs.items():
            if not _KEY.match(key):
                raise ValueError(f"bad header key {key!r}: letters, digits, '_', '.', '-'")
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {key!r}: the value must be one line")
            lines.append(f"# {key}: {value}")
        self._emit("\n".join(lines))

    def _emit(self, text: str) -> None:
        if self.closed:
            raise ValueError("capture writer is closed")
        self._stream.write(text + "\n")
        self._stream.flush()

    def write(
        self, t: float, sender: Sender | Direction, data: bytes, *, note: str | None = None
    ) -> None:
        """One line holding exactly ``data``; unless it is one valid frame the line ends in
        a comment: ``note``, or :func:`classify`'s guess."""
        who = _as_sender(sender)
        data = bytes(data)
        if not data:
            raise ValueError("a capture line needs at least one byte")
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"capture time must be a finite number ≥ 0, got {t!r}")
        stored = round_time(t)
        last = self._last.get(who)
        if last is not None and stored < last:
            raise ValueError(f"{who} time goes back: {stored:.6f} after {last:.6f}")
        self._last[who] = stored
        reason = classify(data)
        self._emit(format_line(stored, who, data, (note or reason) if reason else None))
        self.lines_written += 1

    def write_frame(self, t: float, sender: Sender | Direction, frame: Frame) -> None:
        self.write(t, sender, bytes(frame))

    def write_stream(self, t: float, sender: Sender | Direction, data: bytes) -> None:
        """Bytes that all arrived at ``t``: one line per frame and per run of other bytes.

        Each call is cut on its own (a fresh :class:`FrameSplitter`), which suits whole
        frames a simulator sent. For a stream read in arbitrary pieces, keep one splitter per
        direction and :meth:`write` its segments, so a frame split across reads stays whole.
        """
        splitter = FrameSplitter()
        for segment in [*splitter.feed(data, t), *splitter.flush()]:
            self.write(segment.t, sender, segment.data, note=segment.note)

    def comment(self, text: str) -> None:
        """A free comment line (a marker: "knob turned", "mains off")."""
        for line in text.splitlines() or [""]:
            self._emit(f"# {line}".rstrip())

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        if self.closed:
            return
        self._stream.flush()
        self.closed = True
        if self._close_stream:
            self._stream.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_capture(path: str | os.PathLike[str], **header: str) -> CaptureWriter:
    """A writer on a new file at ``path`` (replacing any file there), line-buffered."""
    stream = open(path, "w", encoding="utf-8", newline="\n", buffering=1)  # noqa: SIM115
    try:
        return CaptureWriter(stream, header=header, close_stream=True)
    except BaseException:
        stream.close()
        raise


def read_capture(source: str | os.PathLike[str] | IO[str]) -> Capture:
    """Parse a capture; ``ValueError("line N: ...")`` for the first line that is wrong."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            return parse_capture(_utf8_lines(stream))
    return parse_capture(source)


def _utf8_lines(stream: IO[bytes]) -> Iterable[str]:
    """Decode line by line, so a binary file is refused naming the line it breaks on."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise ValueError(f"line {number}: longer than {MAX_LINE_BYTES} bytes")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"line {number}: not UTF-8 text") from None


def parse_capture(lines: Iterable[str]) -> Capture:
    """Parse capture text given as lines (a file, ``text.splitlines()``).

    With the version line, header pairs may follow it. Without it (a capture made by hand or
    converted from a logic analyser's export) every line must still be a frame line, a
    comment or blank, and there is no header; the first line that is not says so, with a
    note that the file is not a spasim capture.
    """
    capture = Capture()
    last: dict[Sender, float] = {}
    magic: bool | None = None
    """None until the first line that is not blank: then whether it is the version line."""
    in_header = True
    number = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if magic is None:
            magic = _version(number, line)
            if magic:
                continue
            in_header = False  # no version line, no header: comments are only comments
        if line.startswith("#"):
            pair = _HEADER_LINE.match(line) if in_header else None
            if pair is not None:
                key, value = pair.group(1), pair.group(2).strip()
                if key in capture.header:
                    raise ValueError(f"line {number}: header {key!r} given twice")
                capture.header[key] = value
            continue
        in_header = False
        try:
            entry = _parse_entry(number, line.partition("#")[0], last)
        except ValueError as error:
            if magic:
                raise
            raise ValueError(f"{error}; not a spasim capture ('{MAGIC}' or frame lines)") from None
        capture.entries.append(entry)
    if magic is None:
        raise ValueError(f"line {number + 1}: empty file, not a spasim capture")
    if not magic and not capture.entries:
        raise ValueError(
            f"line {number + 1}: no frame lines and no '{MAGIC}' line, not a spasim capture"
        )
    return capture


def _version(number: int, line: str) -> bool:
    """Whether the first line that is not blank is the version line (``# spasim capture
    v1``); ``ValueError`` for another version."""
    version = _VERSION_LINE.match(line)
    if version is None:
        return False
    if version.group(1) != "1":
        raise ValueError(
            f"line {number}: unsupported capture version {version.group(1)!r} "
            "(this reader knows v1)"
        )
    return True


def _parse_entry(number: int, text: str, last: dict[Sender, float]) -> CaptureEntry:
    tokens = text.split()
    if len(tokens) < 3:
        raise ValueError(f"line {number}: expected '<seconds> <box|remote> <hex bytes>'")
    seconds, who, *hex_bytes = tokens
    if not _SECONDS.match(seconds):
        raise ValueError(f"line {number}: bad time {seconds!r} (expected seconds like 5.460000)")
    t = float(seconds)
    if not t <= MAX_SECONDS:
        raise ValueError(f"line {number}: time {seconds} is beyond {MAX_SECONDS} s (ten years)")
    if who not in SENDERS:
        raise ValueError(f"line {number}: unknown sender {who!r} (expected box or remote)")
    sender: Sender = "box" if who == "box" else "remote"
    for token in hex_bytes:
        if not _HEX_BYTE.match(token):
            raise ValueError(f"line {number}: bad byte {token!r} (expected two hex digits)")
    previous = last.get(sender)
    if previous is not None and t < previous:
        raise ValueError(
            f"line {number}: {sender} time {seconds} goes back (previous {previous:.6f})"
        )
    last[sender] = t
    return CaptureEntry(t, sender, bytes.fromhex("".join(hex_bytes)))


class Segment(NamedTuple):
    """A piece of one direction's byte stream: one frame, or a run of non-frame bytes."""

    t: float
    """Arrival time of the first byte."""
    data: bytes
    frame: Frame | None
    """The frame, or None for bytes that are not one."""
    note: str | None
    """Why the bytes are not a frame (None for a frame)."""


class FrameSplitter:
    """Cuts one direction's byte stream into capture lines as the bytes arrive.

    Bytes go one at a time through a :class:`FrameDecoder` (the receiver of SPEC §3), and
    the splitter watches what it decides: a frame becomes one segment; bytes it skipped or
    rejected become runs of non-frame bytes, cut wherever their arrival time changes, so a
    replay feeding each line at its time hands the decoder every such byte when it really
    arrived. A partial frame dropped by the 100 ms timeout becomes one segment at its first
    byte's time. Feeding byte by byte decides exactly what feeding whole chunks decides
    (the tests check this), so ``decoder.counters`` are the receiver's counters.
    """

    def __init__(self, partial_timeout: float = PARTIAL_FRAME_TIMEOUT) -> None:
        self.decoder = FrameDecoder(partial_timeout)
        self._pending_times: list[float] = []
        """Arrival time of each byte in ``decoder.pending``."""
        self._run = bytearray()
        self._run_t = 0.0
        self._run_bad = False

    @property
    def counters(self) -> DecoderCounters:
        return self.decoder.counters

    def feed(self, data: bytes, now: float) -> list[Segment]:
        """Segments decided by ``data`` arriving at ``now`` (non-frame runs included)."""
        out: list[Segment] = []
        decoder = self.decoder
        counters = decoder.counters
        for byte in data:
            before = decoder.pending
            times = self._pending_times
            timeouts, bad = counters.timeouts, counters.bad_checksums
            frames = decoder.feed(bytes((byte,)), now)
            if counters.timeouts != timeouts:
                self._end_run(out)
                out.append(Segment(times[0], before, None, TIMED_OUT))
                before, times = b"", []
            stream = before + bytes((byte,))
            times.append(now)
            decided = len(stream) - len(decoder.pending)
            rejected = counters.bad_checksums != bad
            if frames:
                start = decided - FRAME_LENGTH
                self._add_run(stream[:start], times[:start], rejected, out)
                self._end_run(out)
                out.append(Segment(times[start], stream[start:decided], frames[0], None))
            else:
                self._add_run(stream[:decided], times[:decided], rejected, out)
            self._pending_times = times[decided:]
        self._end_run(out)
        return out

    def flush(self) -> list[Segment]:
        """End of the stream: a partial frame still waiting becomes an "incomplete" segment."""
        out: list[Segment] = []
        self._end_run(out)
        pending = self.decoder.pending
        if pending:
            out.append(Segment(self._pending_times[0], pending, None, INCOMPLETE))
        self.decoder.reset()
        self._pending_times = []
        return out

    def _add_run(self, data: bytes, times: list[float], rejected: bool, out: list[Segment]) -> None:
        for index, (byte, t) in enumerate(zip(data, times, strict=True)):
            if self._run and t != self._run_t:
                self._end_run(out)
            if not self._run:
                self._run_t = t
            self._run.append(byte)
            # A rejected candidate's A5 is the first byte decided in that step.
            if rejected and index == 0:
                self._run_bad = True

    def _end_run(self, out: list[Segment]) -> None:
        if self._run:
            note = BAD_CHECKSUM if self._run_bad else GARBAGE
            out.append(Segment(self._run_t, bytes(self._run), None, note))
            self._run.clear()
            self._run_bad = False
