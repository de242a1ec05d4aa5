"""Numbers without bounds (issue 10): order/run ids, quotes and quantities from the command
line have documented ranges; outside them, one line and exit 2, nothing written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_runner import spabench
from support.records import SERIAL, passing_verification, register, store_run

from bench.records.store import Store

TOO_BIG = str(2**63)  # one past SQLite's largest INTEGER
HUGE = "9" * 40


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "not-this-one.sqlite3"))
    path = tmp_path / "records.sqlite3"
    with Store(path) as store:
        register(store)
        order_id = store.open_order(SERIAL, "cold water")
        store_run(store, passing_verification(), order_id)
    return path


def rows(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        return [
            int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("orders", "order_status", "contacts", "parts_replaced", "notes", "runs")
        ]
    finally:
        conn.close()


def usage_error(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> str:
    before = rows(db)
    code, out, err = spabench(capsys, *args, "--db", str(db))
    assert code == 2, (code, out, err)
    assert err.count("\n") == 1, err
    assert "Traceback" not in out + err
    assert rows(db) == before
    return err


@pytest.mark.parametrize("order_id", [TOO_BIG, HUGE, "0", "-1"])
@pytest.mark.parametrize(
    "command",
    [
        ("order", "show"),
        ("order", "status", "{id}", "diagnosed"),
        ("order", "contact"),
        ("order", "part", "{id}", "--part", "B9300929"),
        ("order", "note", "{id}", "text"),
        ("order", "close"),
        ("report", "{id}", "--json", "-"),
    ],
)
def test_order_ids_outside_1_to_2_63_are_usage_errors(
    capsys: pytest.CaptureFixture[str], db: Path, order_id: str, command: tuple[str, ...]
) -> None:
    args = [part.replace("{id}", order_id) for part in command]
    if "{id}" not in command:
        args.append(order_id)
    err = usage_error(capsys, db, *args)
    assert "order id" in err or "invalid" in err, err


@pytest.mark.parametrize("run", [TOO_BIG, HUGE])
def test_run_ids_beyond_2_63_are_usage_errors(
    capsys: pytest.CaptureFixture[str], db: Path, run: str
) -> None:
    assert "run id" in usage_error(capsys, db, "report", "--run", run, "--json", "-")


def test_the_largest_id_is_just_not_found(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    assert "unknown order" in usage_error(capsys, db, "order", "show", str(2**63 - 1))


def test_run_order_beyond_2_63_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    err = usage_error(capsys, db, "run", "--virtual", "--unit", SERIAL, "--order", TOO_BIG)
    assert "--order" in err


@pytest.mark.parametrize(
    "quote", ["1e308", "1e9999999", "1000000000.01", "Infinity", "NaN", "-1", "1.001"]
)
def test_quotes_outside_0_to_a_billion_are_usage_errors(
    capsys: pytest.CaptureFixture[str], db: Path, quote: str
) -> None:
    err = usage_error(
        capsys, db, "order", "open", "--serial", SERIAL, "--symptom", "x", "--quote", quote
    )
    assert "--quote" in err


def test_the_largest_quote_is_stored(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, err = spabench(
        capsys, "order", "open", "--serial", SERIAL, "--symptom", "x",
        "--quote", "1000000000.00", "--db", str(db),
    )  # fmt: skip
    assert (code, err) == (0, "")
    code, out, err = spabench(capsys, "order", "show", out.strip(), "--db", str(db))
    assert code == 0 and "1000000000.00" in out


@pytest.mark.parametrize("qty", [TOO_BIG, "1001", "0"])
def test_part_quantities_outside_1_to_1000_are_usage_errors(
    capsys: pytest.CaptureFixture[str], db: Path, qty: str
) -> None:
    err = usage_error(capsys, db, "order", "part", "1", "--part", "B9300929", "--qty", qty)
    assert "--qty" in err
