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

from collections import deque
from collections.abc import Callable

from protocols.clock import Scheduler
from protocols.driver import Driver
from protocols.links import Link, LinkLost
from protocols.mspa.frames import BAUD_RATE, BITS_PER_BYTE, FRAME_LENGTH

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

    A real UART cannot hear or say more than the line carries, but an OS link (TCP, a pty)
    can be flooded far faster. Two optional bounds make the port behave like the UART it
    stands for, so memory and queues stay bounded whatever a client sends:

    * ``rx_buffer`` (bytes): the receive side takes bytes at line rate (960 bytes per
      simulated second at 9600 8N1) with at most ``rx_buffer`` bytes of credit saved up while
      the line was quiet; what arrives beyond that is dropped and counted in
      :attr:`rx_dropped`, like a UART overrun.
    * ``tx_queue`` (bytes): at most this many bytes wait for the line; a frame that would
      exceed it is dropped and counted in :attr:`tx_dropped`. With ``coalesce`` a frame
      identical to one still queued or on the wire is redundant and dropped too (counted in
      :attr:`tx_coalesced`): a flood of keep-alives then costs one answer at a time on the
      line, not a queue of them, and the unit's own reports wait at most one frame time.

    ``None`` (the default) leaves a bound off: a bench on a real serial line never needs it.
    """

    def __init__(
        self,
        driver: Driver,
        link: Link,
        name: str | None = None,
        *,
        rx_buffer: int | None = None,
        tx_queue: int | None = None,
        coalesce: bool = False,
    ) -> None:
        super().__init__(driver.scheduler, name or link.url)
        for label, bound in (("rx_buffer", rx_buffer), ("tx_queue", tx_queue)):
            if bound is not None and bound < FRAME_LENGTH:
                raise ValueError(f"{label} must hold at least one frame, got {bound}")
        self.driver = driver
        self.link = link
        self.rx_buffer = rx_buffer
        self.tx_queue = tx_queue
        self.coalesce = coalesce
        self.rx_dropped = 0
        """Bytes read from the link but dropped: they came faster than the line carries."""
        self.tx_dropped = 0
        """Bytes the unit sent while the transmit queue was full: never put on the line."""
        self.tx_coalesced = 0
        """Bytes not queued because an identical frame was still queued or on the wire."""
        self._rx_credit_at = driver.scheduler.now()
        self._rx_credit = float(rx_buffer or 0)
        self.on_heard: Callable[[bytes], None] | None = None
        """Called with what the receive side took (after the ``rx_buffer`` bound): a tap
        that logs or captures what the unit heard, never the part of a flood it dropped."""
        self._unsent: deque[tuple[float, bytes]] = deque()
        """(time its last bit leaves, bytes) of everything queued or on the wire."""
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
        if self.rx_buffer is not None and data:
            data = self._admit(data)
        if data and self.on_heard is not None:
            self.on_heard(data)
        self._deliver(data)

    def _admit(self, data: bytes) -> bytes:
        """What of ``data`` the line could have carried: credit refills at line rate."""
        assert self.rx_buffer is not None
        now = self.scheduler.now()
        refill = (now - self._rx_credit_at) / self.byte_seconds
        self._rx_credit = min(float(self.rx_buffer), self._rx_credit + max(0.0, refill))
        self._rx_credit_at = now
        room = int(self._rx_credit)
        if room >= len(data):
            self._rx_credit -= len(data)
            return data
        # Whole frames' worth only: a frame cut in two by the bound helps no one, and the
        # credit left over waits for the next chunk.
        room -= room % FRAME_LENGTH
        self._rx_credit -= room
        self.rx_dropped += len(data) - room
        return data[:room]

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the line, unless the transmit queue bound says drop it."""
        if self.lost is not None:
            raise self.lost
        if self.tx_queue is not None or self.coalesce:
            now = self.scheduler.now()
            unsent = self._unsent
            while unsent and unsent[0][0] <= now:
                unsent.popleft()
            if self.coalesce and any(queued == data for _, queued in unsent):
                self.tx_coalesced += len(data)
                return
            backlog = max(0.0, self._line_free_at - now) / self.byte_seconds
            if self.tx_queue is not None and backlog + len(data) > self.tx_queue + 1e-6:
                self.tx_dropped += len(data)
                return
            super().send(data)
            unsent.append((self._line_free_at, bytes(data)))
            return
        super().send(data)

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
