"""Bench benchmark: wall time of the ``full`` plan on a virtual box and of the coverage matrix.

    python benchmarks/bench.py [--repeat 5] [--matrix-runs 5000] [--workers N]

Targets: ``full`` on a virtual box — auto-off wait and heater rise included — under 3 s
(issue 4); a 5,000-run coverage matrix over every bench × profile (issue 9) under 60 s on
2 cores. Prints the best and median of ``--repeat`` full runs per profile and bench, the
simulated time and events they cover, the matrix's runs per second and its wall time.
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

from bench.testing.coverage import plan_cases, run_cases
from bench.testing.instruments.specs import INSTRUMENT_SETS
from bench.testing.plans import load_plan
from bench.testing.runner import Runner
from bench.testing.targets import virtual_box_target
from spasim.profiles import available_profiles

FULL_TARGET_S = 3.0
MATRIX_TARGET_S = 60.0


def time_full(profile: str, bench: str, repeat: int) -> tuple[list[float], float, int, str]:
    plan = load_plan("full")
    times: list[float] = []
    simulated, events, verdict = 0.0, 0, ""
    for seed in range(repeat):
        target = virtual_box_target(profile, seed=seed, instruments=INSTRUMENT_SETS[bench])
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
    parser.add_argument(
        "--matrix-runs", type=int, default=5000, help="runs in the coverage matrix (about)"
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    args = parser.parse_args()
    worst = 0.0
    for bench in ("sdm120", "person"):
        for profile in available_profiles():
            times, simulated, events, verdict = time_full(profile, bench, args.repeat)
            worst = max(worst, max(times))
            print(
                f"full on {profile:13} bench {bench:7} best {min(times):.3f} s  "
                f"median {statistics.median(times):.3f} s  "
                f"({simulated:.0f} simulated s, {events} events, {verdict})"
            )
    # Size the matrix: every cell's faults once, then healthy boxes up to the asked count.
    faults_only = len(plan_cases(healthy=0))
    cells = len(INSTRUMENT_SETS) * len(available_profiles())
    healthy = max(0, (args.matrix_runs - faults_only) // cells)
    seeds = 1
    cases = plan_cases(healthy=healthy, seeds=seeds, seed=0)
    result = run_cases(cases, workers=args.workers)
    matrix = result.seconds
    print(
        f"coverage matrix: {result.runs} runs ({len(result.faults)} faults, "
        f"{len(result.healthy)} healthy) in {matrix:.2f} s on {result.workers} worker(s) = "
        f"{result.runs / matrix:.0f} runs/s "
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
