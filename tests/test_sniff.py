"""The sniffer and replay over real pseudo-terminals standing in for the two tap adapters.

Each :class:`PtyPair` is one USB-UART adapter: the sniffer opens its *path* (the slave side)
like a device node, and the test plays the wire by writing into the master side.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.capture.replay import decode_capture, play_capture
from bench.capture.sniff import Sniffer, frame_line
from bench.cli import main
from protocols.capture import open_capture, read_capture
from protocols.driver import RealTimeDriver
from protocols.links import Link, PtyPair, open_link
from protocols.mspa import Command, Direction, Frame, describe, encode

CLI = [sys.executable, "-c", "import sys; from bench.cli import main; sys.exit(main())"]
BOX, REMOTE = Direction.BOX_TO_REMOTE, Direction.REMOTE_TO_BOX
WATER = encode(Command.WATER_TEMP, 0x2F)

# (pause before, sender, bytes written in one go): the power-on exchange, then trouble.
SCRIPT: list[tuple[float, Direction, bytes]] = [
    (0.0, BOX, encode(Command.BOOT_09, 0x00)),
    (0.25, BOX, encode(Command.BOOT_07, 0x0C)),
    (0.03, REMOTE, encode(Command.KEEPALIVE, 0x00) + encode(Command.HANDSHAKE, 0x00)),
    (0.01, BOX, encode(Command.KEEPALIVE, 0x86) + encode(Command.HANDSHAKE, 0x01)),
    (0.03, BOX, b"\x00\xff"),  # line noise
    (0.03, BOX, bytes.fromhex("A5062FDB")),  # a frame hit by noise: bad sum
    (0.03, BOX, WATER),
    (0.03, REMOTE, encode(Command.FILTER, 0x01)[:2]),  # the rest never comes...
    (0.25, REMOTE, encode(Command.FILTER, 0x01)),  # ...so this one finds it timed out
]
EXPECTED = {
    BOX: [
        Frame(Command.BOOT_09, 0x00),
        Frame(Command.BOOT_07, 0x0C),
        Frame(Command.KEEPALIVE, 0x86),
        Frame(Command.HANDSHAKE, 0x01),
        Frame(Command.WATER_TEMP, 0x2F),
    ],
    REMOTE: [
        Frame(Command.KEEPALIVE, 0x00),
        Frame(Command.HANDSHAKE, 0x00),
        Frame(Command.FILTER, 0x01),
    ],
}
SUMMARY = [
    "box→remote: 5 frames, 1 bad sum, 5 discarded bytes",
    "remote→box: 3 frames, 0 bad sums, 2 discarded bytes",
]


def _play_wire(box: PtyPair, remote: PtyPair) -> None:
    for pause, direction, data in SCRIPT:
        time.sleep(pause)
        (box if direction is BOX else remote).link.write(data)
    time.sleep(0.15)  # let the sniffer read the last bytes


def _frames_by_direction(lines: list[str]) -> dict[Direction, list[str]]:
    """The describe() part of each printed frame line, per direction."""
    found: dict[Direction, list[str]] = {BOX: [], REMOTE: []}
    for line in lines:
        for direction in found:
            if line[10:].startswith(direction.value):
                found[direction].append(line[10:])
    return found


@pytest.fixture
def taps() -> Iterator[tuple[PtyPair, PtyPair]]:
    with PtyPair() as box, PtyPair() as remote:
        yield box, remote


def test_sniffer_prints_and_captures_both_wires_and_replays_identically(
    taps: tuple[PtyPair, PtyPair], tmp_path: Path
) -> None:
    box_pty, remote_pty = taps
    path = tmp_path / "sniff.txt"
    lines: list[str] = []
    with open_link(box_pty.path) as box, open_link(remote_pty.path) as remote:
        driver = RealTimeDriver()
        with open_capture(path, source="test") as capture:
            sniffer = Sniffer(driver, box, remote, capture=capture, out=lines.append)

            def produce() -> None:
                _play_wire(box_pty, remote_pty)
                sniffer.stop()

            producer = threading.Thread(target=produce)
            producer.start()
            result = sniffer.run(duration=10.0)
            producer.join()
        driver.close()
    assert result.lost is None
    assert _frames_by_direction(lines) == {
        d: [describe(f, d) for f in frames] for d, frames in EXPECTED.items()
    }
    assert lines[-2:] == SUMMARY
    # Times are wire times: BOOT_07 went out 0.25 s after BOOT_09.
    boot = [float(line[:8]) for line in lines if "power-on 0" in line]
    assert 0.2 < boot[1] - boot[0] < 2.0
    # Nothing seen on the wire is lost, and what is not a frame says why.
    text = path.read_text(encoding="utf-8")
    assert " box 00 FF  # garbage\n" in text
    assert " box A5 06 2F DB  # bad checksum\n" in text
    assert " remote A5 02  # partial frame timed out\n" in text
    captured = read_capture(path)
    for direction in (BOX, REMOTE):
        wire = b"".join(data for _, d, data in SCRIPT if d is direction)
        sent = [e.data for e in captured.entries if e.direction is direction]
        assert b"".join(sent) == wire
    replayed: list[str] = []
    decode_capture(captured, out=replayed.append)
    assert replayed == lines


def _start_sniff(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*CLI, "sniff", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    banner = process.stderr.readline()  # printed once both adapters are open
    assert banner.startswith("sniffing box→remote on"), banner
    return process


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sniff_command_stops_cleanly_and_replay_prints_the_same(
    taps: tuple[PtyPair, PtyPair], tmp_path: Path, stop: signal.Signals
) -> None:
    box_pty, remote_pty = taps
    path = tmp_path / "cli.txt"
    process = _start_sniff(
        "--box", box_pty.path, "--remote", remote_pty.path, "--capture", str(path)
    )
    _play_wire(box_pty, remote_pty)
    process.send_signal(stop)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out.splitlines()[-2:] == SUMMARY
    assert len(out.splitlines()) == 8 + 2
    header = read_capture(path).header
    assert header["box-tap"] == box_pty.path
    assert header["remote-tap"] == remote_pty.path
    replay = subprocess.run([*CLI, "replay", str(path)], capture_output=True, text=True, timeout=20)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == out


def test_sniff_duration_ends_by_itself(taps: tuple[PtyPair, PtyPair]) -> None:
    box_pty, remote_pty = taps
    started = time.monotonic()
    process = _start_sniff("--box", box_pty.path, "--remote", remote_pty.path, "--duration", "0.3")
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert time.monotonic() - started >= 0.3
    assert out.splitlines() == [
        "box→remote: 0 frames, 0 bad sums, 0 discarded bytes",
        "remote→box: 0 frames, 0 bad sums, 0 discarded bytes",
    ]


def test_lost_adapter_ends_with_exit_3_and_keeps_the_capture(
    taps: tuple[PtyPair, PtyPair], tmp_path: Path
) -> None:
    box_pty, remote_pty = taps
    path = tmp_path / "lost.txt"
    process = _start_sniff(
        "--box", box_pty.path, "--remote", remote_pty.path, "--capture", str(path)
    )
    box_pty.link.write(encode(Command.BOOT_09, 0x00))
    remote_pty.link.write(encode(Command.KEEPALIVE, 0x00) + b"\xa5")
    time.sleep(0.3)
    box_pty.close()  # the adapter is pulled out
    out, err = process.communicate(timeout=20)
    assert process.returncode == 3
    assert err.splitlines()[-1] == f"error: link lost ({box_pty.path})"
    captured = read_capture(path)  # valid, and holds everything heard before the loss
    assert [(e.sender, e.data) for e in captured.entries] == [
        ("box", encode(Command.BOOT_09, 0x00)),
        ("remote", encode(Command.KEEPALIVE, 0x00)),
        ("remote", b"\xa5"),
    ]
    assert "  # incomplete frame" in path.read_text(encoding="utf-8")
    assert out.splitlines()[-1] == "remote→box: 1 frame, 0 bad sums, 0 discarded bytes"


def _capture_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(["# spasim capture v1", "# source: test", *lines, ""]))
    return path


def test_replay_plays_one_side_into_a_link_at_the_captured_times(
    taps: tuple[PtyPair, PtyPair], tmp_path: Path
) -> None:
    pty, _ = taps
    capture = read_capture(
        _capture_file(
            tmp_path / "play.txt",
            [
                "0.000000 remote A5 0B 00 B0",
                "0.100000 box A5 06 2F DA",
                "1.000000 remote 00  # garbage",
                "1.000000 remote A5 02 01 A8",
            ],
        )
    )
    arrivals: list[tuple[float, bytes]] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            data = pty.link.read(0.05)
            if data:
                arrivals.append((time.monotonic(), data))

    listener = threading.Thread(target=listen)
    listener.start()
    printed: list[str] = []
    link: Link = open_link(pty.path)
    started = time.monotonic()
    try:
        counters = play_capture(capture, link, side="remote", speed=4.0, out=printed.append)
        time.sleep(0.1)
    finally:
        done.set()
        listener.join()
        link.close()
    assert b"".join(data for _, data in arrivals) == bytes.fromhex("A50B00B0 00 A50201A8")
    late = next(at for at, data in arrivals if data.endswith(bytes.fromhex("A8")))
    assert 0.2 <= late - started < 2.0  # 1.0 s of capture at speed 4 is 0.25 s
    assert printed == [
        frame_line(0.0, REMOTE, Frame(Command.KEEPALIVE, 0x00)),
        frame_line(1.0, REMOTE, Frame(Command.FILTER, 0x01)),
        "remote→box: 2 frames, 0 bad sums, 1 discarded byte",
    ]
    assert list(counters) == [REMOTE]


def test_replay_into_a_vanishing_link_exits_3(
    taps: tuple[PtyPair, PtyPair], tmp_path: Path
) -> None:
    pty, _ = taps
    path = _capture_file(
        tmp_path / "long.txt", ["0.000000 box A5 06 2F DA", "30.000000 box A5 06 30 DB"]
    )
    process = subprocess.Popen(
        [*CLI, "replay", str(path), "--to", pty.path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    heard = b""
    while len(heard) < 4 and time.monotonic() < deadline:
        heard += pty.link.read(0.1)
    assert heard == WATER
    pty.close()
    out, err = process.communicate(timeout=20)
    assert process.returncode == 3
    assert err.strip() == f"error: link lost ({pty.path})"
    assert out.splitlines() == [frame_line(0.0, BOX, Frame(Command.WATER_TEMP, 0x2F))]


def test_replay_side_filter_decodes_only_that_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _capture_file(
        tmp_path / "both.txt", ["0.500000 box A5 06 2F DA", "0.600000 remote A5 01 01 A7"]
    )
    assert main(["replay", str(path), "--side", "box"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "   0.500  box→remote A5 06 2F DA  water 23.5 °C",
        "box→remote: 1 frame, 0 bad sums, 0 discarded bytes",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "{bad}"], r"spabench replay: error: .*bad\.txt: line 4: bad byte 'A5F'"),
        (["replay", "{missing}"], r"spabench replay: error: cannot read .*missing\.txt"),
        (["replay", "{good}", "--speed", "2"], r"--speed only applies with --to"),
        (["sniff", "--box", "loop://", "--remote", "loop://"], r"two different adapters"),
        (
            ["sniff", "--box", "loop://", "--remote", "loop://x", "--capture", "{dir}"],
            r"cannot write .*: it is a directory",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    files = {
        "bad": str(_capture_file(tmp_path / "bad.txt", ["0.5 box A5 06 2F DA", "0.6 box A5F"])),
        "missing": str(tmp_path / "missing.txt"),
        "good": str(_capture_file(tmp_path / "good.txt", [])),
        "dir": str(tmp_path),
    }
    with pytest.raises(SystemExit) as exit_:
        main([arg.format(**files) for arg in argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert re.search(message, err), err


def test_an_adapter_that_cannot_be_opened_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sniff", "--box", "/dev/no-such-adapter", "--remote", "loop://"]) == 3
    assert capsys.readouterr().err.startswith("error: cannot open /dev/no-such-adapter")


def test_the_sniffer_never_writes_to_the_wire(taps: tuple[PtyPair, PtyPair]) -> None:
    """A tap that talked would corrupt the traffic it is there to witness."""
    box_pty, remote_pty = taps
    with open_link(box_pty.path) as box, open_link(remote_pty.path) as remote:
        driver = RealTimeDriver()
        sniffer = Sniffer(driver, box, remote, out=lambda _: None)
        box_pty.link.write(WATER)
        sniffer.run(duration=0.2)
        driver.close()
    assert sniffer.taps[0].splitter.counters.frames == 1
    assert box_pty.link.read(0.05) == b""
    assert remote_pty.link.read(0.05) == b""
