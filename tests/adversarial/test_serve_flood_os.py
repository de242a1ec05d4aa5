"""``spasim serve`` in a real process under floods and stuck clients (loopback only).

Each case is bounded in wall time and in bytes; the server's memory is read from
``/proc/<pid>/status`` (resident set size). What is judged: the exit status, the bytes on
the wire (reports keep coming, no backlog of answers), and RSS growth below a stated bound.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import termios
import time
from collections.abc import Callable

import pytest

from protocols.capture import read_capture
from protocols.mspa import Command, Frame, FrameDecoder
from spasim.pytest_plugin import ServedUnit

WAIT = 20.0
"""Wall seconds any wait may take before the test fails (never reached when healthy)."""

RSS_GROWTH_LIMIT = 20 * 1024 * 1024
"""Bytes the server's resident set may grow by during a flood (issue 10's target)."""

KEEPALIVE = bytes(Frame(Command.KEEPALIVE, 0))
ANSWER = bytes(Frame(Command.KEEPALIVE, 0x86))

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc for RSS")


def rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def exits_within(served: ServedUnit, signum: int, seconds: float) -> int | None:
    """Send ``signum``; the exit status if the process ended within ``seconds``."""
    served.process.send_signal(signum)
    try:
        return served.process.wait(seconds)
    except Exception:
        return None


def tcp_address(served: ServedUnit) -> tuple[str, int]:
    host, _, port = served.address.rpartition(":")
    assert host == "127.0.0.1"
    return host, int(port)


def read_until_report(sock: socket.socket, decoder: FrameDecoder, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            data = sock.recv(65536)
            if not data:
                return False
            if any(f.command == Command.WATER_TEMP for f in decoder.feed(data)):
                return True
    return False


def test_tcp_keepalive_flood_keeps_memory_bounded_and_reports_flowing(
    launch: Callable[..., ServedUnit],
) -> None:
    speed = 20.0
    served = launch("--tcp", "127.0.0.1:0", transport="tcp", speed=speed)
    sock = socket.create_connection(tcp_address(served), timeout=WAIT)
    try:
        decoder = FrameDecoder()
        assert read_until_report(sock, decoder, WAIT), "the box reports before the flood"
        before = rss(served.process.pid)
        sock.setblocking(False)
        block = KEEPALIVE * 4096  # 16 KiB
        sent = 0
        reports = 0
        start = time.monotonic()
        # 4 wall seconds (80 simulated) of flood, at most 50 MB, reading whatever comes back.
        while time.monotonic() - start < 4.0:
            if sent < 50_000_000:
                with contextlib.suppress(BlockingIOError):
                    sent += sock.send(block)
            else:
                time.sleep(0.001)
            with contextlib.suppress(BlockingIOError):
                data = sock.recv(65536)
                reports += sum(f.command == Command.WATER_TEMP for f in decoder.feed(data))
        elapsed = time.monotonic() - start
        growth = rss(served.process.pid) - before
        assert sent > 1_000_000, f"the flood got only {sent} bytes in"
        assert growth < RSS_GROWTH_LIMIT, (
            f"RSS grew {growth / 1e6:.0f} MB, flood {sent / 1e6:.0f} MB"
        )
        # A report a simulated second: even a badly loaded machine delivers a quarter.
        assert reports >= max(2, int(elapsed * speed / 4)), (reports, elapsed)
        assert exits_within(served, signal.SIGTERM, 5.0) == 0
    finally:
        sock.close()


def test_pty_flood_then_the_next_client_hears_reports(launch: Callable[..., ServedUnit]) -> None:
    speed = 10.0
    served = launch("--pty", transport="pty", speed=speed)
    fd = os.open(served.address, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        flood = KEEPALIVE * 25_000  # 100 kB
        view = memoryview(flood)
        deadline = time.monotonic() + WAIT
        time.sleep(1.0)  # the box boots 5.66 simulated s after start
        before = rss(served.process.pid)
        while view and time.monotonic() < deadline:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                time.sleep(0.001)
        assert not view, "the server stopped reading the pty"
        growth = rss(served.process.pid) - before
    finally:
        os.close(fd)
    assert growth < RSS_GROWTH_LIMIT
    # The next client: within 3 wall s (30 simulated s) it hears a temperature report,
    # not a minute of queued keep-alive answers.
    fd = os.open(served.address, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        termios.tcflush(fd, termios.TCIFLUSH)  # as pyserial does on open: only new bytes
        decoder = FrameDecoder()
        heard: list[Frame] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not any(
            f.command == Command.WATER_TEMP for f in heard
        ):
            try:
                heard += decoder.feed(os.read(fd, 4096))
            except BlockingIOError:
                time.sleep(0.01)
        answers = sum(f == Frame(Command.KEEPALIVE, 0x86) for f in heard)
        assert any(f.command == Command.WATER_TEMP for f in heard), (
            f"no report within 3 s, {answers} keep-alive answers instead"
        )
    finally:
        os.close(fd)
    assert exits_within(served, signal.SIGTERM, 5.0) == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_client_that_stops_reading_does_not_block_shutdown(
    launch: Callable[..., ServedUnit], signum: int
) -> None:
    speed = 1000.0  # the fastest allowed: the box answers at 960 kB per wall second
    served = launch("--tcp", "127.0.0.1:0", transport="tcp", speed=speed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once
    try:
        sock.settimeout(WAIT)
        sock.connect(tcp_address(served))
        sock.setblocking(False)
        block = KEEPALIVE * 4096
        # Flood without reading until the server's answers have filled every buffer between
        # us (about 4 MB: a few wall seconds at this speed) and it stops reading us (our
        # sends block for a second), or it hangs up on us, or 15 s pass.
        start = time.monotonic()
        blocked_since: float | None = None
        while time.monotonic() - start < 15.0:
            try:
                sock.send(block)
                blocked_since = None
            except BlockingIOError:
                now = time.monotonic()
                blocked_since = blocked_since or now
                if now - blocked_since > 1.0:
                    break
                time.sleep(0.001)
            except OSError:
                break  # the server gave up on a client that does not read: allowed
        status = exits_within(served, signum, 5.0)
        assert status == 0, "the server must obey the signal while a client is stuck"
    finally:
        sock.close()


def test_signal_at_the_fastest_speed_stops_the_server(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--tcp", "127.0.0.1:0", transport="tcp", speed=1000.0)
    time.sleep(0.5)
    assert exits_within(served, signal.SIGINT, 5.0) == 0


def test_a_flood_costs_the_verbose_log_and_the_capture_no_more_than_the_line(
    launch: Callable[..., ServedUnit], tmp_path: pytest.TempPathFactory
) -> None:
    """``-v`` and ``--capture`` record what the box heard and said: a flood beyond line rate
    is dropped before them, so their files grow like the line, not like the flood; the
    ``client left`` notice says how much was dropped."""
    speed = 20.0
    capture = os.path.join(str(tmp_path), "flood.cap")
    served = launch(
        "--tcp", "127.0.0.1:0", "-v", "--capture", capture, transport="tcp", speed=speed
    )
    sock = socket.create_connection(tcp_address(served), timeout=WAIT)
    try:
        assert read_until_report(sock, FrameDecoder(), WAIT)
        sock.setblocking(False)
        sent = 0
        start = time.monotonic()
        while time.monotonic() - start < 3.0:  # at most 20 MB in 3 wall s
            if sent < 20_000_000:
                with contextlib.suppress(BlockingIOError):
                    sent += sock.send(KEEPALIVE * 4096)
            with contextlib.suppress(BlockingIOError):
                sock.recv(65536)
    finally:
        sock.close()
    deadline = time.monotonic() + WAIT
    while "# client left" not in served.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server works off what the kernel still holds, then sees EOF
    wall = time.monotonic() - start
    assert served.stop() == 0
    # What 9600 baud carries towards the box in the simulated time that passed (plus the
    # 256-byte burst): the most frames the box can have heard, so logged and captured.
    heard_at_most = (wall + 1.0) * speed * 960 / 4 + 64
    log = served.log()
    logged = log.count("remote→box")
    captured = sum(1 for entry in read_capture(capture).entries if entry.sender == "remote")
    assert logged < heard_at_most, (logged, heard_at_most, sent)
    assert captured < heard_at_most, (captured, heard_at_most, sent)
    assert "bytes received beyond line rate" in log
