"""Serving a virtual unit on an OS endpoint (pseudo-terminal or TCP) under a real-time driver.

``spasim serve`` (see :mod:`spasim.cli.serve`) puts a virtual box or remote where any
program can open it like a serial port: the slave side of a pty, or a TCP port that
pyserial opens as ``socket://HOST:PORT``. This module is the plumbing, free of argument
parsing and signals so tests and the pytest plugin can use it directly:

* :class:`PtyEndpoint` / :class:`TcpEndpoint` — where clients come from. One client at a
  time, as on a real cable: the pty is always "connected" (we keep its slave open, so a
  client can close and reopen it); a TCP endpoint accepts the next client only after the
  current one has gone (the next waits in the listen backlog meanwhile).
* :class:`Server` — plugs each client's link into the unit through a
  :class:`~protocols.ports.LinkPort`, and unplugs it when the client goes (``on_lost``), so a
  disconnect is an ordinary event, never a crash. The unit keeps living in between
  (water cools, timers run), exactly like a box whose remote cable was pulled.
* :class:`TappedLink` — reports every chunk of bytes in both directions, stamped with the
  simulated time it crossed the link; :class:`FrameTap` turns them into frames (what ``-v``
  prints), :class:`CaptureTap` into capture lines (what ``--capture`` records).
"""

from __future__ import annotations

import contextlib
import os
import socket
import termios
from collections.abc import Callable
from typing import Protocol

from protocols.capture import CaptureWriter, FrameSplitter, Sender
from protocols.clock import Scheduler
from protocols.driver import Driver
from protocols.links import Link, LinkLost, PtyPair, SocketLink
from protocols.mspa import FrameDecoder
from protocols.mspa.remote import FrameListener
from protocols.ports import LinkPort, Port

ROLES = ("box", "remote")

RX_BUFFER_BYTES = 256
"""Bytes a served unit's receive side may take in one burst; beyond that, line rate.

A client can write a socket or pty far faster than 9600 baud; the unit hears what a UART
would (960 bytes per simulated second, plus this much saved up while the line was quiet —
room for a bench's key-press burst after an OS stall) and the rest is dropped and counted."""

TX_QUEUE_BYTES = 64
"""Bytes a served unit's transmit side may have waiting for the line (16 frames).

More than any burst a unit sends (the remote's key-press burst is 8 frames); a frame beyond
it is dropped and counted, and a frame identical to one still queued or on the wire is
coalesced, so a flood of keep-alives cannot push the unit's reports behind a queue of
answers (a report waits at most for the frame being sent)."""


def peer_of(role: str) -> str:
    """Who is at the other end of the cable from a unit playing ``role``."""
    if role not in ROLES:
        raise ValueError(f"role must be 'box' or 'remote', got {role!r}")
    return "remote" if role == "box" else "box"


class Unit(Protocol):
    """A virtual box or remote as the server sees it: something to plug a cable into."""

    def attach(self, port: Port) -> None: ...

    def detach(self) -> None: ...


ByteListener = Callable[[float, str, bytes], None]
"""``(simulated time, sender "box"|"remote", raw bytes)``: one chunk as it crossed a link."""


class TappedLink(Link):
    """A link that reports every chunk of bytes it carries, both ways, with who sent it.

    Outgoing bytes are reported as the unit's (``sender``) when they are written — the
    moment their last bit has left, since a :class:`~protocols.ports.LinkPort` writes then —
    and incoming ones as the peer's when they are read — or, with ``tap_reads=False``, when
    the port says the unit took them (:meth:`heard`; what :class:`Server` does, so a flood
    beyond line rate is not logged or captured either). Raw bytes, not frames: a capture
    keeps garbage and bad sums too; :class:`FrameTap` turns them into frames for ``-v``.
    """

    def __init__(
        self,
        inner: Link,
        scheduler: Scheduler,
        sender: str,
        listener: ByteListener,
        *,
        tap_reads: bool = True,
    ) -> None:
        self.inner = inner
        self.url = inner.url
        self._scheduler = scheduler
        self._sender = sender
        self._peer = peer_of(sender)
        self._listener = listener
        self._tap_reads = tap_reads

    def fileno(self) -> int | None:
        return self.inner.fileno()

    def read(self, timeout: float | None = 0.0) -> bytes:
        data = self.inner.read(timeout)
        if data and self._tap_reads:
            self._listener(self._scheduler.now(), self._peer, data)
        return data

    def heard(self, data: bytes) -> None:
        """Report incoming bytes the unit took (a port's ``on_heard``, when ``tap_reads`` is
        off): ``-v`` and ``--capture`` then show what the unit heard, and a flood it dropped
        costs them nothing."""
        self._listener(self._scheduler.now(), self._peer, data)

    def write(self, data: bytes) -> None:
        now = self._scheduler.now()
        self.inner.write(data)
        self._listener(now, self._sender, data)

    def close(self) -> None:
        self.inner.close()


class FrameTap:
    """Raw chunks in, complete frames out: one decoder per direction, like each receiver.

    The tap's decoders are its own: what the unit makes of the bytes is not affected.
    """

    def __init__(self, listener: FrameListener) -> None:
        self._listener = listener
        self._decoders = {sender: FrameDecoder() for sender in ROLES}

    def __call__(self, time: float, sender: str, data: bytes) -> None:
        for frame in self._decoders[sender].feed(data, time):
            self._listener(time, sender, frame)


class CaptureTap:
    """Raw chunks in, capture lines out (:mod:`protocols.capture`), both directions.

    One :class:`~protocols.capture.FrameSplitter` per direction lives for the whole run, so
    a frame whose bytes arrive in two reads is still one line; :meth:`close` writes what is
    left of a partial frame and closes the file.
    """

    def __init__(self, writer: CaptureWriter) -> None:
        self.writer = writer
        self._splitters: dict[Sender, FrameSplitter] = {
            "box": FrameSplitter(),
            "remote": FrameSplitter(),
        }

    def __call__(self, time: float, sender: str, data: bytes) -> None:
        who: Sender = "box" if sender == "box" else "remote"
        for segment in self._splitters[who].feed(data, time):
            self.writer.write(segment.t, who, segment.data, note=segment.note)

    def close(self) -> None:
        if self.writer.closed:
            return
        for who, splitter in self._splitters.items():
            for segment in splitter.flush():
                self.writer.write(segment.t, who, segment.data, note=segment.note)
        self.writer.close()


class NeverBlockingLink(Link):
    """The master side of a pty that never blocks the simulation on a full buffer.

    A UART transmits whether or not anyone listens. With no client reading the pty, the
    kernel buffer (about 20 KB) fills within seconds at high ``--speed``; a blocking write
    would then freeze every timer of the unit. When the buffer is full, what sits in it is
    stale (nobody read it), so it is flushed and the new bytes go in; pyserial flushes on
    open anyway, so a client never sees the old bytes.
    """

    def __init__(self, inner: Link) -> None:
        fd = inner.fileno()
        if fd is None:
            raise ValueError(f"{inner!r} has no descriptor to write without blocking")
        self.inner = inner
        self.url = inner.url
        self._fd = fd
        self.dropped_bytes = 0
        """Bytes discarded because nobody was reading (a figure for ``-v``)."""

    def fileno(self) -> int | None:
        return self.inner.fileno()

    def read(self, timeout: float | None = 0.0) -> bytes:
        return self.inner.read(timeout)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        flushed = False
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                if flushed:
                    self.dropped_bytes += len(view)
                    return
                with contextlib.suppress(termios.error):
                    termios.tcflush(self._fd, termios.TCOFLUSH)
                flushed = True
                continue
            except OSError as error:
                raise LinkLost(f"{self.url}: {error}") from error
            view = view[written:]

    def close(self) -> None:
        self.inner.close()


def _drops(port: LinkPort | None) -> str:
    """`` (dropped …)`` for the ``client left`` notice when a bound dropped anything."""
    if port is None:
        return ""
    parts = []
    if port.rx_dropped:
        parts.append(f"{port.rx_dropped} bytes received beyond line rate")
    if port.tx_dropped or port.tx_coalesced:
        unsent = port.tx_dropped + port.tx_coalesced
        parts.append(f"{unsent} bytes to send (queue full or already on the line)")
    return f" (dropped {', '.join(parts)})" if parts else ""


Connect = Callable[[Link], None]
"""What an endpoint calls with each new client's link."""


class Endpoint(Protocol):
    """Where clients come from; ``address`` is what ``listening on`` prints."""

    address: str

    def open(self, driver: Driver, connect: Connect) -> None: ...

    def client_gone(self) -> None: ...

    def close(self) -> None: ...


class PtyEndpoint:
    """A pseudo-terminal: ``address`` is the slave path clients open (e.g. ``/dev/pts/7``).

    The one link to the master is plugged in for the whole run; clients come and go on the
    slave side without our noticing (we keep the slave open ourselves, see
    :class:`~protocols.links.PtyPair`).
    """

    def __init__(self) -> None:
        self.pair = PtyPair()
        self.address = self.pair.path
        self.url = self.pair.path

    def open(self, driver: Driver, connect: Connect) -> None:
        connect(NeverBlockingLink(self.pair.link))

    def client_gone(self) -> None:
        """Never happens on a pty; nothing to do."""

    def close(self) -> None:
        self.pair.close()


class ListeningSocket(Link):
    """A listening TCP socket in link clothing, so the driver's ``select`` can watch it.

    It carries no bytes of its own: readable means "a client is waiting to be accepted".
    """

    def __init__(self, sock: socket.socket, url: str) -> None:
        self.socket = sock
        self.url = url

    def fileno(self) -> int | None:
        return self.socket.fileno()

    def read(self, timeout: float | None = 0.0) -> bytes:
        raise LinkLost(f"{self.url} is a listening socket: accept, don't read")

    def write(self, data: bytes) -> None:
        raise LinkLost(f"{self.url} is a listening socket: accept, don't write")

    def close(self) -> None:
        self.socket.close()


def bind_listener(host: str, port: int) -> tuple[socket.socket, str]:
    """A non-blocking TCP socket listening on ``host:port`` (port 0 picks a free one) and the
    address it is really bound to, ``HOST:PORT`` (``[HOST]:PORT`` for IPv6) — what was bound,
    not what was asked, so an announced address never hides a wildcard behind another
    spelling. ``OSError`` when it cannot listen there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(8)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if family == socket.AF_INET6 else str(bound[0])
    return sock, f"{shown}:{int(bound[1])}"


class TcpEndpoint:
    """A TCP server on ``host:port`` (port 0 picks a free one; ``address`` has the real one).

    One client at a time: while a client is plugged in the listening socket is not watched,
    so the next client waits in the backlog and is accepted when the current one leaves.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        sock, self.address = bind_listener(host, port)
        bound = sock.getsockname()
        self.host = str(bound[0])
        self.port = int(bound[1])
        self.url = f"socket://{self.address}"
        self._listener = ListeningSocket(sock, self.url)
        self._driver: Driver | None = None
        self._connect: Connect | None = None
        self._watching = False
        self.clients_accepted = 0

    def open(self, driver: Driver, connect: Connect) -> None:
        self._driver = driver
        self._connect = connect
        self._watch()

    def _watch(self) -> None:
        if self._driver is not None and not self._watching:
            self._driver.add_reader(self._listener, self._accept)
            self._watching = True

    def _accept(self) -> None:
        try:
            client, peer = self._listener.socket.accept()
        except (BlockingIOError, InterruptedError):
            return
        assert self._driver is not None and self._connect is not None
        self._driver.remove_reader(self._listener)
        self._watching = False
        self.clients_accepted += 1
        host, port = peer[0], peer[1]
        self._connect(SocketLink(client, f"tcp://{host}:{port}"))

    def client_gone(self) -> None:
        self._watch()

    def close(self) -> None:
        if self._driver is not None:
            self._driver.remove_reader(self._listener)
        self._watching = False
        self._listener.close()


class Server:
    """Plugs clients of an endpoint into a unit, one at a time, for as long as it runs.

    ``sender`` is the unit's role (``"box"``/``"remote"``): it labels the bytes reported to
    ``on_bytes`` (raw chunks both ways). ``on_event`` gets one-line notices (client
    connected/left) for ``-v``.
    """

    def __init__(
        self,
        driver: Driver,
        unit: Unit,
        endpoint: Endpoint,
        *,
        sender: str,
        on_bytes: ByteListener | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        peer_of(sender)  # validates the role
        self.driver = driver
        self.unit = unit
        self.endpoint = endpoint
        self.sender = sender
        self.on_bytes = on_bytes
        self.on_event = on_event
        self.port: LinkPort | None = None
        self.clients = 0

    def start(self) -> None:
        self.endpoint.open(self.driver, self._connect)

    def _connect(self, link: Link) -> None:
        tap: TappedLink | None = None
        if self.on_bytes is not None:
            tap = TappedLink(
                link, self.driver.scheduler, self.sender, self.on_bytes, tap_reads=False
            )
            link = tap
        port = LinkPort(
            self.driver,
            link,
            rx_buffer=RX_BUFFER_BYTES,
            tx_queue=TX_QUEUE_BYTES,
            coalesce=True,
        )
        port.on_lost = self._lost
        if tap is not None:
            port.on_heard = tap.heard
        self.port = port
        self.clients += 1
        self._notify(f"client connected: {link.url}")
        self.unit.attach(port)

    def _lost(self, error: LinkLost) -> None:
        port = self.port
        self.port = None
        self.unit.detach()
        if port is not None:
            port.close()
        self._notify(f"client left: {error}{_drops(port)}")
        self.endpoint.client_gone()

    def _notify(self, message: str) -> None:
        if self.on_event is not None:
            self.on_event(message)

    def close(self) -> None:
        """Unplug the unit and release the endpoint (pty or sockets); idempotent."""
        port = self.port
        self.port = None
        if port is not None:
            self.unit.detach()
            port.close()
        self.endpoint.close()
