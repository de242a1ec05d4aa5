"""The public capture of a real box (johannesc/mspa-wifi's README, an Aurora Urban remote
and box; a copy of ``shared/captures/mspa-wifi-readme.cap``), read once for every test that
replays it.

The published log has no version line; :func:`captured` reads it as it is with the project's
own capture reader (which takes frame lines without one), so the replay tests and
``spabench replay`` agree on the format.
"""

from __future__ import annotations

from pathlib import Path

from protocols.capture import CaptureEntry, read_capture

CAPTURE_FILE = Path(__file__).parent.parent / "captures" / "mspa-wifi-readme.cap"
GAP_S = 5.0
"""A pause longer than this between two capture lines is a cut (the box reports every ~1 s)."""


def captured() -> list[CaptureEntry]:
    """The capture's frames, in order."""
    return read_capture(CAPTURE_FILE).entries


def windows(entries: list[CaptureEntry]) -> list[tuple[float, float]]:
    """The stretches of time the capture covers, split where it was cut."""
    spans: list[tuple[float, float]] = []
    for entry in entries:
        if spans and entry.t - spans[-1][1] <= GAP_S:
            spans[-1] = (spans[-1][0], entry.t)
        else:
            spans.append((entry.t, entry.t))
    return spans
