"""Proof: the virtual remote follows the public capture's remote side (issue 12).

The capture (``tests/captures/mspa-wifi-readme.cap``, a copy of the shared
``captures/mspa-wifi-readme.cap``: a real Aurora Urban remote and box, MW's README) is played
back as the *box*: its unsolicited box frames (09, 07, 06, 08) at their captured times, its
handshake and keep-alive answers when the remote asks for them (at the captured time, or at
once if the remote asks later). A :class:`~spasim.remote.VirtualRemote` of the same model
(aurora-urban) talks to it; at 75.57 s a person presses "−", the capture's first press that
only shows the set-point (04 25 = 37 °C).

The panel must already hold 37 °C then. The capture does not show how it got there (it has a
gap from 15.01 to 75.14 s), so the test sets it the way a person would, inside the gap: four
"−" presses at 30.0–31.5 s (the first shows 40, the next three step to 37); the display has
long stopped showing the set-point by 75.57 s, so that press only shows it again.

Judged on the wire, at the time the remote puts each frame on the line (the capture's burst
is logged as one instant, 75.57, so its times are when the remote sent, not when the last of
eight frames finished arriving): every captured remote frame has a virtual remote frame with
the same bytes within ±20 ms, one for one, and inside the captured windows (5.46–15.01 s and
75.14–78.15 s) the virtual remote sends nothing else. The cycle must keep its schedule across
the gap; the keep-alives (60 s after the handshake at ≈5.92 s: 65.9, 125.9 s) fall outside
the windows. An evenly spaced cycle (every 1.25 s) fails this from the first 02 on.
"""

from __future__ import annotations

from collections import defaultdict, deque

from support.public_capture import captured, windows

from protocols.capture import CaptureEntry
from protocols.clock import Scheduler
from protocols.mspa import HANDSHAKE_REPLIES, Frame, FrameDecoder, parse
from protocols.ports import SimCable
from spasim.remote import VirtualRemote

TOLERANCE_S = 0.020
SHOW_SETPOINT_PRESS_S = 75.57
"""The capture's key press: the burst ending 16 00, 04 25."""
PANEL_SETPOINT_C = 37
"""04 25 in the capture's burst."""


class CapturedBox:
    """The capture's box side on the box end of a cable (see the module docstring)."""

    def __init__(self, scheduler: Scheduler, cable: SimCable, entries: list[CaptureEntry]):
        self.scheduler = scheduler
        self.port = cable.box
        self.port.on_receive = self._on_bytes
        self.decoder = FrameDecoder()
        self.answers: dict[int, deque[tuple[float, Frame]]] = defaultdict(deque)
        for entry in entries:
            if entry.sender != "box":
                continue
            frame = parse(entry.data)
            if frame.command in HANDSHAKE_REPLIES:
                self.answers[frame.command].append((entry.t, frame))
            else:
                scheduler.call_at(entry.t, self.port.send, entry.data)

    def _on_bytes(self, data: bytes) -> None:
        now = self.scheduler.now()
        for frame in self.decoder.feed(data, now):
            reply = HANDSHAKE_REPLIES.get(frame.command)
            if reply is None or frame.parameter != 0x00:
                continue
            queued = self.answers[frame.command]
            if queued:
                when, captured = queued.popleft()
                self.scheduler.call_at(max(when, now), self.port.send, bytes(captured))
            else:  # beyond the capture (the keep-alive at 65.9 s): a box answers at once
                self.port.send(bytes(reply))


def _run_virtual_remote(entries: list[CaptureEntry]) -> list[tuple[float, bytes]]:
    scheduler = Scheduler()
    cable = SimCable(scheduler)
    CapturedBox(scheduler, cable, entries)
    sent: list[tuple[float, bytes]] = []

    def log(time: float, sender: str, frame: Frame) -> None:
        if sender == "remote":
            sent.append((time, bytes(frame)))

    remote = VirtualRemote(scheduler, cable.remote, profile="aurora-urban", on_frame=log)
    remote.start()
    for at in (30.0, 30.5, 31.0, 31.5):  # inside the gap: show 40, then 39, 38, 37
        scheduler.call_at(at, remote.setpoint_down)
    scheduler.call_at(SHOW_SETPOINT_PRESS_S, remote.setpoint_down)
    scheduler.run_until(SHOW_SETPOINT_PRESS_S - 1.0)
    assert remote.state.setpoint == PANEL_SETPOINT_C
    assert remote.display is not None and not remote.display.showing_setpoint
    scheduler.run_until(entries[-1].t + 1.0)
    assert remote.state.setpoint == PANEL_SETPOINT_C, "the press at 75.57 s only shows it"
    return sent


def test_virtual_remote_sends_every_captured_remote_frame_within_20_ms() -> None:
    entries = captured()
    sent = _run_virtual_remote(entries)
    unmatched = list(sent)
    missing: list[str] = []
    for entry in (e for e in entries if e.sender == "remote"):
        candidates = [
            (abs(t - entry.t), i)
            for i, (t, data) in enumerate(unmatched)
            if data == entry.data and abs(t - entry.t) <= TOLERANCE_S + 1e-9
        ]
        if not candidates:
            near = [f"{t:.3f}" for t, data in sent if data == entry.data and abs(t - entry.t) < 2]
            missing.append(f"{entry.t:.2f} {entry.data.hex(' ').upper()} (sent at {near})")
            continue
        unmatched.pop(min(candidates)[1])
    assert not missing, "captured remote frames the virtual remote did not send:\n" + "\n".join(
        missing
    )
    spans = windows(entries)
    assert spans == [(5.46, 15.01), (75.14, 78.15)]
    extra = [
        f"{t:.3f} {data.hex(' ').upper()}"
        for t, data in unmatched
        if any(start - TOLERANCE_S <= t <= end + TOLERANCE_S for start, end in spans)
    ]
    assert not extra, "the virtual remote sent frames the capture does not show:\n" + "\n".join(
        extra
    )
