"""``benchmarks/records.py`` runs end to end on both backends, on one data set, and leaves no
database of its own behind; the tests' ``batch`` groups writes on both backends."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from support.postgres import PostgresServer
from support.records import batch

from bench.records.database import StoreError
from bench.records.store import Store

BENCHMARK = Path(__file__).parent.parent / "benchmarks" / "records.py"
WAIT = 120.0
"""Wall seconds the tiny benchmark may take (a few when healthy)."""


def benchmark(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCHMARK), *args],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def figures(output: str) -> dict[str, list[str]]:
    """The printed table: each row's label and its cells, one per backend column."""
    lines = output.splitlines()
    header = next(n for n, line in enumerate(lines) if line.split() == ["sqlite", "postgresql"])
    rows: dict[str, list[str]] = {}
    for line in lines[header + 1 :]:
        if re.match(r"\w+: (OK|SLOW):", line):
            break  # the verdicts after the table
        label, *cells = re.split(r"\s{2,}", line.strip())
        rows.setdefault(label, cells)
    return rows


def databases(server: PostgresServer) -> set[str]:
    with server.admin() as conn:
        return {str(row[0]) for row in conn.execute("SELECT datname FROM pg_database")}


def test_the_benchmark_prints_both_backends_side_by_side_on_the_same_data(
    postgres_server: PostgresServer, pg_url: str
) -> None:
    before = databases(postgres_server)
    done = benchmark(
        "--runs", "200", "--open", "20", "--sample", "100", "--repeat", "3",
        "--writers", "2", "--writer-runs", "5", "--pg-url", pg_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = figures(done.stdout)
    for label in (
        "units / orders / runs stored",
        "history SERIAL: runs per unit (3 units)",
        "order list --overdue: orders overdue",
    ):
        assert rows[label][0] == rows[label][1], label  # one data set on both
    assert rows["units / orders / runs stored"][0] == "50 / 100 / 200"
    assert len(rows["inserts by 2 writers × 5 runs at once, per call"]) == 2
    for label in ("inserts committed per call (first 100 runs)", "inserts grouped, bulk load"):
        found = [cells for row, cells in rows.items() if row.startswith(label)]
        assert len(found) == 1 and all(re.fullmatch(r"[\d,]+ runs/s", cell) for cell in found[0])
    assert re.search(r"^postgresql: OK: worst query", done.stdout, re.M)
    # its own database made and dropped; the one it was pointed at left as it was
    assert databases(postgres_server) == before
    with Store(pg_url) as store:
        assert not store.has_unit("MS-000000")


def test_a_bad_backend_is_one_line_and_exit_2() -> None:
    done = benchmark("--backends", "sqlite,mysql")
    assert done.returncode == 2
    assert done.stderr == (
        "records.py: argument --backends: unknown backend mysql: choose from sqlite, postgresql\n"
    )
    assert done.stdout == ""


def test_a_batch_commits_once_and_a_failed_call_undoes_only_itself(
    records_location: str,
) -> None:
    with Store(records_location) as store, Store(records_location) as other:
        with batch(store):
            store.add_unit("SN-1", "premium-4", date(2025, 1, 1))
            with pytest.raises(StoreError, match="already registered"):
                store.add_unit("SN-1", "premium-4", date(2025, 1, 1))
            store.add_unit("SN-2", "premium-4", date(2025, 1, 1))
            assert not other.has_unit("SN-1")  # nothing visible before the end
        assert other.has_unit("SN-1") and other.has_unit("SN-2")
        with pytest.raises(RuntimeError), batch(store):
            store.add_unit("GONE-1", "premium-4", date(2025, 1, 1))
            raise RuntimeError("import aborted")
        assert not other.has_unit("GONE-1")
