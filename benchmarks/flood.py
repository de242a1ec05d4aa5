"""Served box under a keep-alive flood: RSS, report jitter, shutdown; and the --speed ceiling.

    python benchmarks/flood.py [--megabytes 10] [--seconds 30] [--part flood|speeds|stuck]...

(a) **flood** — ``spasim serve --tcp 127.0.0.1:0 --speed 1``; this process connects, waits
    for the box's first report, then sends ``--megabytes`` of ``A5 0B 00 B0`` keep-alives
    spread over ``--seconds`` (default 30: ~350× what the line carries) while reading
    everything back. Prints the server's RSS
    before/after (``/proc/<pid>/status``), the flood's duration and rate, and the 0x06
    inter-arrival jitter during the flood (|interval − period|, p50/p99/max, wall time),
    then SIGTERM → exit time. Targets: RSS growth < 20 MB, jitter p99 < 5 ms, exit < 1 s.
(b) **speeds** — for each ``--speed`` in a ladder (beyond the CLI's bound too), a served
    box for 3 wall seconds after boot, idle and under a keep-alive flood: reports received
    vs. expected, the server's CPU share, SIGINT → exit. The ceiling of ``--speed`` is the
    highest speed whose reports all arrive, flooded, with CPU to spare.
(c) **stuck** — a client that floods at --speed 1000 and never reads (4 KB receive
    buffer): time until the server hangs up on it, then SIGINT → exit time. Target < 1 s.

Loopback only. Exit status 0 when every target was met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from protocols.mspa import Command, Frame, FrameDecoder
from spasim.cli.serve import SPEED_RANGE
from spasim.profiles import load_profile
from spasim.pytest_plugin import ServedUnit, start_served

KEEPALIVE = bytes(Frame(Command.KEEPALIVE, 0))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


_UNBOUNDED = (
    "import spasim.cli.serve as c; c.SPEED_RANGE = (1e-9, 1e9); "
    "import sys; from spasim.cli import main; sys.exit(main())"
)


def serve(*arguments: str, speed: float) -> tuple[ServedUnit, socket.socket]:
    argv = ["serve", "--tcp", "127.0.0.1:0", "--speed", str(speed), *arguments]
    if speed > SPEED_RANGE[1]:
        # Beyond the CLI's bound on purpose: this is how the bound was chosen.
        process = subprocess.Popen(
            [sys.executable, "-c", _UNBOUNDED, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        served = ServedUnit(process, line.removeprefix("listening on "), "tcp", speed, "")
    else:
        served = start_served(argv, transport="tcp", speed=speed)
    host, _, port = served.address.rpartition(":")
    return served, socket.create_connection((host, int(port)), timeout=10)


def stop_time(served: ServedUnit, signum: int) -> float:
    start = time.monotonic()
    served.process.send_signal(signum)
    try:
        served.process.wait(30)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
        return float("inf")
    elapsed = time.monotonic() - start
    if served.log_path:
        served.discard()
    return elapsed


def flood(megabytes: float, seconds: float) -> bool:
    period = load_profile("premium-4").link_report_period_s
    served, sock = serve(speed=1.0)
    decoder = FrameDecoder()
    sock.settimeout(10)
    while not any(f.command == Command.WATER_TEMP for f in decoder.feed(sock.recv(4096))):
        pass
    sock.setblocking(False)
    before = rss_mb(served.process.pid)
    block = KEEPALIVE * 4096
    target = int(megabytes * 1e6)
    sent = 0
    reports: list[float] = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        # Spread evenly over the window (still ~350 times what the line carries).
        if sent < target * min(1.0, (time.monotonic() - start) / (seconds * 0.95)):
            with contextlib.suppress(BlockingIOError):
                sent += sock.send(block)
        else:
            time.sleep(0.0005)
        with contextlib.suppress(BlockingIOError):
            data = sock.recv(65536)
            now = time.monotonic()
            reports += [now for f in decoder.feed(data) if f.command == Command.WATER_TEMP]
    elapsed = time.monotonic() - start
    after = rss_mb(served.process.pid)
    sock.close()
    exit_s = stop_time(served, signal.SIGTERM)
    jitter = sorted(abs((b - a) - period) * 1000 for a, b in itertools.pairwise(reports))
    p99 = jitter[min(len(jitter) - 1, int(len(jitter) * 0.99))] if jitter else float("inf")
    print(
        f"flood: {sent / 1e6:.1f} MB of keep-alives in {elapsed:.1f} s "
        f"({sent / 1e6 / elapsed:.1f} MB/s offered)"
    )
    print(f"  RSS {before:.1f} MB -> {after:.1f} MB (growth {after - before:+.1f} MB; < 20 MB)")
    if jitter:
        print(
            f"  0x06 reports during the flood: {len(reports)}; |interval - {period:g} s| "
            f"p50 {statistics.median(jitter):.2f} ms, p99 {p99:.2f} ms, max {jitter[-1]:.2f} ms"
            " (p99 < 5 ms)"
        )
    print(f"  SIGTERM -> exit in {exit_s * 1000:.0f} ms (< 1000 ms)")
    return after - before < 20 and p99 < 5 and exit_s < 1.0


def speeds() -> bool:
    period = load_profile("premium-4").link_report_period_s
    for speed in (10.0, 100.0, 1000.0, 3000.0, 10000.0, 100000.0):
        for flooded in (False, True):
            if flooded and speed > 3000:
                continue
            served, sock = serve(speed=speed)
            decoder = FrameDecoder()
            sock.settimeout(10)
            while not any(f.command == Command.WATER_TEMP for f in decoder.feed(sock.recv(4096))):
                pass  # booted
            sock.setblocking(False)
            cpu0 = cpu_seconds(served.process.pid)
            start = time.monotonic()
            count = 0
            while time.monotonic() - start < 3.0:
                if flooded:
                    with contextlib.suppress(BlockingIOError):
                        sock.send(KEEPALIVE * 1024)
                else:
                    time.sleep(0.001)
                with contextlib.suppress(BlockingIOError):
                    data = sock.recv(65536)
                    count += sum(f.command == Command.WATER_TEMP for f in decoder.feed(data))
            wall = time.monotonic() - start
            cpu = (cpu_seconds(served.process.pid) - cpu0) / wall
            sock.close()
            exit_s = stop_time(served, signal.SIGINT)
            expected = wall * speed / period
            print(
                f"speed {speed:>7g}{' flooded' if flooded else '        '}: {count:>6} of "
                f"~{expected:,.0f} reports ({count / expected:6.1%}), server CPU {cpu:5.1%} of a "
                f"core, SIGINT -> exit {exit_s * 1000:.0f} ms"
            )
    return True


def stuck() -> bool:
    served, sock = serve(speed=1000.0)
    sock.close()
    peer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, _, port = served.address.rpartition(":")
    peer.connect((host, int(port)))
    peer.setblocking(False)
    start = time.monotonic()
    dropped = None
    while time.monotonic() - start < 20.0:
        try:
            peer.send(KEEPALIVE * 4096)
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            dropped = time.monotonic() - start
            break
    exit_s = stop_time(served, signal.SIGINT)
    peer.close()
    shown = "not within 20 s" if dropped is None else f"after {dropped:.1f} s"
    print(
        f"stuck client at --speed 1000: hung up on {shown}; SIGINT -> exit {exit_s * 1000:.0f} ms"
    )
    return exit_s < 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="flood window (wall s)")
    parser.add_argument("--part", action="append", choices=["flood", "speeds", "stuck"])
    args = parser.parse_args()
    parts = args.part or ["flood", "speeds", "stuck"]
    ok = True
    if "flood" in parts:
        ok &= flood(args.megabytes, args.seconds)
    if "speeds" in parts:
        ok &= speeds()
    if "stuck" in parts:
        ok &= stuck()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
