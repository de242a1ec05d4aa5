"""End to end through the real paths a user takes: processes, pseudo-terminals, Modbus.

* ``spabench run --plan smoke`` against ``spasim serve --speed 1`` on a pty (the path a USB
  adapter takes) with the served virtual Modbus meter (issue 4's proof);
* a ``spabench run`` killed with SIGKILL mid-run leaves a run every later command shows as
  ``interrupted``, with every completed step (issue 5's proof);
* a virtual box and a virtual remote talking through a cable tapped by two "adapters":
  ``spabench sniff`` captures both wires, and the capture replays to the same decoded lines
  (issue 6's proof).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from protocols.links import PtyPair

PYTHON = sys.executable
SERVE = [PYTHON, "-m", "spasim", "serve"]
BENCH = [PYTHON, "-m", "bench"]

ANSWERS = (
    'bubbles-visible = true\n"pump-running" = true\n"blower-running" = true\n'
    'model-plate = "premium-4"\n'  # the wire alone cannot tell a premium-4 from an elite-6
)


class Served:
    """A ``spasim serve`` subprocess and the addresses it announced on stdout."""

    def __init__(self, *arguments: str) -> None:
        self.stderr = open(os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*SERVE, *arguments],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        assert first.startswith("listening on "), f"expected 'listening on …', got {first!r}"
        self.address = first.removeprefix("listening on ")
        self.meter: str | None = None
        if "--meter-tcp" in arguments or "--meter-pty" in arguments:
            second = self.process.stdout.readline().strip()
            assert second.startswith("meter on "), f"expected 'meter on …', got {second!r}"
            self.meter = second.removeprefix("meter on ")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(10)
        self.stderr.close()
        return code


@pytest.fixture
def served_box() -> Iterator[Served]:
    served = Served("--pty", "--speed", "1", "--tank-litres", "20", "--meter-tcp", "0")
    try:
        yield served
    finally:
        assert served.stop() == 0


@pytest.mark.timeout(400)
def test_smoke_over_a_real_pty_against_spasim_serve_at_speed_1(
    served_box: Served, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS)
    out = tmp_path / "record.json"
    assert served_box.meter is not None
    result = subprocess.run(
        [
            *BENCH,
            "run",
            "--port",
            served_box.address,
            "--meter",
            served_box.meter,
            "--plan",
            "smoke",
            "--answers",
            str(answers),
            "--json",
            str(out),
            "--no-store",
        ],
        capture_output=True,
        text=True,
        timeout=360,
    )
    record = json.loads(out.read_text())
    failed = [s["name"] for s in record["steps"] if s["outcome"] not in ("pass", "skipped")]
    assert result.returncode == 0, (
        f"expected pass (exit 0), got exit {result.returncode}; failed steps {failed}; "
        f"stderr: {result.stderr[-2000:]}"
    )
    assert record["verdict"] == "pass"
    assert record["suspected_parts"] == []
    assert record["meter"] == served_box.meter
    # Real traffic was recorded both ways, with real checksums.
    senders = {frame["sender"] for frame in record["frames"]}
    assert senders == {"box", "remote"}
    pump = next(s for s in record["steps"] if s["name"] == "pump-draw")
    watts = [m["value"] for m in pump["measurements"] if isinstance(m["value"], int | float)]
    assert any(50 <= w <= 70 for w in watts), pump  # the 60 W pump, through Modbus


def _steps_filed(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT count(*) FROM run_steps").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.timeout(300)
def test_sigkill_mid_run_leaves_an_interrupted_run_with_its_steps(
    served_box: Served, tmp_path: Path
) -> None:
    db = tmp_path / "records.sqlite3"
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS)
    env = {**os.environ, "SPABENCH_DB": str(db)}
    unit = ["--serial", "SN-KILL-1", "--profile", "premium-4", "--purchase-date", "2026-05-01"]
    subprocess.run([*BENCH, "unit", "add", *unit], check=True, env=env, capture_output=True)
    bench = subprocess.Popen(
        [
            *BENCH,
            "run",
            "--port",
            served_box.address,
            "--meter",
            str(served_box.meter),
            "--plan",
            "smoke",
            "--answers",
            str(answers),
            "--unit",
            "SN-KILL-1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while _steps_filed(db) < 3:
            assert bench.poll() is None, "the bench finished before it could be killed"
            assert time.monotonic() < deadline, "no steps filed within 120 s"
            time.sleep(0.2)
        bench.send_signal(signal.SIGKILL)
        assert bench.wait(10) == -signal.SIGKILL
    finally:
        if bench.poll() is None:
            bench.kill()
    completed = _steps_filed(db)
    history = subprocess.run(
        [*BENCH, "history", "SN-KILL-1"], env=env, capture_output=True, text=True, check=True
    )
    assert "interrupted" in history.stdout, history.stdout
    assert "running" not in history.stdout
    # Every step committed before the kill is still there and the run is readable.
    report = tmp_path / "run.json"
    subprocess.run(
        [*BENCH, "report", "--run", "1", "--json", str(report)],
        env=env,
        check=True,
        capture_output=True,
    )
    exported = json.loads(report.read_text())
    assert exported["status"] == "interrupted"
    steps = exported["record"]["steps"]
    assert len([s for s in steps if s["outcome"] != "skipped"]) >= completed >= 3


class TappedCable:
    """The remote cable between a served box and a served remote, with two taps.

    Like the real wiring: the green wire (box → remote) and the black wire (remote → box)
    are each also fed to an "adapter" — a pty whose slave path the sniffer opens as a device.
    """

    def __init__(self, box_path: str, remote_path: str) -> None:
        self.box = serial.Serial(box_path, 9600, timeout=0.02)
        self.remote = serial.Serial(remote_path, 9600, timeout=0.02)
        self.green_tap = PtyPair()
        self.black_tap = PtyPair()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.box, self.remote, self.green_tap)),
            threading.Thread(target=self._pump, args=(self.remote, self.box, self.black_tap)),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, source: serial.Serial, sink: serial.Serial, tap: PtyPair) -> None:
        while not self._stop.is_set():
            data = source.read(4096)
            if data:
                sink.write(data)
                tap.link.write(data)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self.box.close()
        self.remote.close()
        self.green_tap.close()
        self.black_tap.close()


@pytest.mark.timeout(120)
def test_sniffing_a_virtual_box_and_remote_through_two_taps_replays_identically(
    tmp_path: Path,
) -> None:
    box = Served("--pty", "--role", "box", "--speed", "10")
    remote = Served("--pty", "--role", "remote", "--speed", "10", "--set", "filter=on")
    cable = TappedCable(box.address, remote.address)
    capture = tmp_path / "cable.cap"
    try:
        sniff = subprocess.run(
            [
                *BENCH,
                "sniff",
                "--box",
                cable.green_tap.path,
                "--remote",
                cable.black_tap.path,
                "--capture",
                str(capture),
                "--duration",
                "4",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        cable.close()
        assert box.stop() == 0
        assert remote.stop() == 0
    assert sniff.returncode == 0, sniff.stderr
    live = [line for line in sniff.stdout.splitlines() if "→" in line]
    # Both wires were heard: the box's reports and the remote's state cycle.
    assert any("box→remote" in line and "water" in line for line in live)
    assert any("box→remote" in line and "flow" in line for line in live)
    assert any("remote→box" in line and "filter on" in line for line in live)
    replay = subprocess.run(
        [*BENCH, "replay", str(capture)], capture_output=True, text=True, timeout=30, check=True
    )
    replayed = [line for line in replay.stdout.splitlines() if "→" in line]
    assert replayed == live


@pytest.mark.parametrize(("spec", "standby_w"), [("sdm120", 0.0), ("ideal", 2.0)])
def test_the_served_meter_reads_to_its_data_sheet(spec: str, standby_w: float) -> None:
    """Issue 9: a served box's meter is as blind as the real one — an SDM120 reads 0 below
    20 mA, so the 2 W standby of an idle box is invisible to it; the ideal meter sees it."""
    from bench.testing.instruments.meter import ModbusMeter

    served = Served("--pty", "--meter-tcp", "0", "--meter-spec", spec)
    try:
        assert served.meter is not None
        meter = ModbusMeter.open(served.meter, timeout=5.0, retries=1)
        try:
            assert meter.read().power_w == pytest.approx(standby_w)
        finally:
            meter.close()
    finally:
        assert served.stop() == 0
