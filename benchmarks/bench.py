"""Bench benchmark: wall time of the ``full`` plan on a virtual box and of the coverage matrix.

    python benchmarks/bench.py [--repeat 5] [--runs 10]

Targets (issue 4): ``full`` on a virtual box — auto-off wait and heater rise included —
under 3 s; the whole coverage matrix (every catalogue fault plus ``--runs`` healthy boxes)
under 60 s. Prints the best and median of ``--repeat`` full runs per profile, the simulated
time and events they cover, and the matrix time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

# Run as a script, this file's folder comes first on sys.path and this module ("bench")
# would shadow the bench package it measures.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

from bench.coverage import run_coverage
from bench.plans import load_plan
from bench.runner import Runner
from bench.target import virtual_box_target
from spasim.profiles import available_profiles

FULL_TARGET_S = 3.0
MATRIX_TARGET_S = 60.0


def time_full(profile: str, repeat: int) -> tuple[list[float], float, int, str]:
    plan = load_plan("full")
    times: list[float] = []
    simulated, events, verdict = 0.0, 0, ""
    for seed in range(repeat):
        target = virtual_box_target(profile, seed=seed)
        began = time.perf_counter()
        record = Runner(plan, target, station="benchmark").run()
        times.append(time.perf_counter() - began)
        simulated = target.driver.now()
        events = target.driver.scheduler.events_run
        verdict = record.verdict
        target.close()
    return times, simulated, events, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="full runs per profile")
    parser.add_argument("--runs", type=int, default=10, help="healthy boxes in the matrix")
    args = parser.parse_args()
    worst = 0.0
    for profile in available_profiles():
        times, simulated, events, verdict = time_full(profile, args.repeat)
        worst = max(worst, max(times))
        print(
            f"full on {profile:13} best {min(times):.3f} s  median {statistics.median(times):.3f} s"
            f"  ({simulated:.0f} simulated s, {events} events, {verdict})"
        )
    began = time.perf_counter()
    result = run_coverage(args.runs, seed=0)
    matrix = time.perf_counter() - began
    cases = len(result.faults) + len(result.healthy)
    print(
        f"coverage matrix: {cases} runs in {matrix:.2f} s "
        f"({'OK' if result.ok else 'FAILED'}, {len(result.false_fails)} false fails)"
    )
    print(
        f"targets: full ≤ {FULL_TARGET_S:g} s (worst {worst:.3f} s) "
        f"{'met' if worst <= FULL_TARGET_S else 'MISSED'}; "
        f"matrix ≤ {MATRIX_TARGET_S:g} s {'met' if matrix <= MATRIX_TARGET_S else 'MISSED'}"
    )
    return 0 if worst <= FULL_TARGET_S and matrix <= MATRIX_TARGET_S and result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
