"""Transports: pyserial URLs, a real pseudo-terminal, TCP sockets, in-process pairs."""

from __future__ import annotations

import socket
import threading

import pytest
import serial
from support.sim import in_process_pair

from protocols.driver import RealTimeDriver
from protocols.links import (
    LinkLost,
    PtyPair,
    SocketLink,
    open_link,
)
from protocols.mspa import Command, Frame, FrameDecoder, encode
from protocols.ports import LinkPort


def test_loop_url_echoes() -> None:
    with open_link("loop://") as link:
        link.write(encode(Command.WATER_TEMP, 0x2F))
        assert FrameDecoder().feed(link.read(0.5)) == [Frame(Command.WATER_TEMP, 0x2F)]


def test_open_link_failure_is_link_lost_with_reason() -> None:
    with pytest.raises(LinkLost, match="cannot open /dev/does-not-exist"):
        open_link("/dev/does-not-exist")


def test_pty_round_trip_through_pyserial() -> None:
    """What another program sees: it opens the slave path with pyserial at 9600 8N1."""
    with PtyPair() as pty:
        client = serial.Serial(pty.path, 9600, timeout=1.0)
        try:
            pty.link.write(encode(Command.BOOT_07, 0x0C))
            assert client.read(4) == bytes.fromhex("A5070CB8")
            client.write(encode(Command.HANDSHAKE, 0x00))
            data = b""
            while len(data) < 4:
                chunk = pty.link.read(1.0)
                assert chunk, "no bytes from the client within 1 s"
                data += chunk
            assert data == bytes.fromhex("A50A00AF")
        finally:
            client.close()


def test_pty_survives_a_client_reconnecting() -> None:
    with PtyPair() as pty:
        for _ in range(2):
            client = serial.Serial(pty.path, 9600, timeout=1.0)
            client.write(b"\xa5\x0b\x00\xb0")
            assert pty.link.read(1.0) == b"\xa5\x0b\x00\xb0"
            client.close()
        # Nobody has the slave open now; our end still reads without an error.
        assert pty.link.read(0.01) == b""


def test_pty_served_to_pyserial_url_via_open_link() -> None:
    with PtyPair() as pty, open_link(pty.path) as client:
        client.write(encode(Command.KEEPALIVE, 0))
        assert pty.link.read(1.0) == encode(Command.KEEPALIVE, 0)


def test_socket_url_and_peer_close_is_link_lost() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    client = open_link(f"socket://127.0.0.1:{port}")
    thread.join(5)
    ours = SocketLink(accepted[0], "tcp-client")
    try:
        client.write(encode(Command.HANDSHAKE, 0))
        assert ours.read(1.0) == encode(Command.HANDSHAKE, 0)
        ours.write(encode(Command.HANDSHAKE, 1))
        received = b""
        while len(received) < 4:
            chunk = client.read(1.0)
            assert chunk, "nothing from the server within 1 s"
            received += chunk
        assert received == encode(Command.HANDSHAKE, 1)
        client.close()
        with pytest.raises(LinkLost):
            for _ in range(50):
                ours.read(0.1)
    finally:
        ours.close()
        server.close()


def test_in_process_pair_and_close() -> None:
    a, b = in_process_pair()
    a.write(b"abc")
    assert b.read(0.1) == b"abc"
    assert b.read(0.01) == b""
    b.close()
    with pytest.raises(LinkLost):
        a.write(b"x")
    with pytest.raises(LinkLost):
        a.read(0.01)


def test_link_port_reports_loss_through_the_driver() -> None:
    """An unplugged adapter surfaces as LinkLost out of the driver's wait (bench: error)."""
    driver = RealTimeDriver(speed=1.0)
    pty = PtyPair()
    client = open_link(pty.path)
    port = LinkPort(driver, client)
    try:
        pty.close()  # the "adapter" disappears under the client
        with pytest.raises(LinkLost):
            driver.wait_until(lambda: False, timeout=2.0)
        assert port.lost is not None
    finally:
        client.close()
        driver.close()


def test_link_port_on_lost_callback_instead_of_raising() -> None:
    driver = RealTimeDriver(speed=1.0)
    a, b = in_process_pair()
    port = LinkPort(driver, a)
    lost: list[LinkLost] = []
    port.on_lost = lost.append
    try:
        b.close()
        driver.sleep(0.05)
        assert lost and port.lost is lost[0]
    finally:
        driver.close()


def test_pty_write_with_nobody_reading_times_out_instead_of_hanging() -> None:
    with PtyPair() as pty:
        pty.link.write_timeout = 0.2  # type: ignore[attr-defined]
        with pytest.raises(LinkLost, match="write timed out"):
            for _ in range(100_000):
                pty.link.write(b"\xa5\x06\x2f\xda" * 256)


def test_socket_link_never_blocks_on_a_peer_that_stops_reading() -> None:
    """Writes to a TCP peer that never reads return at once; once the kernel's buffers and
    the link's own bounded buffer are full the link is lost ("stopped reading")."""
    server = socket.create_server(("127.0.0.1", 0))
    peer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.connect(server.getsockname())
    accepted, _ = server.accept()
    link = SocketLink(accepted, "tcp://peer")
    outcome: list[BaseException] = []

    def flood() -> None:
        try:
            for _ in range(2000):  # 128 MB: far beyond any kernel buffer
                link.write(bytes(64 * 1024))
        except BaseException as error:
            outcome.append(error)

    writer = threading.Thread(target=flood, daemon=True)
    try:
        writer.start()
        writer.join(10.0)  # a blocking write would still be stuck here
        assert not writer.is_alive(), "a write blocked on a peer that does not read"
        assert outcome and isinstance(outcome[0], LinkLost), outcome
        assert "stopped reading" in str(outcome[0])
        assert link.pending == 0
    finally:
        link.close()
        peer.close()
        server.close()
