"""``spasim serve --count N``: N independent virtual units served by one process.

Judged where a station sees them: each unit's own endpoint and wire (the frames a client
reads), its control channel, its capture file and the server's stdout/stderr lines. The
test side reads all the wires on one RealTimeDriver at the server's speed; every wait is
bounded (simulated-time limits on that driver, subprocess timeouts), none sleeps.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from protocols.capture import read_capture
from protocols.control import ControlClient
from protocols.driver import RealTimeDriver
from protocols.links import open_link
from protocols.mspa import Command, Frame, FrameDecoder
from protocols.mspa.frames import FRAME_SECONDS
from protocols.ports import LinkPort
from spasim.cli import main
from spasim.profiles import load_profile
from spasim.pytest_plugin import ServedUnit, ServedUnits, start_served_units

SPEED = 40.0
WAIT = 15.0
"""Wall seconds any single wait may take (never reached when healthy)."""
SIM_WAIT = WAIT * SPEED
"""The same limit in the simulated seconds of the test's driver."""
SENSOR_SHORT = 0xFF
"""What a box with ``temp-sensor-short`` reports as its water temperature (127.5 °C)."""


class Wire:
    """The test as a silent client on one served box: every frame it reads, decoded."""

    def __init__(self, driver: RealTimeDriver, url: str) -> None:
        self.port = LinkPort(driver, open_link(url))
        self.port.on_receive = self._on_bytes
        self.decoder = FrameDecoder()
        self.frames: list[Frame] = []

    def _on_bytes(self, data: bytes) -> None:
        self.frames.extend(self.decoder.feed(data, 0.0))

    def reports(self) -> list[int]:
        """The water temperatures this client has read so far (one per report)."""
        return [frame.parameter for frame in self.frames if frame.command == Command.WATER_TEMP]

    def close(self) -> None:
        self.port.close()


def _reports(path: Path) -> list[tuple[float, int]]:
    """``(simulated time, temperature parameter)`` of every water-temperature report the box
    sent, from its capture: the box's own schedule, whatever the client's timing."""
    decoder = FrameDecoder()
    reports = []
    for entry in read_capture(str(path)).entries:
        if entry.sender == "box":
            reports.extend(
                (entry.t, frame.parameter)
                for frame in decoder.feed(entry.data)
                if frame.command == Command.WATER_TEMP
            )
    return reports


def test_three_tcp_boxes_are_independent(tmp_path: Path) -> None:
    capture = tmp_path / "cap.txt"
    served = start_served_units(
        [
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--speed",
            str(SPEED),
            "--fault",
            "2:temp-sensor-short",
            "--profile",
            "2:elite-6",
            "--water",
            "30.25",
            "--seed",
            "7",
            "--control",
            "127.0.0.1:0",
            "--capture",
            str(capture),
            "-v",
        ],
        3,
        transport="tcp",
        speed=SPEED,
        timeout=WAIT,
    )
    driver = RealTimeDriver(speed=SPEED)
    wires: list[Wire] = []
    try:
        assert len(set(served.addresses)) == 3
        assert all(re.fullmatch(r"127\.0\.0\.1:\d+", address) for address in served.addresses)
        wires = [Wire(driver, url) for url in served.urls]
        assert driver.wait_until(lambda: all(len(w.reports()) >= 20 for w in wires), SIM_WAIT)
        first, second, third = wires
        assert set(second.reports()) == {SENSOR_SHORT}, "box 2's fault is on box 2's wire"
        assert SENSOR_SHORT not in first.reports() + third.reports(), "and only there"
        plates = []
        for address in served.controls:
            with ControlClient(address, timeout=WAIT) as control:
                plates.append(control.request("plate")["profile"])
        assert plates == ["premium-4", "elite-6", "premium-4"]

        # Client 1 leaves and comes back; box 3 keeps reporting throughout.
        first.close()
        before = len(third.reports())
        assert driver.wait_until(lambda: len(third.reports()) >= before + 5, SIM_WAIT)
        wires[0] = first = Wire(driver, served.urls[0])
        assert driver.wait_until(lambda: len(first.reports()) >= 2, SIM_WAIT)
        assert driver.wait_until(lambda: len(third.reports()) >= before + 10, SIM_WAIT)
    finally:
        for wire in wires:
            wire.close()
        driver.close()
        status = served.stop(WAIT)
        log = served.log()
        served.discard()
    assert status == 0
    assert (
        log.count("# box 1: client connected") == 2 and log.count("# box 3: client connected") == 1
    )
    assert log.index("# box 1: client left") < log.rindex("# box 1: client connected")
    assert log.rindex("# box 1: client connected") < log.index("# box 3: client left"), (
        "box 3's client stayed connected while box 1's left and came back"
    )
    assert re.search(r"^box 2: +[\d.]+ box→remote A5 06 FF AA  water 127\.5 °C$", log, re.M)
    assert not re.search(r"^box [13]: .*water 127\.5", log, re.M)
    # Box 3's own schedule (its capture, in simulated time) never faltered while box 1's
    # client left and came back: one report a period, at most two frame times late.
    assert sorted(os.listdir(tmp_path)) == ["cap-1.txt", "cap-2.txt", "cap-3.txt"]
    period = load_profile("premium-4").link_report_period_s
    third_sent = [t for t, _ in _reports(tmp_path / "cap-3.txt")]
    assert len(third_sent) >= 30
    gaps = [b - a for a, b in itertools.pairwise(third_sent)]
    assert max(abs(gap - period) for gap in gaps) <= 2 * FRAME_SECONDS + 1e-6
    # Boxes 1 and 3 differ only in their noise seeds (7 and 9): at 30.25 °C their sensors'
    # noise tips the half-degree reports differently (with one seed they would be equal).
    # Box 3 was plugged in later, so its Kth report is compared with box 1's Kth.
    box1 = [parameter for _, parameter in _reports(tmp_path / "cap-1.txt")]
    box3 = [parameter for _, parameter in _reports(tmp_path / "cap-3.txt")]
    assert min(len(box1), len(box3)) >= 20
    assert any(a != b for a, b in zip(box1, box3, strict=False))


def test_boxes_are_plugged_in_one_after_another_so_their_reports_never_coincide(
    tmp_path: Path,
) -> None:
    """Boxes on a bench are plugged in one after another, so their reports come at their
    own moments; served from one clock, every box reported in the same millisecond, and a
    station's 16 channels all woke at once on every report (the station benchmark's jitter
    came in clusters at each report). Box I is plugged in (I − 1)/N of a report period
    after box 1; judged from each box's capture (the box's own schedule, simulated time)."""
    count = 4
    served = start_served_units(
        ["serve", "--tcp", "127.0.0.1:0", "--speed", str(SPEED),
         "--capture", str(tmp_path / "cap.txt")],
        count, transport="tcp", speed=SPEED, timeout=WAIT,
    )  # fmt: skip
    driver = RealTimeDriver(speed=SPEED)
    wires: list[Wire] = []
    try:
        wires = [Wire(driver, url) for url in served.urls]
        assert driver.wait_until(lambda: all(len(w.reports()) >= 5 for w in wires), SIM_WAIT)
    finally:
        for wire in wires:
            wire.close()
        driver.close()
        assert served.stop(WAIT) == 0
        served.discard()
    period = load_profile("premium-4").link_report_period_s
    firsts = []
    for index in range(1, count + 1):
        sent = [t for t, _ in _reports(tmp_path / f"cap-{index}.txt")]
        assert len(sent) >= 5, f"box {index} sent {len(sent)} reports"
        firsts.append(sent[0])
        # each box keeps its model's period: plugged in later, not slower
        gaps = [b - a for a, b in itertools.pairwise(sent)]
        assert max(abs(gap - period) for gap in gaps) <= 2 * FRAME_SECONDS
    for index, first in enumerate(firsts[1:], start=2):
        later = (first - firsts[0]) % period
        expected = (index - 1) / count * period
        assert abs(later - expected) <= 2 * FRAME_SECONDS, (
            f"box {index} reports {later:.4f} s into box 1's report period; expected "
            f"{expected:.4f} s (plugged in {index - 1}/{count} of a period later)"
        )


@pytest.mark.spasim(count=2, speed=SPEED)
def test_two_boxes_on_ptys_and_sigint_stops_both(served_boxes: ServedUnits) -> None:
    assert len(served_boxes.addresses) == 2 and len(set(served_boxes.addresses)) == 2
    assert all(address.startswith("/dev/") for address in served_boxes.addresses)
    driver = RealTimeDriver(speed=SPEED)
    wires = [Wire(driver, url) for url in served_boxes.urls]
    try:
        assert driver.wait_until(lambda: all(len(w.reports()) >= 2 for w in wires), SIM_WAIT)
    finally:
        for wire in wires:
            wire.close()
        driver.close()
    served_boxes.process.send_signal(signal.SIGINT)
    assert served_boxes.process.wait(WAIT) == 0
    assert not any(os.path.exists(address) for address in served_boxes.addresses)


def test_count_one_keeps_the_plain_line_and_index_one(launch: Callable[..., ServedUnit]) -> None:
    # ``launch`` insists on the exact unindexed ``listening on`` line.
    served = launch("--pty", "--count", "1", "--fault", "1:temp-sensor-short", speed=SPEED)
    driver = RealTimeDriver(speed=SPEED)
    wire = Wire(driver, served.url)
    try:
        assert driver.wait_until(lambda: len(wire.reports()) >= 2, SIM_WAIT)
    finally:
        wire.close()
        driver.close()
    assert set(wire.reports()) == {SENSOR_SHORT}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--count", "0"], "--count: must be 1–64"),
        (["--count", "65"], "--count: must be 1–64"),
        (["--count", "2", "--fault", "3:heater-open"], "--fault 3:heater-open: no unit 3"),
        (["--count", "2", "--fault", "0:heater-open"], "no unit 0"),
        (["--fault", "2:heater-open"], "no unit 2 (the one unit served)"),
        (["--count", "2", "--profile", "3:elite-6"], "--profile 3:elite-6: no unit 3"),
        (["--count", "2", "--fault", "2:panel-dead"], "applies to a remote"),
        (["--count", "2", "--fault", "2:"], "expected N:VALUE"),
        (["--count", "2", "--profile", "2:elite-6", "--profile", "2:concept-4"], "twice"),
        (["--count", "3", "--tcp", "127.0.0.1:65534"], "needs ports up to 65536"),
    ],
)
def test_bad_count_arguments_exit_2_with_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", *arguments])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def _taken_pair() -> tuple[int, socket.socket]:
    """A free port P and a socket listening on P + 1 (what a consecutive range runs into)."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        taken = socket.socket()
        try:
            taken.bind(("127.0.0.1", port + 1))
        except OSError:
            taken.close()
            continue
        taken.listen()
        return port, taken
    pytest.fail("no free pair of consecutive ports")


@pytest.mark.parametrize("option", ["--tcp", "--control"])
def test_a_taken_consecutive_port_is_refused_before_serving(option: str) -> None:
    port, taken = _taken_pair()
    with taken:
        done = subprocess.run(
            [sys.executable, "-m", "spasim", "serve", "--count", "3", option, f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
    assert done.returncode == 2
    assert done.stdout == "", "nothing announced, nothing served"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "box 2: cannot " in lines[0], lines
    assert f"127.0.0.1:{port + 1}: Address already in use" in lines[0]
