"""``spasim serve`` over real OS endpoints: pseudo-terminals and TCP on 127.0.0.1.

These are the only tests that touch the wall clock: each runs the server at a high
``--speed`` and every wait is bounded (the driver's ``wait_until`` with a simulated-time
limit, subprocess waits with timeouts). The test side plays its part (a box or a remote)
with the same machinery the product uses: a RealTimeDriver at the same speed, a LinkPort
over a pyserial link.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
from collections.abc import Callable

import pytest

from protocols.capture import read_capture
from protocols.driver import RealTimeDriver
from protocols.links import PtyPair, open_link
from protocols.mspa import (
    HANDSHAKE_REPLIES,
    REMOTE_HANDSHAKE,
    STATE_CYCLE,
    Command,
    Frame,
    FrameDecoder,
)
from protocols.mspa.frames import FRAME_SECONDS
from protocols.mspa.remote import RemoteDuty
from protocols.ports import LinkPort
from spasim.cli import main
from spasim.profiles import load_profile
from spasim.pytest_plugin import ServedUnit
from spasim.serve import NeverBlockingLink, Server, TcpEndpoint

WAIT = 15.0
"""Wall seconds any single wait may take before the test fails (never reached when healthy)."""


class BoxClient:
    """The test playing a box on a served remote: boot frames, handshake answers, a log."""

    def __init__(self, url: str, speed: float) -> None:
        self.driver = RealTimeDriver(speed=speed)
        self.link = open_link(url)
        self.port = LinkPort(self.driver, self.link)
        self.port.on_receive = self._on_bytes
        self.decoder = FrameDecoder()
        self.heard: list[tuple[float, Frame]] = []

    def _on_bytes(self, data: bytes) -> None:
        now = self.driver.now()
        for frame in self.decoder.feed(data, now):
            self.heard.append((now, frame))
            reply = HANDSHAKE_REPLIES.get(frame.command)
            if reply is not None and frame.parameter == 0:
                self.port.send(bytes(reply))

    def boot(self) -> None:
        self.port.send(bytes(Frame(Command.BOOT_09, 0)) + bytes(Frame(Command.BOOT_07, 0x0C)))

    def frames(self) -> list[Frame]:
        return [frame for _, frame in self.heard]

    def wait_for(self, predicate: Callable[[], bool], sim_seconds: float) -> bool:
        return self.driver.wait_until(predicate, sim_seconds)

    def wait_heard(self, count: int, sim_seconds: float) -> bool:
        return self.driver.wait_until(lambda: len(self.heard) >= count, sim_seconds)

    def close(self) -> None:
        self.port.close()
        self.driver.close()


# -- the remote role and the plumbing ---------------------------------------------------------


def test_served_remote_handshakes_and_cycles_over_a_pty(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--pty", "--role", "remote", "--set", "filter=on", speed=20)
    assert served.address.startswith("/dev/")
    client = BoxClient(served.url, speed=20)
    try:
        client.boot()
        assert client.wait_for(lambda: len(client.heard) >= 4, 10.0)
        assert client.frames()[:4] == list(REMOTE_HANDSHAKE)
        cycle = set(STATE_CYCLE)
        assert client.wait_for(lambda: cycle <= {f.command for f in client.frames()}, 20.0), (
            "every state frame within a cycle"
        )
        filters = [f.parameter for f in client.frames() if f.command == Command.FILTER]
        assert filters and set(filters) == {1}, "--set filter=on reaches the box"
        assert client.decoder.counters.bad_checksums == 0
    finally:
        client.close()


def test_tcp_port_zero_prints_the_real_port(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--tcp", "127.0.0.1:0", "--role", "remote", transport="tcp", speed=20)
    host, _, port = served.address.rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0
    with socket.create_connection((host, int(port)), timeout=WAIT):
        pass


def test_tcp_clients_in_sequence_each_get_a_remote(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--tcp", "127.0.0.1:0", "--role", "remote", "-v", transport="tcp", speed=20)
    for _ in range(2):
        client = BoxClient(served.url, speed=20)
        try:
            client.boot()
            assert client.wait_heard(4, 10.0)
            assert client.frames()[:4] == list(REMOTE_HANDSHAKE)
        finally:
            client.close()
    assert served.stop() == 0
    assert served.log().count("# client connected") == 2
    assert served.log().count("# client left") == 2


def test_pty_can_be_reopened_by_the_next_client(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--pty", "--role", "remote", speed=20)
    for _ in range(2):
        client = BoxClient(served.url, speed=20)
        try:
            client.boot()  # a box (re)booting: the remote handshakes again each time
            assert client.wait_heard(4, 10.0)
            assert client.frames()[:4] == list(REMOTE_HANDSHAKE)
        finally:
            client.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_cleanly(
    launch: Callable[..., ServedUnit], signum: signal.Signals
) -> None:
    served = launch("--tcp", "127.0.0.1:0", "--role", "remote", transport="tcp", speed=20)
    host, _, port = served.address.rpartition(":")
    served.process.send_signal(signum)
    assert served.process.wait(WAIT) == 0
    assert served.log() == ""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=WAIT)


def test_sigterm_closes_the_pty(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--pty", "--role", "remote", speed=20)
    # Hold the slave open: after the server is gone it must read as hung up (end of file),
    # whatever later pty reuses the same number.
    fd = os.open(served.address, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        assert served.stop() == 0
        # Whatever the remote had sent, then end of file (a live pty would raise
        # BlockingIOError here instead).
        while os.read(fd, 4096):
            pass
    finally:
        os.close(fd)


def test_verbose_logs_every_frame_both_ways(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--pty", "--role", "remote", "-v", speed=20)
    client = BoxClient(served.url, speed=20)
    try:
        client.boot()
        assert client.wait_for(lambda: len(client.heard) >= 6, 10.0)
    finally:
        client.close()
    assert served.stop() == 0
    log = served.log()
    assert "box→remote A5 07 0C B8  power-on 07 0C" in log
    assert "remote→box A5 0B 00 B0  keep-alive / reset (long press Filter clears F1, A0)" in log
    assert "box→remote A5 0A 01 B0  handshake 01" in log
    assert "remote→box A5 10 00 B5  init-10 / UVC (variant B) 00" in log


def test_capture_records_both_directions(
    launch: Callable[..., ServedUnit], tmp_path: pytest.TempPathFactory
) -> None:
    path = os.path.join(str(tmp_path), "serve.cap")
    served = launch(
        "--pty", "--role", "remote", "--profile", "elite-6", "--capture", path, speed=20
    )
    client = BoxClient(served.url, speed=20)
    try:
        client.boot()
        assert client.wait_for(lambda: len(client.heard) >= 8, 20.0)
    finally:
        client.close()
    assert served.stop() == 0
    capture = read_capture(path)
    assert capture.header["profile"] == "elite-6"
    sent_by = {entry.sender for entry in capture.entries}
    assert sent_by == {"box", "remote"}
    remote_bytes = [e.data for e in capture.entries if e.sender == "remote"]
    assert remote_bytes[:4] == [bytes(f) for f in REMOTE_HANDSHAKE]


# -- bad arguments: one line, exit 2 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--profile", "no-such-box"], "no-such-box"),
        (["--fault", "gremlins"], "gremlins"),
        (["--role", "remote", "--fault", "heater-open"], "heater-open"),
        (["--tcp", "localhost:http"], "HOST:PORT"),
        (["--tcp", "127.0.0.1:70000"], "port"),
        (["--tcp", "192.0.2.1:0"], "cannot listen"),
        (["--speed", "0"], "0.01"),
        (["--role", "remote", "--set", "bubbles=7"], "bubble"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", *arguments])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_console_script_serves(tmp_path: pytest.TempPathFactory) -> None:
    script = os.path.join(os.path.dirname(os.path.realpath(os.sys.executable)), "spasim")
    if not os.path.exists(script):
        script = os.path.join(os.path.dirname(os.sys.executable), "spasim")
    process = subprocess.Popen(
        [script, "serve", "--tcp", "127.0.0.1:0", "--role", "remote"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 0, err
    assert out == ""


# -- the plumbing in-process ----------------------------------------------------------------


class _Recorder:
    """A unit that only remembers what was plugged into it."""

    def __init__(self) -> None:
        self.ports: list[LinkPort | None] = []

    def attach(self, port: LinkPort) -> None:  # type: ignore[override]
        self.ports.append(port)

    def detach(self) -> None:
        self.ports.append(None)


def test_tcp_endpoint_takes_one_client_at_a_time() -> None:
    driver = RealTimeDriver(speed=100)
    unit = _Recorder()
    endpoint = TcpEndpoint("127.0.0.1", 0)
    server = Server(driver, unit, endpoint, sender="box")  # type: ignore[arg-type]
    server.start()
    first = socket.create_connection(("127.0.0.1", endpoint.port), timeout=WAIT)
    second = socket.create_connection(("127.0.0.1", endpoint.port), timeout=WAIT)
    try:
        assert driver.wait_until(lambda: server.clients == 1, 100.0)
        driver.sleep(20.0)  # 0.2 s wall: the second client must still be waiting
        assert server.clients == 1 and len(unit.ports) == 1
        first.close()
        assert driver.wait_until(lambda: server.clients == 2, 100.0)
        assert unit.ports[1] is None, "the first client was unplugged before the next"
        assert endpoint.clients_accepted == 2
    finally:
        second.close()
        server.close()
        driver.close()


def test_pty_master_never_blocks_when_nobody_reads() -> None:
    pair = PtyPair()
    try:
        link = NeverBlockingLink(pair.link)
        chunk = bytes(range(256)) * 4
        for _ in range(200):  # 200 KB: ten times what the kernel buffers
            link.write(chunk)
        reader = open_link(pair.path, exclusive=False)
        try:
            link.write(b"\xa5\x06\x2f\xda")
            received = b""
            for _ in range(50):
                received += reader.read(0.1)
                if received.endswith(b"\xa5\x06\x2f\xda"):
                    break
            assert received.endswith(b"\xa5\x06\x2f\xda"), "fresh bytes get through"
        finally:
            reader.close()
    finally:
        pair.close()


# -- the box role ----------------------------------------------------------------------------


class Listener:
    """The test as a silent listener on a served box: every frame with its arrival time."""

    def __init__(self, url: str, speed: float) -> None:
        self.driver = RealTimeDriver(speed=speed)
        self.port = LinkPort(self.driver, open_link(url))
        self.port.on_receive = self._on_bytes
        self.decoder = FrameDecoder()
        self.heard: list[tuple[float, Frame]] = []

    def _on_bytes(self, data: bytes) -> None:
        now = self.driver.now()
        self.heard.extend((now, frame) for frame in self.decoder.feed(data, now))

    def count(self, command: int) -> int:
        return sum(1 for _, frame in self.heard if frame.command == command)

    def wait_reports(self, count: int, sim_seconds: float) -> bool:
        return self.driver.wait_until(lambda: self.count(Command.WATER_TEMP) >= count, sim_seconds)

    def close(self) -> None:
        self.port.close()
        self.driver.close()


def test_served_box_sends_power_on_frames_and_reports_over_a_pty(
    launch: Callable[..., ServedUnit],
) -> None:
    # Slow enough (speed 8: 09 00 leaves 0.68 s after start) for the client to open the pty
    # before the first frame; pyserial flushes what arrived before it opened.
    served = launch("--pty", "--water", "30", speed=8)
    listener = Listener(served.url, speed=8)
    try:
        assert listener.driver.wait_until(
            lambda: listener.count(Command.WATER_TEMP) >= 3 and listener.count(Command.FLOW) >= 3,
            30.0,
        )
    finally:
        listener.close()
    frames = [frame for _, frame in listener.heard]
    assert frames[:2] == [Frame(Command.BOOT_09, 0x00), Frame(Command.BOOT_07, 0x0C)]
    temps = {f.parameter / 2 for f in frames if f.command == Command.WATER_TEMP}
    assert temps and all(abs(t - 30.0) <= 0.5 for t in temps)
    counters = listener.decoder.counters
    assert counters.bad_checksums == 0 and counters.discarded_bytes == 0


def test_remote_over_a_pty_hears_reports_every_second_for_20_minutes(
    launch: Callable[..., ServedUnit], tmp_path: pytest.TempPathFactory
) -> None:
    """20 simulated minutes at speed 200: the box keeps its report period and the remote
    hears the reports.

    The period is judged on the box's own schedule (its ``--capture``, stamped in simulated
    time as each frame left), not on when this process happened to read the bytes: at
    speed 200 a 1 ms stall of a loaded machine shows as 0.2 s there. What this side judges
    is what a stall cannot fake: the reports arrive, intact, and the link never drops.
    """
    speed = 200.0  # 20 simulated minutes in about 6 wall seconds
    path = os.path.join(str(tmp_path), "box.cap")
    served = launch("--pty", "--water", "36", "--capture", path, speed=speed)
    driver = RealTimeDriver(speed=speed)
    heard: dict[int, int] = {Command.WATER_TEMP: 0, Command.FLOW: 0}

    def log(time: float, sender: str, frame: Frame) -> None:
        if sender == "box" and frame.command in heard:
            heard[frame.command] += 1

    port = LinkPort(driver, open_link(served.url))
    duty = RemoteDuty(driver.scheduler, port, on_frame=log)
    try:
        duty.start()
        assert driver.wait_until(lambda: duty.handshake_done, 60.0)
        duty.press(filter=True, heater=True, setpoint=38)
        for command in heard:
            heard[command] = 0
        driver.sleep(20 * 60.0)
    finally:
        duty.stop()
        port.close()
        driver.close()
    assert served.stop() == 0
    assert duty.counters.bad_checksums == 0
    assert duty.counters.discarded_bytes == 0
    assert duty.handshakes_completed == 1, "the box never fell back to fail-safe and rebooted"
    assert duty.keepalive_replies >= 20
    period = load_profile("premium-4").link_report_period_s
    sent: dict[int, list[float]] = {Command.WATER_TEMP: [], Command.FLOW: []}
    decoder = FrameDecoder()
    for entry in read_capture(path).entries:
        if entry.sender == "box":
            for frame in decoder.feed(entry.data):
                if frame.command in sent:
                    sent[frame.command].append(entry.t)
    for command, series in sent.items():
        # On the box's schedule: one report a period, each at most two frame times late
        # (the line may be busy with a keep-alive answer), none missing for 20 minutes.
        assert len(series) >= 20 * 60 / period, (command, len(series))
        gaps = [b - a for a, b in itertools.pairwise(series)]
        assert max(abs(gap - period) for gap in gaps) <= 2 * FRAME_SECONDS + 1e-6, command
        # On this side: the reports got here (a stall delays them, it cannot lose them).
        assert heard[command] >= 20 * 60 / period - 30, (command, heard[command])


def test_served_box_takes_tcp_clients_in_sequence(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--tcp", "127.0.0.1:0", "-v", transport="tcp", speed=20)
    for _ in range(2):
        listener = Listener(served.url, speed=20)
        try:
            assert listener.wait_reports(2, 30.0)
        finally:
            listener.close()
    assert served.stop() == 0
    log = served.log()
    assert log.count("# client connected") == 2 and log.count("# client left") == 2


def test_served_box_with_a_fault_and_verbose_log(launch: Callable[..., ServedUnit]) -> None:
    served = launch("--pty", "--fault", "temp-sensor-short", "-v", speed=20)
    listener = Listener(served.url, speed=20)
    try:
        assert listener.wait_reports(2, 30.0)
    finally:
        listener.close()
    temps = {f.parameter for _, f in listener.heard if f.command == Command.WATER_TEMP}
    assert temps == {0xFF}
    assert served.stop() == 0
    assert "box→remote A5 06 FF AA  water 127.5 °C" in served.log()
