"""Station benchmark: one ``spabench station run`` driving 16 served boxes at once.

    python benchmarks/station.py [--channels 16] [--plan smoke] [--speed 1]
                                 [--transport pty|tcp] [--meter pty|tcp] [--keep DIR]

Issue 14's proof that one bench process keeps up with a workshop bench PC's channels. The boxes
are virtual: ONE ``spasim serve --count N --speed X`` process serves N boxes (ptys or
consecutive TCP ports), each with its energy meter (``--meter``: Modbus RTU on a pty, as
through a USB RS-485 adapter, or Modbus TCP; by default as ``--transport``) and its control
channel; the boxes are plugged in one after another, (I − 1)/N of a report period apart, as
``serve --count`` does and as on a bench. A generated station file points a channel at each
box, with the box's control channel as the channel's operator (``operator = "control://…"``):
every prompt of any plan is answered from the box's own state, so no person is needed and a
healthy box passes. Runs are filed into a temporary records database (16 registered units), so
the bench does all it does in a workshop; ``--json-dir`` gives each channel's record back.

First the same plan runs on a ONE-channel station served the same way (its own ``serve
--count 1``), then on the N-channel station. Printed:

* **bench CPU share** — utime + stime of the ``spabench station run`` process (every thread)
  from ``/proc/PID/stat``, read once it has exited but before it is reaped (``waitid`` with
  ``WNOWAIT``: nothing of the run's tail is lost), over its wall time from spawn to exit.
  Target < 25 % of one core. The served boxes' CPU over the same window is printed beside it
  (not a target: it says whether the boxes' side kept time), and so is the machine's own
  scheduling noise (:class:`WakeProbe`: how late a short sleep in this process wakes, and
  the load average): on a shared machine that noise delays the boxes' reports and the
  bench's reading of them alike, and the jitter figure is read against it.
* **report jitter per channel** — from the frames each channel's record holds: the bench
  timestamps every frame it reads with its channel driver's clock (``FrameEntry.t``, run-clock
  seconds; :class:`~protocols.driver.RealTimeDriver`: simulated time = wall time × speed,
  read right after ``select`` saw the bytes). The inter-arrival times of the box's periodic
  reports (water temperature 0x06 and flow 0x08, each series on its own) are compared with the
  model's report period (the plate's ``link_report_period_s``: premium-4 reports every
  1.0132 s, not 1.0 s); jitter = |interval − period| ÷ speed, in wall milliseconds. Every
  interval of the run counts, the first included (a channel starting up late is jitter the
  record shows). Target p99 < 5 ms on every channel; each channel and the worst are printed,
  and the one-channel station's p99 beside its wall time. The record's clock is the one the
  bench judges by, so what is measured is the whole path: the served box's process writing
  the report on time, the OS, and the bench reading it (a report the box's process writes
  late counts as much as one the bench reads late).
* **wall time** of the N-channel station against the one-channel station's (spawn to exit).
  Target within 10 %.

Every channel must PASS (healthy boxes): a channel that fails or errors, or a station that
exits non-zero, is a benchmark error (exit 3, the files are kept and named), not a figure.
Exit status 0 when every target was met, 1 when one was missed. At speed 1 the ``smoke`` plan
takes a little over a minute per station (its steps, and the unit identified first), so the
whole benchmark takes under 3 minutes. Above speed ~10 keep the meters on TCP (``--meter
tcp``): a Modbus RTU reading on a pty takes ~34 wall ms, and the bench refuses a reading
slower than 1 simulated second (50 ms at 20×) as stalled.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import math
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path, and benchmarks/bench.py would
# shadow the bench package for anything that imports it.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

from bench.records.store import Store
from protocols.mspa import Command
from spasim.profiles import load_profile
from spasim.pytest_plugin import ServedUnits, start_served_units

CPU_TARGET = 0.25
"""Share of one core the bench process may use for the whole station."""
JITTER_P99_TARGET_S = 0.005
WALL_TARGET = 0.10
"""How much longer than one channel's the station's wall time may be."""
PROFILE = "premium-4"
REPORTS = (Command.WATER_TEMP, Command.FLOW)
"""The box's periodic reports (0x06, 0x08), one each ``link_report_period_s``."""
PURCHASED = datetime.date(2025, 6, 1)
START_TIMEOUT_S = 60.0
"""Wall seconds ``spasim serve`` may take to announce every box (16 on a loaded machine)."""
PROBE_PERIOD_S = 0.02
"""Wall seconds the scheduling probe sleeps at a time (50 wake-ups a second)."""
RUN_LIMIT_S = 3600.0
"""Wall seconds a station run may take before the benchmark gives up on it."""
EXIT_BENCHMARK_ERROR = 3


class BenchmarkError(RuntimeError):
    """The benchmark measured nothing meaningful (a channel did not pass, a process died)."""


@dataclass(frozen=True)
class ChannelFigures:
    """One channel's outcome and its report jitter (wall seconds)."""

    name: str
    verdict: str
    note: str
    intervals: int
    p50: float
    p99: float
    worst: float


@dataclass(frozen=True)
class StationRun:
    """One ``spabench station run``: its wall and CPU time, and every channel's figures."""

    channels: list[ChannelFigures]
    wall_s: float
    cpu_s: float
    served_cpu_s: float
    log: Path
    late_wakeups: list[float]
    """How late (wall seconds) the :class:`WakeProbe` woke meanwhile."""
    load: float
    """The machine's 1-minute load average when the run ended."""

    @property
    def share(self) -> float:
        return self.cpu_s / self.wall_s

    @property
    def worst(self) -> ChannelFigures:
        return max(self.channels, key=lambda channel: channel.p99)


# ----------------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads) from /proc (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WakeProbe:
    """How late a thread of this process wakes from a short sleep while a station runs.

    The served boxes and the bench are processes on the same machine: when it is busy (other
    work on a 2-core machine), the OS lets each of them wait for a core, and a box's report
    goes out — or the bench reads it — late by as much. This figure is that noise on its own,
    so a jitter figure can be read against it. It is context, not a target.
    """

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wake probe", daemon=True)

    def _run(self) -> None:
        while True:
            began = time.monotonic()
            if self._stop.wait(PROBE_PERIOD_S):
                return
            self.lateness.append(time.monotonic() - began - PROBE_PERIOD_S)

    def __enter__(self) -> WakeProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def nearest_rank(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile by nearest rank (a value that occurred, never interpolated)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def report_jitter(record: dict[str, Any], speed: float) -> list[float]:
    """|interval − the model's report period| ÷ speed (wall seconds) of every pair of
    consecutive 0x06 reports, and of 0x08 reports, as the bench timestamped them."""
    period = load_profile(record["unit"]["profile"] or PROFILE).link_report_period_s
    arrivals: dict[int, list[float]] = {int(command): [] for command in REPORTS}
    for entry in record["frames"]:
        if entry["sender"] != "box":
            continue
        command = int(entry["hex"].split()[1], 16)
        if command in arrivals:
            arrivals[command].append(float(entry["t"]))
    return [
        abs(later - earlier - period) / speed
        for series in arrivals.values()
        for earlier, later in itertools.pairwise(series)
    ]


def channel_figures(name: str, record: dict[str, Any], speed: float) -> ChannelFigures:
    jitter = report_jitter(record, speed)
    note = record.get("error") or record.get("summary") or ""
    if len(jitter) < 4:
        raise BenchmarkError(f"channel {name}: only {len(jitter)} report intervals in its record")
    return ChannelFigures(
        name,
        str(record["verdict"]),
        str(note),
        len(jitter),
        statistics.median(jitter),
        nearest_rank(jitter, 0.99),
        max(jitter),
    )


# ----------------------------------------------------------------------- running


@dataclass(frozen=True)
class Setup:
    """How the boxes are served and what runs on them (the same for both stations)."""

    plan: str
    speed: float
    transport: str
    """``pty`` or ``tcp``: how each box is reached."""
    meter: str
    """``pty`` (Modbus RTU on a pty, as through a USB RS-485 adapter) or ``tcp``."""


def serve(count: int, setup: Setup) -> ServedUnits:
    """``spasim serve --count N``: N boxes, each with its meter and control channel."""
    link = ["--pty"] if setup.transport == "pty" else ["--tcp", "127.0.0.1:0"]
    meter = ["--meter-pty"] if setup.meter == "pty" else ["--meter-tcp", "127.0.0.1:0"]
    arguments = [
        "serve", *link, *meter, "--control", "127.0.0.1:0", "--speed", f"{setup.speed:g}",
        "--profile", PROFILE,
    ]  # fmt: skip
    try:
        return start_served_units(
            arguments, count, transport=setup.transport, speed=setup.speed,
            timeout=START_TIMEOUT_S,
        )  # fmt: skip
    except (RuntimeError, TimeoutError) as error:
        raise BenchmarkError(str(error)) from None


def write_station(path: Path, served: ServedUnits, speed: float) -> list[str]:
    """A station file with one channel per served box; the units' serials."""
    lines = [f'name = "{path.stem}"']
    serials = []
    for index, (url, meter, control) in enumerate(
        zip(served.urls, served.meters, served.controls, strict=True), start=1
    ):
        serial = f"BENCH-{index:02d}"
        serials.append(serial)
        lines += [
            "",
            "[[channel]]",
            f'name = "{index}"',
            f'port = "{url}"',
            f'meter = "{meter}"',
            f'profile = "{PROFILE}"',
            f'unit = "{serial}"',
            f'operator = "control://{control}"',
            f"speed = {speed:g}",
            "simulated = true",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return serials


def register(db: Path, serials: list[str]) -> None:
    with Store(str(db)) as store:
        for serial in serials:
            if not store.has_unit(serial):
                store.add_unit(serial, PROFILE, PURCHASED)


def wait_exited(pid: int, timeout: float) -> bool:
    """Wait (at most ``timeout`` wall seconds) until ``pid`` has exited, without reaping it:
    its /proc entry (and CPU times) stay readable until it is waited for."""
    fd = os.pidfd_open(pid)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            return bool(selector.select(timeout))
    finally:
        os.close(fd)


def run_station(work: Path, count: int, setup: Setup) -> StationRun:
    """Serve ``count`` boxes, run ``plan`` on a station of them, collect the figures."""
    label = f"{count}ch"
    station = work / f"station-{label}.toml"
    records = work / f"records-{label}"
    records.mkdir()
    log = work / f"bench-{label}.log"
    served = serve(count, setup)
    try:
        register(work / "records.sqlite3", write_station(station, served, setup.speed))
        command = [
            sys.executable, "-m", "bench", "station", "run", str(station), "--plan", setup.plan,
            "--db", str(work / "records.sqlite3"), "--json-dir", str(records),
        ]  # fmt: skip
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as output, WakeProbe() as probe:
            served_cpu0 = cpu_seconds(served.process.pid)
            began = time.monotonic()
            bench = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=output, stderr=output, env=env
            )
            try:
                if not wait_exited(bench.pid, RUN_LIMIT_S):
                    raise BenchmarkError(f"the station ran over {RUN_LIMIT_S:g} s; see {log}")
                wall = time.monotonic() - began
                cpu = cpu_seconds(bench.pid)  # exited, not yet reaped
                served_cpu = cpu_seconds(served.process.pid) - served_cpu0
            finally:
                if bench.poll() is None:
                    bench.kill()
                status = bench.wait()
        if served.process.poll() is not None:
            raise BenchmarkError(f"spasim serve died during the run: {served.log().strip()}")
    finally:
        shutil.copyfile(served.log_path, work / f"serve-{label}.log")
        served.discard()
    channels = _channels(records, count, setup.speed)
    failed = [c for c in channels if c.verdict != "pass"]
    if status != 0 or failed or len(channels) != count:
        said = "; ".join(f"channel {c.name} {c.verdict.upper()} {c.note}" for c in failed)
        raise BenchmarkError(
            f"the {label} station exited {status} with {len(channels)} of {count} records"
            f"{': ' + said if said else ''} — see {log}"
        )
    return StationRun(channels, wall, cpu, served_cpu, log, probe.lateness, os.getloadavg()[0])


def _channels(records: Path, count: int, speed: float) -> list[ChannelFigures]:
    found = []
    for path in sorted(records.glob("*.json")):
        name = path.name.split("-", 1)[0]
        record = json.loads(path.read_text(encoding="utf-8"))
        found.append(channel_figures(name, record, speed))
    return sorted(found, key=lambda channel: int(channel.name) if channel.name.isdigit() else 0)


# ----------------------------------------------------------------------- printing


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _met(met: bool) -> str:
    return "MET" if met else "MISSED"


def _table(rows: Sequence[tuple[str, ...]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()


def _machine(run: StationRun) -> str:
    late = run.late_wakeups
    woke = (
        f"a {PROBE_PERIOD_S * 1e3:g} ms sleep here woke late by p99 {_ms(nearest_rank(late, 0.99))}"
        f" (max {_ms(max(late))})"
        if late
        else "no sleep probed"
    )
    return f"    machine meanwhile: load average {run.load:.1f} on {os.cpu_count()} cores; {woke}"


def report(single: StationRun, station: StationRun) -> tuple[list[str], bool]:
    """The printed lines, and whether every target was met."""
    lines = []
    for title, run in (("one channel", single), (f"{len(station.channels)} channels", station)):
        lines.append(
            f"{title}: wall {run.wall_s:.1f} s, bench CPU {run.cpu_s:.2f} s = {run.share:.1%} "
            f"of a core; spasim serve CPU {run.served_cpu_s / run.wall_s:.1%} of a core"
            + (f"; report jitter p99 {_ms(run.worst.p99)}" if run is single else "")
        )
        lines.append(_machine(run))
    lines.append("")
    rows = [("channel", "verdict", "intervals", "jitter p50", "p99", "max")]
    for channel in station.channels:
        rows.append(
            (
                channel.name,
                channel.verdict.upper(),
                str(channel.intervals),
                _ms(channel.p50),
                _ms(channel.p99),
                _ms(channel.worst),
            )
        )
    worst = station.worst
    rows.append(("worst", f"channel {worst.name}", "", "", _ms(worst.p99), ""))
    lines += _table(rows)
    lines.append("")
    slower = station.wall_s / single.wall_s - 1
    checks = [
        (
            f"bench CPU share, {len(station.channels)} channels",
            f"{station.share:.1%} of a core",
            f"< {CPU_TARGET:.0%}",
            station.share < CPU_TARGET,
        ),
        (
            "report jitter p99, worst channel",
            f"{_ms(worst.p99)} (channel {worst.name})",
            f"< {JITTER_P99_TARGET_S * 1e3:g} ms",
            worst.p99 < JITTER_P99_TARGET_S,
        ),
        (
            "wall time against one channel's",
            f"{station.wall_s:.1f} s vs {single.wall_s:.1f} s ({slower:+.1%})",
            f"within {WALL_TARGET:.0%}",
            abs(slower) <= WALL_TARGET,
        ),
    ]
    lines += _table([("target", "figure", "goal", ""), *[(*c[:3], _met(c[3])) for c in checks]])
    return lines, all(check[3] for check in checks)


# ----------------------------------------------------------------------- main


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("from 1 to 64")
    return value


def _speed(text: str) -> float:
    value = float(text)
    if not 0.01 <= value <= 1000:
        raise argparse.ArgumentTypeError("from 0.01 to 1000")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=_positive_int, default=16, help="boxes (default 16)")
    parser.add_argument("--plan", default="smoke", help="plan to run (default smoke)")
    parser.add_argument("--speed", type=_speed, default=1.0, help="served speed (default 1)")
    parser.add_argument(
        "--transport", choices=("pty", "tcp"), default="pty", help="boxes on (default pty)"
    )
    parser.add_argument(
        "--meter",
        choices=("pty", "tcp"),
        help="meters: Modbus RTU on ptys or Modbus TCP (default: as --transport)",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep station files, records and logs here")
    args = parser.parse_args()
    if args.keep:
        work = Path(args.keep)
        try:
            work.mkdir(parents=True, exist_ok=False)
        except OSError as error:
            parser.error(f"--keep {args.keep}: {error.strerror or error} (give a new folder)")
    else:
        work = Path(tempfile.mkdtemp(prefix="station-benchmark-"))
    setup = Setup(args.plan, args.speed, args.transport, args.meter or args.transport)
    meters = "Modbus RTU on ptys" if setup.meter == "pty" else "Modbus TCP"
    print(
        f"station benchmark: plan {setup.plan} on {args.channels} {PROFILE} boxes served by one "
        f"spasim serve --count {args.channels} --speed {setup.speed:g} on {setup.transport}s, "
        f"meters {meters} (report period {load_profile(PROFILE).link_report_period_s:g} s)",
        flush=True,
    )
    try:
        single = run_station(work, 1, setup)
        print(
            f"(the one-channel station took {single.wall_s:.1f} s; now {args.channels} channels)",
            flush=True,
        )
        station = run_station(work, args.channels, setup)
    except BenchmarkError as error:
        print(f"benchmark error: {error} (files kept in {work})", file=sys.stderr)
        return EXIT_BENCHMARK_ERROR
    lines, met = report(single, station)
    print("\n".join(lines))
    if args.keep:
        print(f"files kept in {work}")
    else:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
