"""Records store benchmark: years of a busy service centre in one file, then the queries a
technician runs every day.

What it builds, chosen to look like real use (``--runs N``, default 100,000 — the size the
records issue asks about — about 4 minutes on a 2-core machine, nearly all of it building
the file; ``--runs 20000`` for a quick look):

* one unit per 4 runs, one order per 2 runs: a diagnosis run (dead filter pump) and a
  verification run per order; closed orders walk received → diagnosed → repaired → verified
  → handed back; the newest ``--open`` orders (default 300) are still open, a third of them
  never contacted and some past their promised date;
* every run goes through the runner's API — ``begin_run``, ``add_step`` for each of its 5
  steps, ``finish_run`` — with 5 steps × 2 measurements = 10 measurements, a 20-point trace
  and a 40-frame capture (≈ 6 KB of canonical JSON per run; a real 30-minute capture is
  larger, which costs disk, not query time: listings never read ``record_json``).
  The first ``--sample`` runs commit every call as the runner does (that rate is the one
  that matters for a live bench); the rest are grouped by the tests' ``batch(store)`` so the
  file fills in reasonable time. The records and both helpers are the tests' own
  (``tests/support/records.py``).

Then it times ``spabench history SERIAL`` and ``spabench order list --overdue``: the store
query alone and the whole command in-process (parsing, opening the file, rich rendering —
not the interpreter's start-up). Target: each query under 100 ms.

Run: ``python benchmarks/records.py [--runs N] [--sample N] [--open N] [--keep PATH]``.
"""

# ruff: noqa: E402  (the bench imports must follow the sys.path fix below)
from __future__ import annotations

import argparse
import contextlib
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

# A script's own folder comes first on sys.path, and benchmarks/bench.py would shadow the
# bench package: drop the folder (this script imports nothing from it). The records it
# stores are the tests' own (tests/support/records.py), so put the tests' folder on the path.
HERE = Path(__file__).parent.resolve()
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent / "tests"))

from support.records import FIVE_STEPS, batch, store_run, varied_record

from bench.cli import main as spabench
from bench.records.orders import overdue_orders
from bench.records.store import Store
from bench.testing.record import UnitInfo

# Pre-built records (measurements vary between them) so the figures measure the store,
# not this script building dataclasses.
_TEMPLATE_RNG = random.Random(0)
TEMPLATES = {
    fail: [varied_record(_TEMPLATE_RNG, fail) for _ in range(64)] for fail in (True, False)
}


class Rates:
    """Wall time spent inside the store's run API, and what it stored."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.runs = 0

    def line(self, label: str) -> str:
        per_s = self.runs / self.seconds if self.seconds else 0.0
        transactions = (len(FIVE_STEPS) + 2) * per_s
        return (
            f"  {label}: {self.runs:,} runs in {self.seconds:.1f} s = {per_s:,.0f} runs/s "
            f"({transactions:,.0f} begin/step/finish calls/s, {per_s * 10:,.0f} measurements/s)"
        )


def store_runs(
    store: Store,
    rng: random.Random,
    first: int,
    serial: str,
    order_id: int,
    opened: datetime,
    indices: range,
    rates: Rates,
) -> None:
    """Run 0 of an order is the diagnosis (fails: dead pump, +2 h), run 1 the verification
    (+5 h); ``indices`` says which of them to store now."""
    for index in indices:
        fail = index == 0
        at = opened + timedelta(hours=2 + 3 * index)
        record = replace(
            rng.choice(TEMPLATES[fail]),
            record_id=f"bench-{first + index:07d}",
            unit=UnitInfo(serial=serial, profile="premium-4", model="MSpa Premium 4"),
            started_at=at.isoformat(),
            finished_at=(at + timedelta(minutes=5)).isoformat(),
        )
        t = time.perf_counter()
        store_run(store, record, order_id)
        rates.seconds += time.perf_counter() - t
        rates.runs += 1


def populate(store: Store, runs: int, open_orders: int, sample: int, seed: int = 1) -> list[str]:
    """Fill ``store``; returns the unit serials. The first ``sample`` runs commit every call,
    as the runner does; the rest go through the same calls grouped by ``batch(store)``."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    units, orders = max(1, runs // 4), max(1, runs // 2)
    start = now - timedelta(days=3 * 365)
    serials = [f"MS-{index:06d}" for index in range(units)]
    t0 = time.perf_counter()
    with batch(store):
        for serial in serials:
            purchased = start.date() - timedelta(days=rng.randrange(700))
            store.add_unit(serial, "premium-4", purchased, now=start)
    print(f"units: {units:,} in {time.perf_counter() - t0:.1f} s (batched)")
    live, batched = Rates(), Rates()
    run_number, order_index, t_all = 0, 0, time.perf_counter()
    while order_index < orders:
        in_sample = run_number < sample
        chunk = range(order_index, min(orders, order_index + (50 if in_sample else 1000)))
        with contextlib.nullcontext() if in_sample else batch(store):
            for index in chunk:
                serial = serials[index % units]
                is_open = index >= orders - open_orders
                opened = start + timedelta(minutes=index * (3 * 365 * 24 * 60) // orders)
                promised = None
                if is_open:
                    opened = now - timedelta(days=rng.uniform(0, 8))
                    promised = (opened + timedelta(days=rng.choice((2, 5, 10)))).date()
                order_id = store.open_order(
                    serial, "won't heat", agreement="repair", promised=promised, now=opened
                )
                if not is_open or rng.random() > 0.33:
                    # never in the future; a closed order's events in time order: contact,
                    # pump, then statuses
                    since = (now - opened).total_seconds() / 3600
                    within = min(60, since) if is_open else 3.5
                    hours = rng.uniform(min(1, within), within)
                    store.add_contact(order_id, now=opened + timedelta(hours=hours))
                count = min(2, runs - run_number)
                rates = live if in_sample else batched
                store_runs(store, rng, run_number, serial, order_id, opened, range(1), rates)
                if not is_open and count == 2:
                    # the pump is fitted after the diagnosis (+2 h) and before its verification
                    # run (+5 h): an order's events are entered in the order they happened
                    store.add_part(order_id, "B9300929", now=opened + timedelta(hours=4))
                if count == 2:
                    store_runs(store, rng, run_number, serial, order_id, opened, range(1, 2), rates)
                run_number += count
                if not is_open and count == 2:
                    flow = ("diagnosed", "repaired", "verified", "handed-back")
                    for step, status in enumerate(flow, start=1):
                        store.set_status(order_id, status, now=opened + timedelta(hours=6 + step))
        order_index = chunk.stop
        if order_index % 10_000 == 0:
            print(f"  … {run_number:,} runs after {time.perf_counter() - t_all:.0f} s", flush=True)
    print(
        f"orders: {orders:,} ({open_orders} open); runs: {run_number:,} in "
        f"{time.perf_counter() - t_all:.0f} s with orders, contacts and status changes"
    )
    print("run inserts through begin_run / add_step ×5 / finish_run (10 measurements each):")
    print(live.line("committed per call (the runner)"))
    print(batched.line("grouped by batch(store) (bulk load)"))
    return serials


def timed(actions: list[Callable[[], object]]) -> tuple[float, float]:
    """(median, worst) wall time in ms, one call per action after a warm-up call."""
    actions[0]()
    samples = []
    for action in actions:
        t = time.perf_counter()
        action()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), max(samples)


def command(*args: str) -> Callable[[], object]:
    """``spabench ARGS`` in-process, output discarded; an exit status other than 0 aborts."""

    def run() -> object:
        with contextlib.redirect_stdout(io.StringIO()):
            code = spabench(list(args))
        if code != 0:
            raise SystemExit(f"spabench {' '.join(args)} exited {code}")
        return code

    return run


def size_mb(path: Path) -> float:
    files = [path, Path(f"{path}-wal")]
    return sum(item.stat().st_size for item in files if item.exists()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000, help="bench runs to store")
    parser.add_argument("--open", type=int, default=300, help="orders still open")
    parser.add_argument(
        "--sample", type=int, default=2000, help="runs committed per call, as the runner does"
    )
    parser.add_argument("--keep", type=Path, help="write the database here and keep it")
    args = parser.parse_args()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.keep or Path(scratch) / "records.sqlite3"
        print(f"database: {path}")
        with Store(path) as store:
            serials = populate(store, args.runs, min(args.open, args.runs // 2), args.sample)
            print(f"file size: {size_mb(path):,.0f} MB")
            picks = random.Random(2).sample(serials, min(20, len(serials)))
            now = datetime.now().astimezone()
            overdue = len(overdue_orders(store, now))
            runs_each = statistics.mean(len(store.runs_for_unit(serial)) for serial in picks)
            history_q = timed([lambda s=serial: store.runs_for_unit(s) for serial in picks])
            overdue_q = timed([lambda: overdue_orders(store, now)] * 20)
        db = ("--db", str(path))
        history_c = timed([command("history", serial, *db) for serial in picks])
        overdue_c = timed([command("order", "list", "--overdue", *db)] * 20)
        print("\nmedian / worst of 20, ms (target: each query < 100 ms)")
        print(f"  history SERIAL ({runs_each:.0f} runs each, 20 units):")
        print(f"    query {history_q[0]:7.2f} / {history_q[1]:7.2f}")
        print(f"    whole command {history_c[0]:7.1f} / {history_c[1]:7.1f}")
        print(f"  order list --overdue ({overdue} overdue of {args.open} open orders):")
        print(f"    query {overdue_q[0]:7.2f} / {overdue_q[1]:7.2f}")
        print(f"    whole command {overdue_c[0]:7.1f} / {overdue_c[1]:7.1f}")
        print("  (whole command: parse, open the file, query, render the rich table; in-process)")
        worst = max(history_q[1], overdue_q[1])
        verdict = "OK" if worst < 100 else "SLOW"
        print(
            f"\n{verdict}: worst query {worst:.2f} ms; total {time.perf_counter() - t_start:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
