"""Ports: one end of the remote cable as firmware (virtual or bench) sees it.

A unit's firmware does two things with its UART: ``send`` bytes and get told when bytes
arrive (``on_receive``). A :class:`Port` offers exactly that, paced like a 9600-baud line on
the shared scheduler: a frame sent at simulated time *t* finishes arriving 4.17 ms later, and
frames queue behind each other on the line. Two kinds exist:

* :class:`SimCable` — two ends of a simulated cable on one scheduler (in-process, any speed),
  with a byte hook per direction for fault injection (the pymodbus null-modem idea);
* :class:`LinkPort` — a port over a real :class:`~protocols.links.Link` (serial adapter, pty,
  TCP), run by a :class:`~protocols.driver.RealTimeDriver`.

Firmware written against ``Port`` cannot tell which one it has.
"""

from __future__ import annotations

from collections.abc import Callable

from .clock import Scheduler
from .driver import Driver
from .links import Link, LinkLost
from .mspa.frames import BAUD_RATE, BITS_PER_BYTE

ByteHook = Callable[[bytes], bytes]
"""Rewrites bytes in flight (fault injection); returning ``b""`` drops them."""


class Port:
    """One end of a cable; subclasses deliver what :meth:`send` puts on the line."""

    def __init__(self, scheduler: Scheduler, name: str) -> None:
        self.scheduler = scheduler
        self.name = name
        self.on_receive: Callable[[bytes], None] | None = None
        self.on_lost: Callable[[LinkLost], None] | None = None
        self.byte_seconds = BITS_PER_BYTE / BAUD_RATE
        self._line_free_at = 0.0
        self.lost: LinkLost | None = None
        self.bytes_sent = 0
        self.bytes_received = 0

    def send(self, data: bytes) -> None:
        """Put ``data`` on the line; it arrives when its last bit has gone out."""
        if self.lost is not None:
            raise self.lost
        scheduler = self.scheduler
        start = max(scheduler.now(), self._line_free_at)
        done = start + len(data) * self.byte_seconds
        self._line_free_at = done
        self.bytes_sent += len(data)
        scheduler.call_at(done, self._transmit, data)

    @property
    def idle_at(self) -> float:
        """When everything sent so far will have left the line."""
        return max(self.scheduler.now(), self._line_free_at)

    def _transmit(self, data: bytes) -> None:
        raise NotImplementedError

    def _deliver(self, data: bytes) -> None:
        if data and self.on_receive is not None:
            self.bytes_received += len(data)
            self.on_receive(data)

    def _lose(self, error: LinkLost) -> None:
        if self.lost is None:
            self.lost = error
        if self.on_lost is not None:
            self.on_lost(error)
        else:
            raise error

    def close(self) -> None:
        return None


class CableEnd(Port):
    """One end of a :class:`SimCable`."""

    def __init__(self, cable: SimCable, name: str) -> None:
        super().__init__(cable.scheduler, name)
        self.peer: CableEnd | None = None
        self.hook: ByteHook | None = None
        """Rewrites what *this* end sends before the peer gets it."""
        self._cable = cable

    def _transmit(self, data: bytes) -> None:
        if self._cable.cut:
            return
        if self.hook is not None:
            data = self.hook(data)
        if self.peer is not None:
            self.peer._deliver(data)


class SimCable:
    """A simulated remote cable: ``box`` and ``remote`` ends on one scheduler.

    ``cut = True`` models a broken wire: bytes are sent into nothing and nobody is told
    (exactly what a real UART does).
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.box = CableEnd(self, "box")
        self.remote = CableEnd(self, "remote")
        self.box.peer = self.remote
        self.remote.peer = self.box
        self.cut = False


class LinkPort(Port):
    """A port over a real link, read by a real-time driver's ``select`` loop.

    Received bytes go to ``on_receive`` at the simulated time they were read. When the link
    dies, ``on_lost`` is called if set (a server detaches and waits for the next client);
    otherwise :class:`LinkLost` propagates out of the driver's wait (a bench run ends as
    "error: link lost").
    """

    def __init__(self, driver: Driver, link: Link, name: str | None = None) -> None:
        super().__init__(driver.scheduler, name or link.url)
        self.driver = driver
        self.link = link
        driver.add_reader(link, self._readable)

    def _readable(self) -> None:
        if self.lost is not None:
            return
        try:
            data = self.link.read(0)
        except LinkLost as error:
            self.driver.remove_reader(self.link)
            self._lose(error)
            return
        self._deliver(data)

    def _transmit(self, data: bytes) -> None:
        if self.lost is not None:
            return
        try:
            self.link.write(data)
        except LinkLost as error:
            self.driver.remove_reader(self.link)
            self._lose(error)

    def close(self) -> None:
        self.driver.remove_reader(self.link)
        self.link.close()
