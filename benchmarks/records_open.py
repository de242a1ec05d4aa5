"""What the damage check costs: opening the records for writing runs ``PRAGMA quick_check``
(every page read once), read commands open read-only without it.

Builds a file with ``benchmarks/records.py``'s realistic runs (``--runs N``, default 20,000,
about a minute), then times, best of ``--repeat``:

* ``PRAGMA quick_check`` alone,
* ``Store(path)`` (a writer: checks, then opens; what ``spabench run``/``unit add`` pay),
* ``Store(path, read_only=True)`` (``history``, ``order show``, ``report``),
* the whole ``spabench history SERIAL`` and ``spabench order contact`` commands in-process.

Run: ``python benchmarks/records_open.py [--runs N] [--repeat N] [--keep PATH]``.
"""

# ruff: noqa: E402  (the bench imports must follow the sys.path fix below)
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.resolve()]

from bench.records.store import Store


def _records_benchmark() -> object:
    spec = importlib.util.spec_from_file_location("records_benchmark", HERE / "records.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the file here")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.keep or Path(folder.name) / "records.sqlite3"
    records = _records_benchmark()
    quiet = records.command  # type: ignore[attr-defined]  # spabench ARGS, output discarded
    if not path.exists():
        with Store(path) as store:
            populate = records.populate  # type: ignore[attr-defined]
            with contextlib.redirect_stdout(io.StringIO()):
                populate(store, args.runs, 300, 0)
    with Store(path) as store:
        serial = store.runs_for_unit("MS-000001")[0].unit_serial
        order_id = store.orders(open_only=True)[0].id
    mb = path.stat().st_size / 1e6

    def quick_check() -> None:
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        conn.close()

    print(f"records file: {mb:,.0f} MB ({args.runs:,} runs), best of {args.repeat}")
    figures = [
        ("PRAGMA quick_check", quick_check),
        ("Store(path) for writing (quick_check + open)", lambda: Store(path).close()),
        ("Store(path, read_only=True)", lambda: Store(path, read_only=True).close()),
        (f"spabench history {serial}", quiet("history", serial, "--db", str(path))),
        (
            f"spabench order contact {order_id}",
            quiet("order", "contact", str(order_id), "--note", "rang", "--db", str(path)),
        ),
    ]
    for label, action in figures:
        print(f"  {label}: {best(action, args.repeat) * 1000:,.1f} ms")
    folder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
