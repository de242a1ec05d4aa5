"""Test-only helpers for the simulator and its transports: no product module needs them.

* :func:`in_process_pair` — two connected :class:`~protocols.links.Link` ends in one process,
  thread-safe and without OS resources, for tests that need a byte pipe but no pty;
* :func:`time_to_reach` / :func:`water_time_to_reach` — the inverse of the water's closed form
  (when does it reach a temperature), which checks :meth:`spasim.physics.Water.at` from the
  other side;
* :func:`heat_demand` — the panel thermostat's wish, whatever the heater key says.
"""

from __future__ import annotations

import math
import threading
import time

from protocols.clock import Scheduler
from protocols.links import Link, LinkLost
from protocols.mspa import Frame, FrameDecoder
from protocols.mspa.remote import RemoteDuty
from protocols.ports import SimCable
from spasim.physics import Water

# -------------------------------------------------------------------- an in-process link pair


class _Mailbox:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False
        self.condition = threading.Condition()


class InProcessLink(Link):
    """One end of an in-process pair: thread-safe, no OS resources."""

    def __init__(self, inbox: _Mailbox, outbox: _Mailbox, url: str) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self.url = url

    def read(self, timeout: float | None = 0.0) -> bytes:
        inbox = self._inbox
        with inbox.condition:
            if not inbox.data and not inbox.closed and timeout != 0:
                deadline = None if timeout is None else time.monotonic() + timeout
                while not inbox.data and not inbox.closed:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    inbox.condition.wait(remaining)
            if inbox.data:
                data = bytes(inbox.data)
                inbox.data.clear()
                return data
            if inbox.closed:
                raise LinkLost(f"{self.url}: peer closed")
            return b""

    def write(self, data: bytes) -> None:
        outbox = self._outbox
        with outbox.condition:
            if outbox.closed:
                raise LinkLost(f"{self.url}: peer closed")
            outbox.data += data
            outbox.condition.notify_all()

    def close(self) -> None:
        for box in (self._inbox, self._outbox):
            with box.condition:
                box.closed = True
                box.condition.notify_all()


def in_process_pair(name: str = "inproc") -> tuple[InProcessLink, InProcessLink]:
    """Two connected links: what one writes, the other reads. Closing either loses both."""
    a_to_b, b_to_a = _Mailbox(), _Mailbox()
    return (
        InProcessLink(b_to_a, a_to_b, f"{name}://a"),
        InProcessLink(a_to_b, b_to_a, f"{name}://b"),
    )


# -------------------------------------------------------------------- water physics, inverted


def time_to_reach(temp0: float, equilibrium_c: float, rate: float, target: float) -> float:
    """Seconds until the water, starting at ``temp0``, reaches ``target`` (``inf``: never).

    The curve approaches ``equilibrium_c`` monotonically, so the target is reached only when it
    lies between ``temp0`` (inclusive) and the equilibrium (exclusive).
    """
    if temp0 == target:
        return 0.0
    span = temp0 - equilibrium_c
    if span == 0.0:
        return math.inf
    ratio = (target - equilibrium_c) / span
    if not 0.0 < ratio < 1.0:
        return math.inf
    return -math.log(ratio) / rate


def water_time_to_reach(water: Water, now: float, target: float) -> float:
    """Seconds from ``now`` until ``water`` reaches ``target`` with today's inputs."""
    return time_to_reach(water.at(now), water.equilibrium_c, water.rate, target)


# -------------------------------------------------------------------- the panel's thermostat


def heat_demand(duty: RemoteDuty) -> bool:
    """The thermostat's wish (water below the set-point band), whatever the heater key says."""
    return duty._demand


def heard_at_remote(scheduler: Scheduler, cable: SimCable) -> list[tuple[float, Frame]]:
    """Listen at the cable's remote end: the list fills with every frame that arrives there,
    with its arrival time."""
    decoder = FrameDecoder()
    heard: list[tuple[float, Frame]] = []

    def receive(data: bytes) -> None:
        now = scheduler.now()
        heard.extend((now, frame) for frame in decoder.feed(data, now))

    cable.remote.on_receive = receive
    return heard
