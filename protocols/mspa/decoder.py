"""Incremental frame decoder: the receiver half of SPEC §3.

A receiver hunts for 0xA5, drops a partial frame after 100 ms, drops frames with a bad sum
(counting them) and tolerates unknown command codes. The decoder never raises on input
bytes: whatever arrives, the worst outcome is a counter going up.

The scan uses ``bytes.find`` to skip garbage instead of a Python loop per byte, which keeps
the cost per decoded frame near one microsecond.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.mspa.frames import FRAME_LENGTH, PARTIAL_FRAME_TIMEOUT, SYNC, Frame, as_command

_SYNC_BYTE = bytes((SYNC,))
_WHOLE_FRAMES: dict[bytes, Frame] = {}
"""Valid 4-byte frames seen so far → their Frame (frames are immutable, so shared)."""
_WHOLE_FRAMES_MAX = 4096


@dataclass
class DecoderCounters:
    """What a decoder has seen so far; a link-quality instrument reads these."""

    frames: int = 0
    """Frames with a good checksum."""
    bad_checksums: int = 0
    """Candidate frames (A5 + 3 bytes) whose checksum did not match: dropped."""
    discarded_bytes: int = 0
    """Bytes skipped while hunting for A5, and bytes of partial frames dropped on timeout."""
    timeouts: int = 0
    """Partial frames dropped because the rest came more than 100 ms later."""

    @property
    def bad_ratio(self) -> float:
        """Share of candidate frames that had a bad checksum (0.0 when nothing came)."""
        total = self.frames + self.bad_checksums
        return self.bad_checksums / total if total else 0.0


class FrameDecoder:
    """Feed it bytes as they arrive; it returns the complete, valid frames among them.

    ``now`` (seconds, any monotonic time base) enables the 100 ms partial-frame timeout: a
    partial frame whose first byte arrived more than ``partial_timeout`` before ``now`` is
    dropped before the new bytes are scanned. Without timestamps there is no timeout.

    After a bad checksum the decoder drops only the A5 it started at and hunts again from
    the next byte, so a good frame that begins inside a bad candidate is still found.
    """

    __slots__ = ("_buffer", "_partial_since", "counters", "partial_timeout")

    def __init__(self, partial_timeout: float = PARTIAL_FRAME_TIMEOUT) -> None:
        self._buffer = b""
        self._partial_since: float | None = None
        self.partial_timeout = partial_timeout
        self.counters = DecoderCounters()

    @property
    def pending(self) -> bytes:
        """Bytes of a partial frame waiting for the rest."""
        return self._buffer

    def reset(self) -> None:
        """Forget any partial frame (counters are kept)."""
        self._buffer = b""
        self._partial_since = None

    def feed(self, data: bytes | bytearray | memoryview, now: float | None = None) -> list[Frame]:
        """The complete, valid frames among ``data`` (any bytes-like object) and what was
        pending; a partial frame at the end waits for the next call."""
        if type(data) is not bytes:
            # bytearray/memoryview (what readinto and socket buffers give) are not hashable
            # for the fast path, and a mutable buffer must not be kept as the partial frame.
            data = bytes(data)
        if not self._buffer:
            # Fast path: one whole valid frame and nothing pending (what a 9600-baud line
            # delivers almost always): a dictionary hit instead of the scan.
            frame = _WHOLE_FRAMES.get(data)
            if frame is not None:
                self.counters.frames += 1
                self._partial_since = None
                return [frame]
        counters = self.counters
        buffer = self._buffer
        since = self._partial_since
        if buffer and now is not None and since is not None and now - since > self.partial_timeout:
            counters.timeouts += 1
            counters.discarded_bytes += len(buffer)
            buffer = b""
        if not data:
            self._buffer = buffer
            if not buffer:
                self._partial_since = None
            return []
        had_partial = bool(buffer)
        buffer = buffer + bytes(data) if buffer else bytes(data)
        frames: list[Frame] = []
        append = frames.append
        size = len(buffer)
        i = 0
        while True:
            j = buffer.find(_SYNC_BYTE, i)
            if j < 0:
                counters.discarded_bytes += size - i
                i = size
                break
            if j > i:
                counters.discarded_bytes += j - i
            if size - j < FRAME_LENGTH:
                i = j
                break
            command = buffer[j + 1]
            parameter = buffer[j + 2]
            if (SYNC + command + parameter) & 0xFF == buffer[j + 3]:
                frame = Frame(as_command(command), parameter)
                append(frame)
                if len(_WHOLE_FRAMES) < _WHOLE_FRAMES_MAX:
                    _WHOLE_FRAMES[buffer[j : j + FRAME_LENGTH]] = frame
                counters.frames += 1
                i = j + FRAME_LENGTH
            else:
                counters.bad_checksums += 1
                i = j + 1
        rest = buffer[i:]
        if rest:
            # A partial that began in an earlier chunk keeps its original start time.
            if not (had_partial and i == 0):
                self._partial_since = now
        else:
            self._partial_since = None
        self._buffer = rest
        return frames
