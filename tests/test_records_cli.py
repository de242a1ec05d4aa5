"""``spabench unit|order|history|report``: the records commands end to end, exit codes and
one-line errors included."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cli_runner import spabench
from support.records import SERIAL, filter_pump_failure, passing_verification, started, store_run

from bench.records.migrations import MIGRATIONS
from bench.records.store import Store
from bench.records.warranty import add_months

PURCHASED = date.today() - timedelta(days=100)  # the CLI judges warranty on the real date


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "records.sqlite3"
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "not-this-one.sqlite3"))
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: one line per row
    return path


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = spabench(capsys, *args)
    assert (code, err) == (0, ""), err
    return out


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = spabench(capsys, *args)
    assert code == 2, (out, err)
    assert err.count("\n") == 1, err
    return err


def add_unit(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> None:
    ok(
        capsys,
        "unit",
        "add",
        "--serial",
        SERIAL,
        "--profile",
        "premium-4",
        "--purchase-date",
        PURCHASED.isoformat(),
        "--owner",
        "Jo Customer",
        "--db",
        str(db),
        *extra,
    )


def open_order(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> int:
    out = ok(
        capsys,
        "order",
        "open",
        "--serial",
        SERIAL,
        "--symptom",
        "Heater dead [bold]since Monday[/bold]",
        "--db",
        str(db),
        *extra,
    )
    return int(out.strip())


def test_unit_add_and_show(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    add_unit(capsys, db, "--not-original-owner")
    out = ok(capsys, "unit", "show", SERIAL, "--db", str(db))
    assert "premium-4" in out and PURCHASED.isoformat() in out and "Jo Customer" in out
    assert "not the original owner" in out
    assert "no bench runs yet" in out
    err = usage_error(capsys, "unit", "show", "NOPE", "--db", str(db))
    assert "unknown unit serial 'NOPE'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--purchase-date", "2025-02-30"), "not a date"),
        (("--purchase-date", "01/06/2025"), "not a date"),
        (("--purchase-date", "2099-01-01"), "in the future"),
        (("--profile", "jacuzzi-9"), "unknown profile 'jacuzzi-9'"),
    ],
)
def test_unit_add_refuses_bad_input(
    capsys: pytest.CaptureFixture[str], db: Path, args: tuple[str, str], message: str
) -> None:
    base = {"--serial": SERIAL, "--profile": "premium-4", "--purchase-date": "2025-06-01"}
    base[args[0]] = args[1]
    flat = [item for pair in base.items() for item in pair]
    err = usage_error(capsys, "unit", "add", *flat, "--db", str(db))
    assert message in err
    assert not Store(db).has_unit(SERIAL)


def test_db_option_env_and_position(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_db = tmp_path / "env.sqlite3"
    monkeypatch.setenv("SPABENCH_DB", str(env_db))
    ok(
        capsys,
        "unit",
        "add",
        "--serial",
        "E1",
        "--profile",
        "elite-6",
        "--purchase-date",
        "2025-01-01",
    )
    assert Store(env_db).has_unit("E1")
    other = tmp_path / "other.sqlite3"
    ok(capsys, "unit", "--db", str(other), "add", "--serial", "O1", "--profile", "elite-6",
       "--purchase-date", "2025-01-01")  # fmt: skip
    assert Store(other).has_unit("O1") and not Store(env_db).has_unit("O1")
    assert "O1" in ok(capsys, "unit", "show", "O1", "--db", str(other))
    assert "O1" in ok(capsys, "unit", "--db", str(other), "show", "O1")


def test_the_service_desk_flow(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    add_unit(capsys, db)
    order_id = open_order(
        capsys, db, "--agreement", "repair", "--quote", "189", "--promised", "2099-01-01",
        "--by", "desk",
    )  # fmt: skip
    with Store(db) as store:
        store_run(store, filter_pump_failure(), order_id)
    d = ("--db", str(db))
    assert "diagnosed" in ok(
        capsys, "order", "status", str(order_id), "diagnosed", "--by", "ada", *d
    )
    ok(capsys, "order", "part", str(order_id), "--part", "b9300929", "--by", "ada", *d)
    ok(capsys, "order", "contact", str(order_id), "--note", "told: pump replaced", *d)
    ok(capsys, "order", "note", str(order_id), "pump was full of sand", *d)
    assert "repaired" in ok(capsys, "order", "status", str(order_id), "Repaired", *d)
    err = usage_error(capsys, "order", "status", str(order_id), "verified", *d)
    assert "has no passing verify-filter-pump or full run started after" in err
    fitted = datetime.now(UTC).isoformat(timespec="seconds")  # the pump is in: verify it
    with Store(db) as store:
        verification = replace(passing_verification(), started_at=fitted)
        store_run(store, verification, order_id)
    ok(capsys, "order", "status", str(order_id), "verified", "--by", "ada", *d)
    shown = ok(capsys, "order", "show", str(order_id), *d)
    for text in (
        "Heater dead [bold]since Monday[/bold]",  # rich markup stays text
        "189.00",
        "B9300929",
        f"in warranty until {add_months(PURCHASED, 12)}: electrical part, original owner",
        "told: pump replaced",
        "pump was full of sand",
        "verify-filter-pump",
        "desk",
        "ada",
    ):
        assert text in shown, text
    assert str(order_id) in ok(capsys, "order", "list", "--open", *d)
    assert "handed back" in ok(capsys, "order", "close", str(order_id), "--note", "collected", *d)
    assert "no orders" in ok(capsys, "order", "list", "--open", *d)
    assert str(order_id) in ok(capsys, "order", "list", *d)
    err = usage_error(capsys, "order", "status", str(order_id), "repaired", *d)
    assert "cannot change status from handed-back to repaired" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("order", "status", "1", "verified"), "from received to verified"),
        (("order", "status", "1", "fixed"), "unknown status 'fixed'"),
        (("order", "status", "99", "diagnosed"), "unknown order 99"),
        (("order", "part", "1", "--part", "X-1"), "unknown part number 'X-1'"),
        (("order", "part", "1", "--part", "B9300929", "--qty", "0"), "at least 1"),
        (("order", "open", "--serial", "NOPE", "--symptom", "x"), "unknown unit serial"),
        (("order", "open", "--serial", SERIAL, "--symptom", " "), "symptom is empty"),
        (("order", "open", "--serial", SERIAL, "--symptom", "x", "--quote", "1.234"), "two dec"),
        (("order", "open", "--serial", SERIAL, "--symptom", "x", "--promised", "2026-02-30"),
         "not a date"),
        (("order", "open", "--serial", SERIAL, "--symptom", "x", "--promised", "2001-01-01"),
         "past"),
        (("order",), "required: ACTION"),
        (("history", "NOPE"), "unknown unit serial 'NOPE'"),
    ],
)  # fmt: skip
def test_bad_orders_are_one_line_usage_errors(
    capsys: pytest.CaptureFixture[str], db: Path, args: tuple[str, ...], message: str
) -> None:
    add_unit(capsys, db)
    open_order(capsys, db)
    err = (
        usage_error(capsys, *args, "--db", str(db))
        if args != ("order",)
        else usage_error(capsys, *args)
    )
    assert message in err


def test_overdue_orders_are_listed_with_their_reasons(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    add_unit(capsys, db)
    long_ago = datetime.now(UTC) - timedelta(days=5)
    with Store(db) as store:
        quiet = store.open_order(SERIAL, "no bubbles", now=long_ago)
        late = store.open_order(SERIAL, "leaks", promised=long_ago.date(), now=long_ago)
        store.add_contact(late, now=long_ago + timedelta(hours=1))
        fine = store.open_order(SERIAL, "cold", promised=date(2099, 1, 1))
    out = ok(capsys, "order", "list", "--overdue", "--db", str(db))
    assert "no customer contact within 3 days" in out
    assert "past the promised date" in out
    lines = [line for line in out.splitlines() if line.startswith("│")]
    ids = [line.split("│")[1].strip() for line in lines]
    assert ids == [str(quiet), str(late)] and str(fine) not in ids


def test_history_shows_every_run_with_its_status(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    add_unit(capsys, db)
    with Store(db) as store:
        store_run(store, filter_pump_failure())
        store_run(store, passing_verification())
        running = store.begin_run(started(passing_verification(record_id="live")))
        store.add_step(running, passing_verification().steps[0])
    out = ok(capsys, "history", SERIAL, "--db", str(db))
    rows = [line.split("│") for line in out.splitlines() if line.startswith("│")]
    assert [row[6].strip() for row in rows] == ["fail", "pass", "running"]
    assert f"run {running} running after 1 completed step(s): power-on pass" in out


def test_report_writes_html_json_and_csv(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    add_unit(capsys, db)
    order_id = open_order(capsys, db, "--agreement", "repair")
    with Store(db) as store:
        store_run(store, filter_pump_failure(), order_id)
        store.add_part(order_id, "B9300929")
        final = store_run(store, passing_verification(), order_id)
        sha = store.run(final).sha256
    html, js, table = tmp_path / "r.html", tmp_path / "r.json", tmp_path / "r.csv"
    out = ok(
        capsys, "report", str(order_id), "--html", str(html), "--json", str(js), "--csv",
        str(table), "--db", str(db),
    )  # fmt: skip
    assert f"final run {final} pass, sha256 {sha}" in out
    page = html.read_text()
    assert "Heater dead [bold]since Monday[/bold]" in page and sha and sha in page
    bundle = json.loads(js.read_text())
    assert bundle["order"]["symptom"] == "Heater dead [bold]since Monday[/bold]"
    assert bundle["parts_replaced"][0]["part_number"] == "B9300929"
    assert [run["status"] for run in bundle["runs"]] == ["fail", "pass"]
    assert bundle["runs"][1]["sha256"] == sha
    assert len(bundle["runs"][0]["record"]["frames"]) == 7
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert len(rows) == 13 and {r["run_id"] for r in rows} == {"1", "2"}


def test_report_of_one_run_by_id_or_record_id(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    with Store(db) as store:
        run_id = store_run(store, filter_pump_failure(serial="BENCH-ONLY"))
    out = ok(capsys, "report", "--run", str(run_id), "--csv", "-", "--db", str(db))
    assert out.startswith("run_id,record_id,")
    assert len(out.strip().splitlines()) == 1 + 6
    target = tmp_path / "run.json"
    ok(capsys, "report", "--run", "rec-fail-0001", "--json", str(target), "--db", str(db))
    assert json.loads(target.read_text())["record"]["record_id"] == "rec-fail-0001"
    html = tmp_path / "run.html"
    ok(capsys, "report", "--run", str(run_id), "--html", str(html), "--db", str(db))
    assert "Part to replace: B9300929 filter pump." in html.read_text()
    assert "give either" in usage_error(capsys, "report", "--html", "x", "--db", str(db))
    assert "give either" in usage_error(
        capsys, "report", "1", "--run", "1", "--html", "x", "--db", str(db)
    )
    assert "say what to write" in usage_error(capsys, "report", "--run", "1", "--db", str(db))
    assert "unknown run 42" in usage_error(
        capsys, "report", "--run", "42", "--csv", "-", "--db", str(db)
    )


def test_an_unusable_database_is_a_one_line_error_and_left_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    newer = tmp_path / "newer.sqlite3"
    Store(newer).close()
    import sqlite3

    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    for path, message in ((corrupt, "left untouched"), (newer, "newer than this spabench")):
        before = path.read_bytes()
        for args in (("history", SERIAL), ("order", "list"), ("unit", "show", SERIAL)):
            code, out, err = spabench(capsys, *args, "--db", str(path))
            assert code == 3
            assert out == ""
            assert err.count("\n") == 1 and message in err, err
        assert path.read_bytes() == before
