"""Noise on a serial line: what a bad cable or a corroded connector does to the bytes.

A real line does not politely spoil only checksums. Interference flips a bit of *any* byte —
the 0xA5 sync byte, the command, the parameter or the sum — and a marginal receiver also
loses bytes (a missed start bit) and, more rarely, sees one twice (a glitch read as a start
bit repeating the shift register). :class:`LineNoise` does all three, seeded, on each chunk
of bytes it is handed, so it can sit as a byte hook on a :class:`~protocols.ports.SimCable`
end, inside a virtual box's UART, or in front of any port; a receiver then sees bad sums,
discarded bytes and frames that never arrive, which is exactly what the bench's link-quality
step counts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class NoiseCounters:
    """What the noise did (for tests and benchmarks; no receiver can know these)."""

    bytes_seen: int = 0
    flipped: int = 0
    dropped: int = 0
    duplicated: int = 0


class LineNoise:
    """Per-byte bit flips, drops and duplicates with the given probabilities.

    ``flip``, ``drop`` and ``duplicate`` are probabilities per byte (each 0..0.5). A flipped
    byte has one random bit inverted. The same seed gives the same noise.
    """

    def __init__(
        self, *, flip: float = 0.0, drop: float = 0.0, duplicate: float = 0.0, seed: int = 0
    ) -> None:
        for name, value in (("flip", flip), ("drop", drop), ("duplicate", duplicate)):
            if not 0.0 <= value <= 0.5:
                raise ValueError(f"{name} must be a probability in 0..0.5, got {value!r}")
        self.flip = flip
        self.drop = drop
        self.duplicate = duplicate
        self._any = flip + drop + duplicate
        self._random = random.Random(seed)
        self.counters = NoiseCounters()

    def __call__(self, data: bytes) -> bytes:
        counters = self.counters
        counters.bytes_seen += len(data)
        if not self._any:
            return bytes(data)
        dice = self._random.random
        out = bytearray()
        for byte in data:
            roll = dice()
            if roll < self.drop:
                counters.dropped += 1
                continue
            roll -= self.drop
            if roll < self.flip:
                byte ^= 1 << self._random.randrange(8)
                counters.flipped += 1
                out.append(byte)
                continue
            roll -= self.flip
            out.append(byte)
            if roll < self.duplicate:
                out.append(byte)
                counters.duplicated += 1
        return bytes(out)
