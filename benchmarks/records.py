"""Records benchmark: years of a busy service centre filed in SQLite and on PostgreSQL, side
by side on the same data, then the queries a technician runs every day.

What it builds, chosen to look like real use (``--runs N``, default 100,000 — the size the
records issues ask about — nearly all of the time is building: on a shared 2-core machine
about 5 minutes for SQLite and 30 for PostgreSQL, whose every statement is a round trip;
``--runs 20000`` takes a fifth of that). Every backend gets the same data set: the same seed,
the same records, the same orders, the same "now".

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
  database fills in reasonable time. The records and both helpers are the tests' own
  (``tests/support/records.py``).

Then, per backend, it measures and prints in one table:

* the build time, and the run insert rates committed per call and grouped (bulk);
* ``spabench history SERIAL`` and ``spabench order list --overdue``: the store query alone and
  the whole command in-process (parsing, opening the records, rich rendering — not the
  interpreter's start-up), median and worst of ``--repeat``; target: each query under 100 ms;
* the database's size (the SQLite file after a WAL checkpoint; ``pg_database_size``);
* concurrent inserts: ``--writers K`` processes (default 8) each filing ``--writer-runs M``
  runs at once into the built database, committed per call as benches do: runs/s in total
  (SQLite takes one writer at a time on its file lock; a server takes them side by side).

PostgreSQL (``--backends``, default ``sqlite,postgresql``): a throw-away server on 127.0.0.1,
started as the tests start theirs (``tests/support/postgres.py``) but as durable as the SQLite
file (WAL, ``synchronous=NORMAL``: no flush per commit; an OS crash may lose the last commits,
never corrupts): ``fsync`` and ``full_page_writes`` on, ``synchronous_commit`` off, autovacuum
on, and ``ANALYZE`` after the build (what autovacuum does soon after a bulk load). Or
``--pg-url URL``: an existing server, where the benchmark creates a database of its own (the
role needs CREATEDB) and drops it at the end — only that one: the database named in the URL
is only connected to. Without server binaries and ``--pg-url``, PostgreSQL is skipped, said
in one line.

Run: ``python benchmarks/records.py [--runs N] [--backends sqlite,postgresql] [--pg-url URL]
[--sample N] [--open N] [--repeat N] [--writers K] [--writer-runs M] [--keep PATH]``.
"""

# ruff: noqa: E402  (the bench imports must follow the sys.path fix below)
from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import queue
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, NoReturn
from urllib.parse import urlsplit, urlunsplit

# A script's own folder comes first on sys.path, and benchmarks/bench.py would shadow the
# bench package: drop the folder (this script imports nothing from it). The records it
# stores are the tests' own (tests/support/records.py), so put the tests' folder on the path.
HERE = Path(__file__).parent.resolve()
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent / "tests"))

import psycopg
from support.postgres import INSTALL_HINT, find_bindir, start_server
from support.records import batch, store_run, varied_record

from bench.cli import main as spabench
from bench.records.database import is_server_url
from bench.records.orders import overdue_orders
from bench.records.store import Store
from bench.testing.record import TestRecord, UnitInfo

BACKENDS = ("sqlite", "postgresql")
BENCH_SERVER = {
    "fsync": "on",
    "full_page_writes": "on",
    "synchronous_commit": "off",
    "autovacuum": "on",
}
"""The throw-away server's settings over the tests' (which turn durability off)."""
DATABASE = "spabench_benchmark"
WRITER_WAIT = 600.0
"""Wall seconds the concurrent writers may take to start and finish (never reached when
healthy: 8 × 50 runs take seconds)."""

# Pre-built records (measurements vary between them) so the figures measure the store,
# not this script building dataclasses.
_TEMPLATE_RNG = random.Random(0)
TEMPLATES = {
    fail: [varied_record(_TEMPLATE_RNG, fail) for _ in range(64)] for fail in (True, False)
}


def unit_info(serial: str) -> UnitInfo:
    return UnitInfo(serial=serial, profile="premium-4", model="MSpa Premium 4")


def serial_of(index: int) -> str:
    return f"MS-{index:06d}"


# ------------------------------------------------------------------------------- building


class Rates:
    """Wall time spent inside the store's run API, and what it stored. (No dataclasses in this
    module: ``benchmarks/records_open.py`` loads it without registering it in sys.modules.)"""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.runs = 0

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0

    def cell(self) -> str:
        return f"{self.per_second:,.0f} runs/s" if self.runs else "—"


class Built:
    """What :func:`populate` stored and how fast: the units' serials, the whole build's
    seconds, the run inserts committed per call (``live``) and grouped (``bulk``)."""

    def __init__(self, serials: list[str]) -> None:
        self.serials = serials
        self.seconds = 0.0
        self.live = Rates()
        self.bulk = Rates()


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
            unit=unit_info(serial),
            started_at=at.isoformat(),
            finished_at=(at + timedelta(minutes=5)).isoformat(),
        )
        t = time.perf_counter()
        store_run(store, record, order_id)
        rates.seconds += time.perf_counter() - t
        rates.runs += 1


def populate(
    store: Store,
    runs: int,
    open_orders: int,
    sample: int,
    seed: int = 1,
    now: datetime | None = None,
    label: str = "",
) -> Built:
    """Fill ``store``. The first ``sample`` runs commit every call, as the runner does; the
    rest go through the same calls grouped by ``batch(store)``. The same ``seed`` and ``now``
    give the same data set on every backend."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    say = f"{label}: " if label else ""
    units, orders = max(1, runs // 4), max(1, runs // 2)
    start = now - timedelta(days=3 * 365)
    serials = [serial_of(index) for index in range(units)]
    t0 = time.perf_counter()
    with batch(store):
        for serial in serials:
            purchased = start.date() - timedelta(days=rng.randrange(700))
            store.add_unit(serial, "premium-4", purchased, now=start)
    print(f"{say}units: {units:,} in {time.perf_counter() - t0:.1f} s (batched)", flush=True)
    built = Built(serials)
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
                rates = built.live if in_sample else built.bulk
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
            elapsed = time.perf_counter() - t_all
            print(f"{say}  … {run_number:,} runs after {elapsed:.0f} s", flush=True)
    built.seconds = time.perf_counter() - t0
    print(
        f"{say}orders: {orders:,} ({open_orders} open); runs: {run_number:,} in "
        f"{time.perf_counter() - t_all:.0f} s with orders, contacts and status changes",
        flush=True,
    )
    return built


# -------------------------------------------------------------------------------- timing


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


def ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.2f} / {pair[1]:.2f}"


# ------------------------------------------------------------------- concurrent writers


def writer_record(writer: int, number: int, units: int, now: datetime) -> TestRecord:
    """Run ``number`` of concurrent writer ``writer``: a unit of the data set, its own id."""
    at = now - timedelta(minutes=number + 1)
    return replace(
        TEMPLATES[number % 2 == 0][number % 64],
        record_id=f"writer-{writer}-{number:06d}",
        unit=unit_info(serial_of((writer * 7919 + number) % units)),
        started_at=at.isoformat(),
        finished_at=(at + timedelta(minutes=5)).isoformat(),
    )


def writer(
    location: str, index: int, runs: int, units: int, now: datetime, start: Any, results: Any
) -> None:
    """One bench of the concurrent figure (its own process): opens the records, waits for the
    others, files ``runs`` runs each committed per call, reports (index, start, end, error)."""
    try:
        with Store(location) as store:
            records = [writer_record(index, number, units, now) for number in range(runs)]
            start.wait(WRITER_WAIT)
            t0 = time.monotonic()
            for record in records:
                store_run(store, record)
            results.put((index, t0, time.monotonic(), ""))
    except BaseException as error:  # the parent must hear of it, whatever it is
        start.abort()
        results.put((index, 0.0, 0.0, f"{type(error).__name__}: {error}"))


def concurrent_inserts(location: str, writers: int, runs: int, units: int, now: datetime) -> float:
    """Runs/s in total of ``writers`` processes filing ``runs`` runs each at once."""
    context = multiprocessing.get_context("spawn")  # no driver state forked into children
    start = context.Barrier(writers)
    results = context.Queue()
    processes = [
        context.Process(target=writer, args=(location, index, runs, units, now, start, results))
        for index in range(writers)
    ]
    for process in processes:
        process.start()
    reports: list[tuple[int, float, float, str]] = []
    try:
        for _ in processes:
            reports.append(results.get(timeout=WRITER_WAIT))
    except queue.Empty:
        raise SystemExit(f"concurrent writers: no answer within {WRITER_WAIT:.0f} s") from None
    finally:
        for process in processes:
            process.join(WRITER_WAIT)
            if process.is_alive():
                process.kill()
    failed = sorted(f"writer {index}: {error}" for index, _, _, error in reports if error)
    if failed:
        raise SystemExit("concurrent writers failed: " + "; ".join(failed))
    began = min(report[1] for report in reports)
    ended = max(report[2] for report in reports)
    return writers * runs / (ended - began)


# ---------------------------------------------------------------------- the databases


def size_mb(store: Store) -> float:
    """The data on disk: the SQLite file after a WAL checkpoint, or ``pg_database_size``."""
    if store.path is not None:
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        files = [store.path, Path(f"{store.path}-wal")]
        return sum(item.stat().st_size for item in files if item.exists()) / 1e6
    row = store._conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return float(row[0]) / 1e6


def describe(store: Store) -> str:
    """Where the records are and how durable their commits are."""
    if store.path is not None:
        mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
            store._conn.execute("PRAGMA synchronous").fetchone()[0], "?"
        )
        version = sqlite3.sqlite_version
        return f"{store.location} (SQLite {version}; journal {mode}, synchronous={sync})"
    shown = []
    for name in ("server_version", *BENCH_SERVER):
        shown.append(f"{name}={store._conn.execute(f'SHOW {name}').fetchone()[0]}")
    return f"{store.location} ({', '.join(shown)})"


def counts(store: Store) -> str:
    """Units / orders / runs stored: the same on every backend for the same data set."""
    found = [
        store._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("units", "orders", "runs")
    ]
    return " / ".join(f"{number:,}" for number in found)


@contextlib.contextmanager
def sqlite_location(keep: Path | None) -> Iterator[str]:
    """A new records file: ``keep`` (kept), or one in a folder removed afterwards."""
    if keep is not None and keep.exists():
        raise SystemExit(f"--keep {keep}: exists already; the benchmark builds a new file")
    with tempfile.TemporaryDirectory() as scratch:
        yield str(keep or Path(scratch) / "records.sqlite3")


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead (user, host, port and options kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def own_database(url: str, keep: bool) -> Iterator[str]:
    """A new database on the server at ``url``; yields its URL and drops it afterwards (unless
    ``keep``). Only a database this benchmark created is ever dropped."""
    name = f"{DATABASE}_{os.getpid()}"
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as error:
        raise SystemExit(
            f"--pg-url: cannot connect: {str(error).strip().splitlines()[0]}"
        ) from None
    with admin:
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as error:
            first = str(error).strip().splitlines()[0]
            raise SystemExit(f"--pg-url: cannot create database {name}: {first}") from None
        try:
            yield with_database(url, name)
        finally:
            if keep:
                print(f"postgresql: database {name} kept", flush=True)
            else:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres_location(pg_url: str | None, keep: bool) -> Iterator[str | None]:
    """The PostgreSQL records to fill: a database of ours on ``pg_url``'s server, or on a
    throw-away local server; None (said) when there is no server binary to start."""
    if pg_url:
        with own_database(pg_url, keep) as url:
            yield url
        return
    bindir = find_bindir()
    if bindir is None:
        print(f"postgresql: skipped — {INSTALL_HINT}; or give --pg-url", flush=True)
        yield None
        return
    server = start_server(bindir, BENCH_SERVER)
    try:
        with own_database(server.url("postgres"), keep=False) as url:
            yield url
    finally:
        server.stop()


# ----------------------------------------------------------------------------- measuring


class Column(NamedTuple):
    """One backend's figures: (label, cell) rows, the same labels in the same order for every
    backend."""

    backend: str
    rows: list[tuple[str, str]]
    worst_query: float


def measure(backend: str, location: str, args: argparse.Namespace, now: datetime) -> Column:
    """Build the data set in ``location``, then time its inserts and queries (module doc)."""
    open_orders = min(args.open, args.runs // 2)
    with Store(location) as store:
        print(f"{backend}: {describe(store)}", flush=True)
        built = populate(store, args.runs, open_orders, args.sample, now=now, label=backend)
        if store.dialect == "postgresql":
            store._conn.execute("ANALYZE")  # autovacuum would, soon after a bulk load
        stored = counts(store)
        size = size_mb(store)
        picks = random.Random(2).sample(built.serials, min(args.repeat, len(built.serials)))
        overdue = len(overdue_orders(store, now))
        runs_each = statistics.mean(len(store.runs_for_unit(serial)) for serial in picks)
        history_q = timed([partial(store.runs_for_unit, serial) for serial in picks])
        overdue_q = timed([lambda: overdue_orders(store, now)] * args.repeat)
    db = ("--db", location)
    history_c = timed([command("history", serial, *db) for serial in picks])
    overdue_c = timed([command("order", "list", "--overdue", *db)] * args.repeat)
    print(f"{backend}: {args.writers} writers at once…", flush=True)
    together = concurrent_inserts(location, args.writers, args.writer_runs, len(built.serials), now)
    rows = [
        ("units / orders / runs stored", stored),
        ("build: units, orders, runs, statuses", f"{built.seconds:,.1f} s"),
        (f"inserts committed per call (first {built.live.runs:,} runs)", built.live.cell()),
        (f"inserts grouped, bulk load ({built.bulk.runs:,} runs)", built.bulk.cell()),
        (
            f"inserts by {args.writers} writers × {args.writer_runs} runs at once, per call",
            f"{together:,.0f} runs/s",
        ),
        (f"history SERIAL: runs per unit ({len(picks)} units)", f"{runs_each:.1f}"),
        ("  store query, ms (median / worst)", ms(history_q)),
        ("  whole command, ms (median / worst)", ms(history_c)),
        ("order list --overdue: orders overdue", f"{overdue:,}"),
        ("  store query, ms (median / worst)", ms(overdue_q)),
        ("  whole command, ms (median / worst)", ms(overdue_c)),
        ("database size", f"{size:,.1f} MB"),
    ]
    return Column(backend, rows, max(history_q[1], overdue_q[1]))


def table(columns: list[Column]) -> str:
    """The figures side by side, one row per figure, one column per backend."""
    labels = [label for label, _ in columns[0].rows]
    first = max(map(len, labels))
    widths = [max(len(c.backend), *(len(cell) for _, cell in c.rows)) for c in columns]
    pairs = list(zip(columns, widths, strict=True))
    lines = [" " * first + "".join(f"  {c.backend:>{w}}" for c, w in pairs)]
    for number, label in enumerate(labels):
        cells = "".join(f"  {c.rows[number][1]:>{w}}" for c, w in pairs)
        lines.append(f"{label:<{first}}{cells}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- command line


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def backend_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or not names:
        named = ", ".join(unknown) or repr(text)
        raise argparse.ArgumentTypeError(
            f"unknown backend {named}: choose from {', '.join(BACKENDS)}"
        )
    return list(dict.fromkeys(names))


class OneLineParser(argparse.ArgumentParser):
    """Bad input is one line (what is wrong) and exit status 2, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive, default=100_000, help="bench runs to store")
    parser.add_argument(
        "--backends", type=backend_list, default=list(BACKENDS), help="sqlite,postgresql"
    )
    parser.add_argument(
        "--pg-url",
        help="an existing PostgreSQL server (postgresql://…) instead of a throw-away one",
    )
    parser.add_argument("--open", type=positive, default=300, help="orders still open")
    parser.add_argument(
        "--sample", type=int, default=2000, help="runs committed per call, as the runner does"
    )
    parser.add_argument("--repeat", type=positive, default=20, help="timings per query")
    parser.add_argument("--writers", type=positive, default=8, help="concurrent writers")
    parser.add_argument("--writer-runs", type=positive, default=50, help="runs per writer")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="PATH",
        help="build the SQLite file at PATH and keep it (and keep the --pg-url database)",
    )
    args = parser.parse_args(argv)
    if args.pg_url is not None and not is_server_url(args.pg_url):
        parser.error(f"--pg-url must be a postgresql:// URL, not {args.pg_url!r}")
    if args.sample < 0:
        parser.error(f"--sample must be 0 or more, not {args.sample}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    t_start = time.perf_counter()
    now = datetime.now(UTC)
    columns = []
    for backend in args.backends:
        where = (
            sqlite_location(args.keep)
            if backend == "sqlite"
            else postgres_location(args.pg_url, args.keep is not None)
        )
        with where as location:
            if location is not None:
                columns.append(measure(backend, location, args, now))
    if not columns:
        print("no backend measured")
        return 1
    print(
        f"\n{args.runs:,} runs, the same data set on each backend; median / worst of "
        f"{args.repeat}; whole command = parse, open the records, query, render, in-process"
    )
    print(table(columns))
    for column in columns:
        verdict = "OK" if column.worst_query < 100 else "SLOW"
        print(f"{column.backend}: {verdict}: worst query {column.worst_query:.2f} ms (< 100 ms)")
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
