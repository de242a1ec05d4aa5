"""A records file of the previous release (schema 1) after the upgrade.

Before schema 2 a run did not say whether its unit was simulated; its record did, in its link
(``virtual:premium-4``). An upgrade must not turn such a run into evidence about a customer's
box: the order rules and every listing would then take a simulation for a real repair check.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.records import SERIAL, passing_verification, register

from bench.records.database import to_db
from bench.records.exports import canonical_json
from bench.records.migrations import MIGRATIONS
from bench.records.store import Store


def old_run(conn: sqlite3.Connection, record_id: str, link: str) -> None:
    """A finished run as schema 1 stored it."""
    record = passing_verification(record_id=record_id)
    record.link = link
    now = to_db(datetime.now(UTC))
    conn.execute(
        "INSERT INTO runs (record_id, unit_serial, plan, operator, verdict, started_at,"
        " finished_at, created_at, pid, host, summary, sha256, record_json)"
        " VALUES (?, ?, ?, 'virtual', 'pass', ?, ?, ?, 1, 'bench', 'unit OK', 'x', ?)",
        (record_id, SERIAL, record.plan, record.started_at, now, now, canonical_json(record)),
    )


def test_virtual_runs_of_the_previous_release_are_marked_simulated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with Store(path, migrations=MIGRATIONS[:1]) as old:
        register(old)
        old_run(old._conn, "virtual-run", "virtual:premium-4")
        old_run(old._conn, "real-run", "/dev/ttyUSB0 @ 9600")
    with Store(path) as store:
        runs = {run.record_id: run for run in store.runs_for_unit(SERIAL)}
        assert runs["virtual-run"].simulated is True
        assert runs["real-run"].simulated is False
        # the guards of finished runs are back in place after the upgrade
        with pytest.raises(sqlite3.DatabaseError, match="cannot be modified"):
            store._conn.execute("UPDATE runs SET summary = 'x' WHERE record_id = 'real-run'")
        with pytest.raises(sqlite3.DatabaseError, match=r"cannot be (changed|modified)"):
            store._conn.execute("UPDATE runs SET simulated = 0 WHERE record_id = 'virtual-run'")
