"""Transports: a byte link to a unit, whatever carries it.

One small interface (:class:`Link`: ``read`` with a timeout, ``write``, ``close``, and
:class:`LinkLost` when the other end is gone) over

* any pyserial URL or device path (``/dev/ttyUSB0``, ``loop://``, ``socket://127.0.0.1:7001``,
  ``spy://...``), opened 9600 8N1 and exclusive where the OS supports it — :func:`open_link`;
* a pseudo-terminal pair whose slave path other programs open like a serial port —
  :class:`PtyPair`;
* a TCP connection accepted by a server — :class:`SocketLink`.

Links are plain blocking byte pipes in wall-clock time. Pacing at 9600 baud and simulated
time live one level up, in :mod:`protocols.ports`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import time
import tty
from abc import ABC, abstractmethod

import serial

from protocols.mspa.frames import BAUD_RATE


class LinkLost(ConnectionError):
    """The other end of a link is gone (adapter unplugged, peer closed, pty torn down)."""


class Link(ABC):
    """A bidirectional byte pipe to a unit."""

    url: str = ""

    @abstractmethod
    def read(self, timeout: float | None = 0.0) -> bytes:
        """Bytes available within ``timeout`` seconds (``b""`` if none; None waits forever).

        Raises :class:`LinkLost` when the other end is gone.
        """

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send bytes; raises :class:`LinkLost` when the other end is gone."""

    @abstractmethod
    def close(self) -> None:
        """Release the link; idempotent."""

    def fileno(self) -> int | None:
        """A descriptor ``select`` can watch for reading, or None (then callers poll)."""
        return None

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


_LOST_ERRNOS = {errno.EIO, errno.ENXIO, errno.ENODEV, errno.EPIPE, errno.ECONNRESET, errno.EBADF}


class SerialLink(Link):
    """A pyserial port: a device path or any pyserial URL, 9600 8N1."""

    def __init__(self, url: str, *, baudrate: int = BAUD_RATE, exclusive: bool = True) -> None:
        self.url = url
        try:
            self._serial = serial.serial_for_url(
                url,
                baudrate=baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=0,
                write_timeout=2.0,
                exclusive=exclusive if os.name == "posix" else None,
                do_not_open=False,
            )
        except (serial.SerialException, ValueError, OSError) as error:
            raise LinkLost(f"cannot open {url}: {error}") from error
        self._timeout: float | None = 0.0
        self._closed = False

    @property
    def serial(self) -> serial.SerialBase:
        return self._serial

    def fileno(self) -> int | None:
        try:
            return int(self._serial.fileno())
        except (AttributeError, NotImplementedError, OSError, ValueError, TypeError):
            return None

    def read(self, timeout: float | None = 0.0) -> bytes:
        if self._closed:
            raise LinkLost(f"{self.url} is closed")
        try:
            if timeout != self._timeout:
                self._serial.timeout = timeout
                self._timeout = timeout
            data = bytes(self._serial.read(max(1, self._serial.in_waiting)))
            if data:
                # The first byte ended the wait; take whatever else already arrived with it.
                waiting = self._serial.in_waiting
                if waiting:
                    data += bytes(self._serial.read(waiting))
            return data
        except (serial.SerialException, OSError, TypeError, AttributeError) as error:
            # TypeError/AttributeError: pyserial's handlers after the port vanished under them.
            raise LinkLost(f"{self.url}: {error}") from error

    def write(self, data: bytes) -> None:
        if self._closed:
            raise LinkLost(f"{self.url} is closed")
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as error:
            raise LinkLost(f"{self.url}: {error}") from error

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.close()


def open_link(url: str, *, exclusive: bool = True) -> Link:
    """Open any pyserial URL or device path at 9600 8N1; ``LinkLost`` says why it failed."""
    return SerialLink(url, exclusive=exclusive)


class FdLink(Link):
    """A link over a raw file descriptor (the master side of a pty)."""

    def __init__(self, fd: int, url: str, *, write_timeout: float = 2.0) -> None:
        self._fd = fd
        self.url = url
        self._closed = False
        self.write_timeout = write_timeout
        """Seconds a write may wait for room (like pyserial's ``write_timeout``)."""
        os.set_blocking(fd, False)

    def fileno(self) -> int | None:
        return None if self._closed else self._fd

    def read(self, timeout: float | None = 0.0) -> bytes:
        if self._closed:
            raise LinkLost(f"{self.url} is closed")
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as error:
            raise LinkLost(f"{self.url}: {error}") from error
        if not data:
            raise LinkLost(f"{self.url}: end of file")
        return data

    def write(self, data: bytes) -> None:
        if self._closed:
            raise LinkLost(f"{self.url} is closed")
        view = memoryview(data)
        deadline = time.monotonic() + self.write_timeout
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LinkLost(
                        f"{self.url}: write timed out after {self.write_timeout:g} s "
                        "(nobody is reading the other end)"
                    ) from None
                select.select([], [self._fd], [], remaining)
                continue
            except OSError as error:
                if error.errno in _LOST_ERRNOS:
                    raise LinkLost(f"{self.url}: {error}") from error
                raise
            view = view[written:]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)


class PtyPair:
    """A pseudo-terminal: ``link`` is our end, ``path`` is what another program opens.

    We keep the slave side open ourselves, so a client that closes the port and opens it
    again does not tear the pty down (several clients in sequence work), and our reads
    never see the EIO a Linux master gets when the last slave closes.
    """

    def __init__(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self._slave_fd = slave
        self.path = os.ttyname(slave)
        self.link = FdLink(master, self.path)

    def close(self) -> None:
        self.link.close()
        if self._slave_fd >= 0:
            os.close(self._slave_fd)
            self._slave_fd = -1

    def __enter__(self) -> PtyPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SocketLink(Link):
    """A link over a connected TCP socket (what ``spasim serve --tcp`` hands each client).

    Writes never block: what the kernel does not take at once waits in a buffer of at most
    ``max_pending`` bytes, sent first by the next write. A client that stops reading fills
    the kernel's buffers and then this one; the link is then lost (``LinkLost``: "stopped
    reading") rather than stalling a serving loop that has timers to run and signals to obey.
    """

    MAX_PENDING = 64 * 1024
    """Default bound, in bytes, on output the client has not taken yet (beyond the kernel's)."""

    def __init__(self, sock: socket.socket, url: str, *, max_pending: int = MAX_PENDING) -> None:
        self._socket = sock
        self.url = url
        self._closed = False
        self._pending = bytearray()
        self.max_pending = max_pending
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def fileno(self) -> int | None:
        return None if self._closed else self._socket.fileno()

    def read(self, timeout: float | None = 0.0) -> bytes:
        if self._closed:
            raise LinkLost(f"{self.url} is closed")
        ready, _, _ = select.select([self._socket], [], [], timeout)
        if not ready:
            return b""
        try:
            data = self._socket.recv(4096)
        except BlockingIOError:
            return b""
        except OSError as error:
            raise LinkLost(f"{self.url}: {error}") from error
        if not data:
            raise LinkLost(f"{self.url}: peer closed the connection")
        return data

    @property
    def pending(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return len(self._pending)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise LinkLost(f"{self.url} is closed")
        pending = self._pending
        pending += data
        try:
            while pending:
                sent = self._socket.send(pending)
                del pending[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as error:
            raise LinkLost(f"{self.url}: {error}") from error
        if len(pending) > self.max_pending:
            unsent = len(pending)
            pending.clear()
            raise LinkLost(f"{self.url}: client stopped reading ({unsent} bytes unsent)")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.clear()
            self._socket.close()
