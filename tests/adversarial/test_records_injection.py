"""Injection through stored text (issue 10): CSV formula cells, terminal escape sequences,
control characters in the customer's HTML."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from cli_runner import spabench
from support.records import SERIAL, filter_pump_failure, passing_verification, store_run

from bench.records.exports import CSV_COLUMNS
from bench.records.store import Store

FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\tx", "\rx")
ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m"
CONTROL = "\x00\x07\x08\x1b\x7f\x9b"


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = spabench(capsys, *args)
    assert (code, err) == (0, ""), err
    return out


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every free-text field holds a formula, an escape sequence or a NUL."""
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "not-this-one.sqlite3"))
    monkeypatch.setenv("COLUMNS", "250")
    path = tmp_path / "records.sqlite3"
    with Store(path) as store:
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1), owner=f"{FORMULAS[0]}{ESC}Jo\x00")
        order_id = store.open_order(SERIAL, f"{ESC}no heat\x00{FORMULAS[3]}", by=FORMULAS[1])
        store.add_contact(order_id, by=ESC, note=f"rang\x00{ESC}")
        store.add_note(f"{FORMULAS[2]}{ESC}", order_id=order_id, by="tech")
        failing = filter_pump_failure()
        failing.operator = FORMULAS[0] + ESC
        store_run(store, failing, order_id)
        passing = passing_verification()
        passing.operator = FORMULAS[0]
        for step in passing.steps:
            step.title = f"{FORMULAS[4]}{ESC}"
            for item in step.measurements:
                item.description = FORMULAS[5]
        store_run(store, passing, order_id)
    return path


def test_csv_cells_never_start_a_formula(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    target = tmp_path / "order.csv"
    ok(capsys, "report", "1", "--csv", str(target), "--db", str(db))
    with target.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert rows and list(rows[0]) == list(CSV_COLUMNS)
    for row in rows:
        for cell in row.values():
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)  # only a number may start so (a negative reading)
    assert {row["operator"] for row in rows} >= {"'" + FORMULAS[0]}
    assert {row["description"] for row in rows} >= {"'\nx"}  # '\rx, the CR as a line break
    assert {row["step_title"] for row in rows} >= {"'\tx" + ESC}
    expected = [row["limits"] for row in rows if row["expected"]]
    assert expected and all(text.startswith("expected ") for text in expected)


@pytest.mark.parametrize(
    "args",
    [("order", "show", "1"), ("order", "list"), ("unit", "show", SERIAL), ("history", SERIAL)],
)
def test_stored_text_reaches_the_terminal_without_control_characters(
    capsys: pytest.CaptureFixture[str], db: Path, args: tuple[str, ...]
) -> None:
    out = ok(capsys, *args, "--db", str(db))
    assert not set(out) & set(CONTROL), repr(out)
    assert "no heat" in out or SERIAL in out


def test_a_stored_run_with_escapes_prints_clean_in_history_of_an_unfinished_run(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    record = passing_verification("rec-left-running")
    record.steps[0].name = "power-on"
    with Store(db) as store:
        data = record.to_dict()
        data.update(verdict="running", finished_at=None, summary=f"half{ESC}")
        from bench.testing.record import TestRecord

        begun = TestRecord.from_dict(data)
        run_id = store.begin_run(begun, unit_serial=SERIAL)
        store.add_step(run_id, record.steps[0])
    out = ok(capsys, "history", SERIAL, "--db", str(db))
    assert not set(out) & set(CONTROL), repr(out)


def test_the_customer_html_has_no_control_characters(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    ok(capsys, "report", "1", "--html", str(target), "--db", str(db))
    html = target.read_text(encoding="utf-8")
    assert not set(html) & set("\x00\x07\x08\x1b\x7f\x9b"), [c for c in html if c in CONTROL]
    assert "no heat" in html


def test_the_report_summary_line_is_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "not-this-one.sqlite3"))
    db = tmp_path / "records.sqlite3"
    with Store(db) as store:
        store_run(store, filter_pump_failure("rec-esc", serial=f"SN{ESC}1"))
    out = ok(capsys, "report", "--run", "1", "--json", str(tmp_path / "r.json"), "--db", str(db))
    assert not set(out) & set(CONTROL), repr(out)
