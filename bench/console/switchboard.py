"""A station's channels as the console sees them: which one is open, how to open another.

``spabench console --station`` works on one channel at a time (a technician looks at one
unit; the station run watches them all). The :class:`Switchboard` holds every channel's
:class:`~bench.console.connect.Connection`, which one the console has open, and why a
channel could not be opened the last time it was tried, so the channel picker can say, for
each channel, its port, its unit and whether the console is connected to it.

Opening goes through ``open`` (:func:`~bench.console.connect.open_session` with the
bench's records and operator), the very function that opened the first channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.console.connect import Connection
from bench.console.session import Session
from bench.console.state import LinkStatus


@dataclass
class Switchboard:
    """The channels of station ``station``; ``current`` is the one the console has open."""

    station: str
    connections: tuple[Connection, ...]
    open: Callable[[Connection], Session]
    current: str
    failures: dict[str, str] = field(default_factory=dict)
    """Channel name → why it could not be opened when last tried (cleared when it opens)."""

    def connection(self, name: str) -> Connection:
        for connection in self.connections:
            if connection.channel == name:
                return connection
        raise KeyError(name)

    def choices(self, link: LinkStatus) -> list[tuple[str, str]]:
        """``(channel, label)`` for the picker: name, port, unit and connection state;
        ``link`` is the state of the open channel's link."""
        width = max(len(c.channel) for c in self.connections)
        rows = []
        for connection in self.connections:
            name = connection.channel
            if name == self.current:
                state = f"● open here, link {link.text}"
            elif name in self.failures:
                state = f"✗ could not open: {self.failures[name]}"
            else:
                state = "○ not connected"
            unit = connection.serial or "no serial"
            order = f" order {connection.order_id}" if connection.order_id is not None else ""
            label = f"{name:<{width}}  {connection.where}  {unit}{order}  {state}"
            rows.append((name, label))
        return rows
