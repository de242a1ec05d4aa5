"""Simulator benchmark: accelerated box runs, fleet physics, and a served box in real time.

    python benchmarks/sim.py [--quick] [--seconds 60] [--repeat 3] [--part sim|physics|serve]...
                             [--profile]

(a) **sim** — 24 simulated hours of a box whose panel holds 38 °C (heater and filter on,
    1 Hz temperature and flow reports, the 7.5 s state cycle, keep-alives) on a
    :class:`~protocols.driver.SimulatedDriver`: wall time and simulated/real ratio, best of
    ``--repeat``. Target ≥ 100,000× real time (24 h in < 0.864 s). Also the same day through
    :func:`spasim.simulation.simulate` (the ``spasim simulate`` trace recorder on top). When the
    target is missed (or with ``--profile``) the top costs of one run are printed (cProfile,
    by own time) so the fix can aim at them.
(b) **physics** — 1,000 boards × 24 h on the vectorised :class:`WaterBank` (below) in
    1-minute steps, each board with its own day: ambient 5–35 °C, 700 or 930 L, a set-point
    30–40 °C held by a 1 °C-hysteresis thermostat, heating allowed only in the board's timer
    windows (cheap-tariff hours), and one 10-minute bubble session (blower loss, UA × 2).
    Target < 1 s. Board 0 is replayed on the scalar :class:`~spasim.physics.Water` as a
    cross-check (the two solutions must agree to rounding).
(c) **serve** — ``spasim serve --speed 1`` on a pty for ``--seconds`` (default 60): this
    process plays the panel through pyserial (handshake, state cycle, keep-alive: the
    traffic a real client makes), timestamps every decoded 0x06 frame, and reads the
    server's CPU time (utime + stime) from ``/proc/<pid>/stat`` over the window. Targets:
    < 3 % of one core, p99 of |0x06 inter-arrival − the report period| < 5 ms (the model's
    ``link_report_period_s``: premium-4 reports every 1.0132 s, not 1.0 s — against 1.0 s
    every interval would look 13 ms late).

``--quick``: (a) 6 simulated hours once, (c) 10 s. Exit status 0 when every target measured
was met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

# Run as a script, this file's folder comes first on sys.path, and benchmarks/bench.py would
# shadow the bench package for anything that imports it.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import numpy as np
import numpy.typing as npt

from protocols.driver import RealTimeDriver
from protocols.links import open_link
from protocols.mspa import Command, Frame, RemoteState
from protocols.mspa.remote import RemoteDuty
from protocols.ports import LinkPort
from spasim.physics import (
    SPECIFIC_HEAT_J_PER_KG_K,
    FloatArray,
    Water,
    equilibrium,
    settle,
)
from spasim.profiles import load_profile
from spasim.remote import VirtualRemote
from spasim.rig import build_box_rig
from spasim.simulation import Scenario, simulate

SIM_TARGET_RATIO = 100_000.0
PHYSICS_TARGET_S = 1.0
SERVE_CPU_TARGET = 0.03
SERVE_JITTER_P99_TARGET_S = 0.005
SETPOINT = 38
SERVED_PROFILE = "premium-4"
SERVED = ("serve", "--pty", "--speed", "1", "--profile", SERVED_PROFILE)
START_WATER_C = 30.0


@dataclass
class Line:
    """One row of the result table."""

    what: str
    figure: str
    target: str = ""
    met: bool | None = None

    @property
    def status(self) -> str:
        return "" if self.met is None else ("met" if self.met else "MISSED")


# ----------------------------------------------------------------------- (a) sim


def box_day(hours: float) -> tuple[float, int]:
    """One run of box + panel for ``hours``: (wall seconds, scheduler events)."""
    rig = build_box_rig("premium-4", water_c=START_WATER_C)
    remote = VirtualRemote(
        rig.scheduler,
        rig.port,
        profile="premium-4",
        state=RemoteState(heater=True, filter=True, setpoint=SETPOINT),
    )
    remote.start()
    began = time.perf_counter()
    rig.driver.sleep(hours * 3600.0)
    wall = time.perf_counter() - began
    if remote.duty.water_c is None or not remote.duty.handshake_done:
        raise RuntimeError("the box and the panel never talked: the benchmark measured nothing")
    rig.box.close()
    return wall, rig.scheduler.events_run


def bench_sim(hours: float, repeat: int) -> tuple[list[Line], bool]:
    runs = [box_day(hours) for _ in range(repeat)]
    wall = min(w for w, _ in runs)
    events = runs[0][1]
    ratio = hours * 3600.0 / wall
    met = ratio >= SIM_TARGET_RATIO
    lines = [
        Line(
            f"(a) box + panel {hours:g} h, thermostat {SETPOINT} °C",
            f"{wall:.3f} s wall, {ratio:,.0f}× real time",
            f"≥ {SIM_TARGET_RATIO:,.0f}× (< {hours * 3600 / SIM_TARGET_RATIO:.3f} s)",
            met,
        ),
        Line(
            "    events",
            f"{events:,} ({events / (hours * 3600):.2f}/sim s, {wall / events * 1e6:.2f} µs each)",
        ),
    ]
    began = time.perf_counter()
    trace = simulate(Scenario(hours=hours, setpoint=SETPOINT, water_c=START_WATER_C))
    traced = time.perf_counter() - began
    lines.append(
        Line(
            "    same day via `spasim simulate` trace",
            f"{traced:.3f} s wall, {hours * 3600 / traced:,.0f}× ({len(trace.rows):,} rows)",
        )
    )
    return lines, met


def profile_sim(hours: float, top: int = 14) -> str:
    """cProfile of one box + panel run: the ``top`` functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    box_day(hours)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    start = text.find("   ncalls")
    return text[start:].rstrip() if start >= 0 else text


# ----------------------------------------------------------------------- (b) physics


class WaterBank:
    """Many boards' water as arrays: one :meth:`advance` moves every board ``dt`` seconds.

    The fleet's counterpart of the scalar :class:`~spasim.physics.Water`, on the same closed
    form (:func:`~spasim.physics.settle` with ``np.exp``), for a day of 1,000 boards where a
    Python loop over boards would dominate. Inputs are plain arrays the caller may change
    between calls.
    """

    def __init__(
        self,
        litres: npt.ArrayLike,
        temp_c: npt.ArrayLike,
        ambient_c: npt.ArrayLike,
        ua_w_per_k: npt.ArrayLike,
    ) -> None:
        self.capacity: FloatArray = np.asarray(litres, dtype=np.float64) * SPECIFIC_HEAT_J_PER_KG_K
        n = self.capacity.shape
        self.temp_c: FloatArray = np.broadcast_to(np.asarray(temp_c, np.float64), n).copy()
        self.ambient_c: FloatArray = np.broadcast_to(np.asarray(ambient_c, np.float64), n).copy()
        self.ua_w_per_k: FloatArray = np.broadcast_to(np.asarray(ua_w_per_k, np.float64), n).copy()
        self.heater_w: FloatArray = np.zeros(n)
        self.loss_w: FloatArray = np.zeros(n)

    def equilibrium(self) -> FloatArray:
        return equilibrium(self.ambient_c, self.heater_w, self.loss_w, self.ua_w_per_k)

    def advance(self, dt: float | FloatArray) -> FloatArray:
        """Move every board ``dt`` seconds (scalar or per board) and return the temperatures."""
        rate = self.ua_w_per_k / self.capacity
        dt_array = np.broadcast_to(np.asarray(dt, np.float64), self.capacity.shape)
        self.temp_c = settle(self.temp_c, self.equilibrium(), rate, dt_array, np.exp)
        return self.temp_c


def fleet_day(
    boards: int = 1000, hours: float = 24.0, step_s: float = 60.0, seed: int = 0
) -> tuple[float, np.ndarray, dict[str, np.ndarray]]:
    """1,000 boards' water through a day: (wall seconds of the stepping, temperatures
    [step, board], the per-board inputs for the cross-check)."""
    p = load_profile("premium-4")
    rng = np.random.default_rng(seed)
    steps = round(hours * 3600.0 / step_s)
    litres = rng.choice([700.0, 930.0], boards)
    ambient = rng.uniform(5.0, 35.0, boards)
    setpoint = rng.integers(30, 41, boards).astype(np.float64)
    start = ambient + rng.uniform(0.0, 8.0, boards)
    ua = np.full(boards, p.thermal_ua_w_per_k)
    # Timer windows: 1–3 heating windows a day per board (cheap-tariff hours), 2–8 h each.
    minute = (np.arange(steps) * step_s / 60.0) % 1440.0
    allowed = np.zeros((steps, boards), dtype=bool)
    for board in range(boards):
        for _ in range(int(rng.integers(1, 4))):
            begin = rng.uniform(0, 1440)
            length = rng.uniform(120, 480)
            allowed[:, board] |= (minute - begin) % 1440.0 < length
    # One 10-minute bubble session per board in the evening.
    bubble_start = rng.uniform(17 * 60, 22 * 60, boards)
    bubbling = ((minute[:, None] - bubble_start[None, :]) % 1440.0) < 10.0

    heater_w = p.heater_stage2_w
    bank = WaterBank(litres, start, ambient, ua)
    temps = np.empty((steps + 1, boards))
    temps[0] = bank.temp_c
    demand = np.ones(boards, dtype=bool)
    on_log = np.empty((steps, boards), dtype=bool)
    began = time.perf_counter()
    for k in range(steps):
        water = bank.temp_c
        demand = np.where(water >= setpoint, False, np.where(water <= setpoint - 1.0, True, demand))
        on = demand & allowed[k]
        on_log[k] = on
        blowing = bubbling[k]
        bank.heater_w = np.where(on, heater_w, 0.0)
        bank.loss_w = np.where(blowing, p.blower_loss_w, 0.0)
        bank.ua_w_per_k = np.where(blowing, ua * p.thermal_blower_factor, ua)
        temps[k + 1] = bank.advance(step_s)
    wall = time.perf_counter() - began
    inputs = {
        "litres": litres,
        "ambient": ambient,
        "start": start,
        "on": on_log,
        "bubbling": bubbling,
    }
    return wall, temps, inputs


def scalar_replay(board: int, inputs: dict[str, np.ndarray], step_s: float) -> list[float]:
    """Board ``board``'s day on the scalar closed form, same inputs per step."""
    p = load_profile("premium-4")
    water = Water(
        float(inputs["litres"][board]),
        float(inputs["start"][board]),
        float(inputs["ambient"][board]),
        p.thermal_ua_w_per_k,
        blower_factor=p.thermal_blower_factor,
    )
    temps = [water.at(0.0)]
    for k in range(inputs["on"].shape[0]):
        now = k * step_s
        blowing = bool(inputs["bubbling"][k, board])
        water.update(
            now,
            heater_w=p.heater_stage2_w if inputs["on"][k, board] else 0.0,
            bubbling=blowing,
            loss_w=p.blower_loss_w if blowing else 0.0,
        )
        temps.append(water.at(now + step_s))
    return temps


def bench_physics(boards: int = 1000, hours: float = 24.0) -> tuple[list[Line], bool]:
    step_s = 60.0
    walls = []
    for _ in range(3):
        wall, temps, inputs = fleet_day(boards, hours, step_s)
        walls.append(wall)
    wall = min(walls)
    replay = np.asarray(scalar_replay(0, inputs, step_s))
    deviation = float(np.max(np.abs(replay - temps[:, 0])))
    heat_kwh = float(inputs["on"].sum()) * step_s * load_profile("premium-4").heater_stage2_w
    heat_kwh /= 3.6e6 * boards
    swing = float(np.mean(temps.max(axis=0) - temps.min(axis=0)))
    met = wall < PHYSICS_TARGET_S and deviation < 1e-9
    steps = temps.shape[0] - 1
    heating = float(inputs["on"].mean())
    return [
        Line(
            f"(b) physics {boards:,} boards × {hours:g} h, 1-min steps",
            f"{wall:.3f} s wall ({boards * steps / wall / 1e6:.1f} M board-steps/s)",
            f"< {PHYSICS_TARGET_S:g} s",
            met,
        ),
        Line(
            "    fleet day",
            f"heater on {heating:.0%} of board-minutes, {heat_kwh:.1f} kWh/board, "
            f"water swing {swing:.1f} °C",
        ),
        Line("    board 0 vs scalar Water", f"max |Δ| {deviation:.1e} °C", "< 1e-9 °C"),
    ], met


# ----------------------------------------------------------------------- (c) serve


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` from /proc (fields 14 and 15, after the command name)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _listening_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    stdout = process.stdout
    assert stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError("spasim serve printed no 'listening on' line")
            chunk = os.read(stdout.fileno(), 1)
            if not chunk:
                raise RuntimeError("spasim serve ended before listening")
            line += chunk
    return line.decode().strip()


def bench_serve(seconds: float) -> tuple[list[Line], bool]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "spasim", *SERVED],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            return _measure_served(process, seconds)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _measure_served(process: subprocess.Popen[bytes], seconds: float) -> tuple[list[Line], bool]:
    line = _listening_line(process, 15.0)
    path = line.removeprefix("listening on ")
    driver = RealTimeDriver(speed=1.0)
    link = open_link(path)  # pyserial, 9600 8N1, as any client opens it
    port = LinkPort(driver, link)
    arrivals: list[float] = []
    recording = [False]

    def on_frame(_: float, sender: str, frame: Frame) -> None:
        """Wall time of each decoded 0x06, taken as the bytes are read (select → read)."""
        if recording[0] and sender == "box" and frame.command == Command.WATER_TEMP:
            arrivals.append(time.monotonic())

    duty = RemoteDuty(
        driver.scheduler,
        port,
        state=RemoteState(heater=True, filter=True, setpoint=SETPOINT),
        on_frame=on_frame,
    )
    duty.start()
    try:
        # Boot (6 s) and handshake first: the window measures steady serving.
        if not driver.wait_until(lambda: duty.handshake_done and duty.water_c is not None, 20.0):
            raise RuntimeError("no handshake with the served box")
        driver.sleep(2.0)
        cpu0, wall0 = _cpu_seconds(process.pid), time.monotonic()
        recording[0] = True
        driver.sleep(seconds)
        cpu1, wall1 = _cpu_seconds(process.pid), time.monotonic()
    finally:
        duty.stop()
        port.close()
        driver.close()
    share = (cpu1 - cpu0) / (wall1 - wall0)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    if len(gaps) < max(3, int(seconds * 0.8)):
        raise RuntimeError(f"only {len(arrivals)} temperature reports in {seconds:g} s")
    period = load_profile(SERVED_PROFILE).link_report_period_s
    deviation = sorted(abs(gap - period) for gap in gaps)
    p50 = statistics.median(deviation)
    p99 = deviation[min(len(deviation) - 1, round(0.99 * (len(deviation) - 1)))]
    cpu_met = share < SERVE_CPU_TARGET
    jitter_met = p99 < SERVE_JITTER_P99_TARGET_S
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    return [
        Line(
            f"(c) serve --speed 1 on a pty, {seconds:g} s",
            f"CPU {share:.2%} of a core ({cpu1 - cpu0:.2f} s, ±{tick:g} s ticks)",
            f"< {SERVE_CPU_TARGET:.0%}",
            cpu_met,
        ),
        Line(
            f"    0x06 interval − {period:g} s",
            f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, max {deviation[-1] * 1e3:.2f} ms "
            f"({len(gaps)} intervals)",
            f"p99 < {SERVE_JITTER_P99_TARGET_S * 1e3:g} ms",
            jitter_met,
        ),
    ], cpu_met and jitter_met


# ----------------------------------------------------------------------- main


def print_table(lines: list[Line]) -> None:
    headers = ("benchmark", "figure", "target", "")
    rows = [(line.what, line.figure, line.target, line.status) for line in lines]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(3)]
    for row in [headers, *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 h for (a), 10 s for (c), once")
    parser.add_argument("--seconds", type=float, default=None, help="(c) window (default 60)")
    parser.add_argument("--repeat", type=int, default=3, help="(a) runs, best counts")
    parser.add_argument(
        "--part",
        action="append",
        choices=("sim", "physics", "serve"),
        help="run only these parts (repeatable; default all)",
    )
    parser.add_argument("--profile", action="store_true", help="(a) always print the profile")
    args = parser.parse_args()
    parts = args.part or ["sim", "physics", "serve"]
    hours = 6.0 if args.quick else 24.0
    repeat = 1 if args.quick else max(1, args.repeat)
    seconds = args.seconds if args.seconds is not None else (10.0 if args.quick else 60.0)

    lines: list[Line] = []
    ok = True
    runs: list[tuple[str, Callable[[], tuple[list[Line], bool]]]] = [
        ("sim", lambda: bench_sim(hours, repeat)),
        ("physics", bench_physics),
        ("serve", lambda: bench_serve(seconds)),
    ]
    sim_met = True
    for name, run in runs:
        if name not in parts:
            continue
        got, met = run()
        lines += got
        ok = ok and met
        if name == "sim":
            sim_met = met
    print_table(lines)
    if "sim" in parts and (args.profile or not sim_met):
        print(
            f"\n(a) top costs of one {hours:g} h run (cProfile, own time; profiling ≈ 3× slower):"
        )
        print(profile_sim(hours))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
