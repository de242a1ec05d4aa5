"""A damaged or read-only records database (issue 10): refused in one line before any work,
a run that cannot be filed never exits 0 and is saved next to the database, read commands
work on a read-only file system, and nothing already filed is lost."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import one_line, spabench
from support.records import SERIAL, filter_pump_failure, passing_verification, register, store_run

from bench.records.store import Store

PAGES_DAMAGED = 5


def counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("units", "orders", "order_status", "runs", "run_steps")
        }
    finally:
        conn.close()


def check(path: Path, pragma: str = "integrity_check") -> str:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return str(conn.execute(f"PRAGMA {pragma}").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A healthy database: a unit, an order, a failing and a passing run of that order."""
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "not-this-one.sqlite3"))
    monkeypatch.setenv("COLUMNS", "250")
    path = tmp_path / "records" / "records.sqlite3"
    with Store(path) as store:
        register(store)
        order_id = store.open_order(SERIAL, "no bubbles, no heat")
        for index in range(3):
            store_run(store, filter_pump_failure(f"rec-fail-{index}"), order_id)
        store_run(store, passing_verification(), order_id)
    return path  # closed: WAL checkpointed into the main file


@pytest.fixture
def damaged(db: Path) -> Path:
    """Five pages in the middle overwritten, the 100-byte header intact."""
    conn = sqlite3.connect(db)
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.close()
    assert pages > 3 * PAGES_DAMAGED, pages
    with db.open("r+b") as stream:
        stream.seek((pages // 2) * page_size)
        stream.write(b"\xa5" * (PAGES_DAMAGED * page_size))
    with pytest.raises(sqlite3.DatabaseError):  # precondition: really damaged
        assert check(db, "quick_check") == "ok", "damaged but still ok"
    return db


def test_run_refuses_a_damaged_database_before_the_run(
    capsys: pytest.CaptureFixture[str], damaged: Path
) -> None:
    before = damaged.read_bytes()
    result = spabench(capsys, "run", "--virtual", "--unit", SERIAL, "--db", str(damaged))
    one_line(result, 3, str(damaged), "damaged", "nothing was run")
    assert "verdict" not in result[1]
    assert damaged.read_bytes() == before
    assert not list(damaged.parent.glob("*.json"))


@pytest.mark.parametrize(
    "args",
    [
        ("unit", "add", "--serial", "SN-NEW", "--profile", "premium-4",
         "--purchase-date", "2025-01-01"),
        ("order", "open", "--serial", SERIAL, "--symptom", "cold"),
        ("order", "contact", "1", "--note", "rang"),
        ("history", SERIAL),
        ("unit", "show", SERIAL),
        ("order", "show", "1"),
        ("report", "1", "--json", "-"),
    ],
)  # fmt: skip
def test_every_records_command_refuses_a_damaged_database(
    capsys: pytest.CaptureFixture[str], damaged: Path, args: tuple[str, ...]
) -> None:
    before = damaged.read_bytes()
    result = spabench(capsys, *args, "--db", str(damaged))
    one_line(result, 3, "damaged", "left untouched")
    assert result[1] == ""
    assert damaged.read_bytes() == before


def test_a_run_that_cannot_be_filed_is_saved_next_to_the_database_and_fails(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    """The file goes bad under a running bench: every step insert is refused."""
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TRIGGER sabotage BEFORE INSERT ON run_steps"
        " BEGIN SELECT RAISE(ABORT, 'disk image went bad (simulated)'); END"
    )
    conn.commit()
    conn.close()
    before = counts(db)
    code, out, err = spabench(capsys, "run", "--virtual", "--unit", SERIAL, "--db", str(db))
    assert code == 3, (out, err)
    assert err.count("\n") == 1 and "not filed" in err, err
    saved = list(db.parent.glob("records.sqlite3.unfiled-*.json"))
    assert len(saved) == 1, sorted(p.name for p in db.parent.iterdir())
    assert saved[0].name in out.replace("\n", "")  # a long temporary path may wrap
    record = json.loads(saved[0].read_text(encoding="utf-8"))
    assert record["verdict"] == "pass" and record["steps"]
    assert check(db) == "ok"
    after = counts(db)
    assert after["runs"] == before["runs"] + 1  # begun, never finished: reads as interrupted
    assert {k: v for k, v in after.items() if k != "runs"} == {
        k: v for k, v in before.items() if k != "runs"
    }


def _read_only_commands(db: Path) -> list[list[str]]:
    return [
        ["history", SERIAL, "--db", str(db)],
        ["unit", "show", SERIAL, "--db", str(db)],
        ["order", "show", "1", "--db", str(db)],
        ["order", "list", "--db", str(db)],
        ["report", "1", "--json", "-", "--db", str(db)],
    ]


def _unshare_works() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs root and unshare(1) for a private mount")
def test_read_commands_serve_a_database_on_a_read_only_file_system(db: Path) -> None:
    """Bind-mounts the folder read-only in a private mount namespace (only that process
    sees it) and runs each read command there."""
    folder = db.parent
    assert sorted(p.name for p in folder.iterdir()) == ["records.sqlite3"]  # no -wal/-shm
    before = counts(Path(shutil.copy(db, folder.parent / "copy.sqlite3")))
    script = f"mount --bind -o ro {folder} {folder} && " + " && ".join(
        f"{sys.executable} -m bench {' '.join(args)} > {folder.parent / f'out{index}.txt'}"
        for index, args in enumerate(_read_only_commands(db))
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert SERIAL in (folder.parent / "out0.txt").read_text()
    assert json.loads((folder.parent / "out4.txt").read_text())["order"]["id"] == 1
    assert counts(db) == before and check(db) == "ok"


def test_read_commands_serve_a_write_protected_database(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    """The same without privileges: a folder and file nobody may write (root ignores
    permissions, so there it proves only that reading does not write)."""
    folder = db.parent
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        for args in _read_only_commands(db):
            code, out, err = spabench(capsys, *args)
            assert (code, err) == (0, ""), (args, err)
            assert out
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    assert sorted(p.name for p in folder.iterdir())[0] == "records.sqlite3"
