"""``benchmarks/station.py`` end to end: two served boxes at 20× on ptys, a one-channel and a
two-channel ``spabench station run`` of ``smoke``; the figures are printed (their values
depend on the machine and are not judged here, only that each was measured and judged).

The meters are on Modbus TCP: a Modbus RTU reading on a pty takes ~34 wall ms, and at 20×
the bench refuses a reading slower than 50 ms as stalled (a loaded machine gets there)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "station.py"
WAIT_S = 240.0
"""Wall seconds the whole benchmark may take (about 15 on an idle machine)."""


def test_the_station_benchmark_prints_every_figure_and_every_channel(tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--channels", "2", "--speed", "20", "--meter", "tcp",
         "--keep", str(keep)],
        capture_output=True, text=True, timeout=WAIT_S, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    out = done.stdout
    logs = "".join(path.read_text() for path in sorted(keep.glob("*.log")))
    assert done.returncode in (0, 1), (done.returncode, out, done.stderr, logs)  # 3: not measured
    assert "Traceback" not in done.stderr, done.stderr
    number = r"\d+(?:\.\d+)?"
    for title, more in (("one channel", rf"; report jitter p99 {number} ms"), ("2 channels", "")):
        assert re.search(
            rf"^{title}: wall {number} s, bench CPU {number} s = {number}% of a core; "
            rf"spasim serve CPU {number}% of a core{more}$",
            out,
            re.M,
        ), out
    machine = (
        rf"^    machine meanwhile: load average {number} on \d+ cores; "
        rf"a 20 ms sleep here woke late by p99 {number} ms \(max {number} ms\)$"
    )
    assert len(re.findall(machine, out, re.M)) == 2, out  # one per station run
    for channel in ("1", "2"):
        assert re.search(
            rf"^{channel} +PASS +\d+ +{number} ms +{number} ms +{number} ms$", out, re.M
        ), out
    assert re.search(rf"^worst +channel [12] +{number} ms$", out, re.M), out
    judged = {
        "bench CPU share, 2 channels": rf"{number}% of a core +< 25%",
        "report jitter p99, worst channel": rf"{number} ms \(channel [12]\) +< 5 ms",
        "wall time against one channel's": rf"{number} s vs {number} s \([+-]{number}%\) +"
        r"within 10%",
    }
    for target, figure in judged.items():
        assert re.search(rf"^{re.escape(target)} +{figure} +(MET|MISSED)$", out, re.M), out
    assert done.returncode == (0 if out.count(" MISSED") == 0 else 1), out
    # What it measured is kept: both stations' files, their records and logs.
    kept = sorted(path.name for path in keep.iterdir())
    assert "station-2ch.toml" in kept and "bench-2ch.log" in kept, kept
    assert len(list((keep / "records-2ch").glob("*.json"))) == 2


def test_a_bad_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--channels", "0"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].endswith("--channels: from 1 to 64"), done.stderr
