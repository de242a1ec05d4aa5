"""The records on a PostgreSQL server (issue 14, deliverable 2): the same records as the
embedded SQLite file, through the same Store API, on a real server (tests/support/postgres.py).

* parity: one workshop's whole order — intake, contacts with how they were made, an agreement
  amended, a part, a diagnosis run and a verification run with steps and frames, verified,
  a note, handed back — reads back the same from both backends, and every append-only rule
  refuses a rewrite with the same words; both are at the same schema version;
* opening a server: unreachable (one line, no password), not our database, a newer schema,
  no records for a reader; a failed migration leaves the old version;
* the connection wrapper: placeholders inside literals and casts, rows by name and index,
  ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (the idempotent upload's statement);
* the command line pointed at a server with ``--db``.

The tests that need a server are skipped, naming what to install, where none is found.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cli_runner import one_line, spabench
from support.live_filing import file_live
from support.postgres import PostgresServer
from support.records import (
    NOW,
    SERIAL,
    filter_pump_failure,
    passing_verification,
    register,
    started,
    store_run,
)

from bench.records.backends.postgresql import display
from bench.records.database import (
    DatabaseError,
    IntegrityError,
    NoRecordsDatabase,
    StoreError,
    StoreOpenError,
)
from bench.records.migrations import MIGRATIONS, Migration, load
from bench.records.orders import TRANSITIONS
from bench.records.store import Store
from protocols.mspa.parts import lookup

PUMP = lookup("B9300929")  # filter pump: checked by verify-filter-pump


def at(hours: float) -> datetime:
    """A moment of the workshop's day (NOW is 2026-03-20 08:00 UTC)."""
    return NOW + timedelta(hours=hours)


def workflow(store: Store) -> dict[str, Any]:
    """One order from intake to hand-back through the Store API; what it reads back."""
    register(store)
    order = store.open_order(
        SERIAL, "no heat", agreement="diagnosis", quote_cents=4500, by="ana", now=at(0.1)
    )
    store.add_contact(order, by="ana", note="unit is in", via="phone", now=at(0.2))
    failed = file_live(store, filter_pump_failure(), order)  # started 09:00
    store.set_status(order, "diagnosed", by="ben", note="pump dead", now=at(1.2))
    store.set_status(order, "awaiting-approval", by="ben", via="email", now=at(1.3))
    store.amend_agreement(
        order, "repair", parts=[PUMP.number], quote_cents=8950, via="phone",
        note="customer agreed to the pump", by="ana", now=at(1.4),
    )  # fmt: skip
    store.add_part(order, PUMP.number, by="ben", now=at(1.5))
    store.set_status(order, "repaired", by="ben", note="new pump", now=at(1.6))
    passed = file_live(store, passing_verification(), order)  # started 03-21 10:00
    store.set_status(order, "verified", by="ben", now=at(26.5))
    note = store.add_note("collects Friday", order_id=order, by="ana", now=at(26.6))
    store.add_note("pump serial 123", run_id=passed, kind="correction", by="ben", now=at(26.7))
    store.set_status(order, "handed-back", by="ana", now=at(27))
    runs = store.runs_for_order(order)
    return {
        "order": store.order(order),
        "orders": store.orders(serial=SERIAL),
        "open": store.orders(open_only=True),
        "timeline": store.timeline(order),
        "events": store.events(order),
        "contacts": store.contacts(order),
        "agreements": store.agreement_changes(order),
        "parts": store.parts(order),
        "notes": (note, store.notes(order_id=order), store.notes(run_id=passed)),
        "verification": store.verification(order).record_id,  # type: ignore[union-attr]
        "runs": [(r.id, r.record_id, r.plan, r.status, r.steps_done, r.sha256) for r in runs],
        "ids": (failed, passed),
        "records": [store.run_record(r.id).to_dict() for r in runs],
        "steps": [store.run_steps(r.id) for r in runs],
        "frames": [(store.run_frames(r.id), store.run_trace(r.id)) for r in runs],
        "unit": store.unit(SERIAL),
        "by_unit": [r.record_id for r in store.runs_for_unit(SERIAL)],
        "overdue": store.overdue_candidates(contact_deadline=at(100), today=date(2026, 4, 1)),
        "schema": store.schema_version(),
    }


REWRITES = [
    "UPDATE order_status SET by = 'x'",
    "DELETE FROM order_status",
    "UPDATE contacts SET note = 'x'",
    "DELETE FROM contacts",
    "UPDATE parts_replaced SET quantity = 2",
    "DELETE FROM parts_replaced",
    "UPDATE agreement_changes SET by = 'x'",
    "DELETE FROM agreement_changes",
    "UPDATE notes SET text = 'x'",
    "DELETE FROM notes",
    "UPDATE runs SET summary = 'x'",
    "UPDATE runs SET simulated = 1",
    "DELETE FROM runs",
    "UPDATE run_steps SET name = 'x'",
    "DELETE FROM run_steps",
    "UPDATE run_frames SET chunk = 9",
    "DELETE FROM run_frames",
    "DELETE FROM orders",
    "UPDATE orders SET symptom = 'x'",
    "UPDATE orders SET status = 'received'",
    "UPDATE orders SET agreement = 'diagnosis'",
    "INSERT INTO order_status (order_id, status, at) VALUES (1, 'diagnosed', '2099-01-01')",
]
"""Rewrites of history by hand: every one is refused by the schema on both backends."""


def refusals(store: Store) -> list[str]:
    said = []
    for sql in REWRITES:
        with pytest.raises(IntegrityError) as refused:
            store._conn.execute(sql)
        said.append(str(refused.value))
    return said


def test_a_whole_order_reads_back_the_same_from_sqlite_and_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    with Store(tmp_path / "records.sqlite3") as file, Store(pg_url) as server:
        on_file, on_server = workflow(file), workflow(server)
        assert on_server == on_file
        assert refusals(server) == refusals(file)
        assert all(message.startswith("spabench: ") for message in refusals(server))
        assert on_server == workflow_read(server, on_server)
    assert on_server["schema"] == len(MIGRATIONS) == 4
    assert on_server["order"].status == "handed-back"
    assert on_server["verification"] == "rec-pass-0001"
    assert [len(record["frames"]) for record in on_server["records"]] == [7, 1]
    assert [(len(frames), len(trace)) for frames, trace in on_server["frames"]] == [(7, 3), (1, 41)]


def workflow_read(store: Store, expected: dict[str, Any]) -> dict[str, Any]:
    """The refusals changed nothing: what :func:`workflow` read, read again."""
    order = expected["order"].id
    again = dict(expected)
    again["order"] = store.order(order)
    again["timeline"] = store.timeline(order)
    again["parts"] = store.parts(order)
    return again


def test_the_status_flow_in_the_schema_is_the_flow_of_the_code(records_location: str) -> None:
    with Store(records_location) as store:
        rows = store._conn.execute("SELECT from_status, to_status FROM status_transitions")
        stored = {(row["from_status"], row[1]) for row in rows}
    assert stored == {(old, new) for old, news in TRANSITIONS.items() for new in news}


def test_the_schema_refuses_a_status_the_flow_does_not_allow(records_location: str) -> None:
    with Store(records_location) as store:
        register(store)
        order = store.open_order(SERIAL, "no heat", now=at(0))
        insert = "INSERT INTO order_status (order_id, status, at) VALUES (?, ?, ?)"
        for status in ("received", "repaired", "handed-back"):
            with pytest.raises(IntegrityError, match="status flow"):
                store._conn.execute(insert, (order, status, "2026-03-20T09:00:00.000000+00:00"))
        store._conn.execute(insert, (order, "diagnosed", "2026-03-20T09:00:00.000000+00:00"))
        with pytest.raises(IntegrityError, match="agreed repair"):
            store._conn.execute(insert, (order, "repaired", "2026-03-20T09:01:00.000000+00:00"))
        assert [change.status for change in store.timeline(order)] == ["received", "diagnosed"]


def test_a_run_filed_twice_is_refused_and_an_upload_is_idempotent(records_location: str) -> None:
    record = filter_pump_failure(record_id="5f0c2d0e9a7b4c1d8e6f5a4b3c2d1e0f")
    with Store(records_location) as store:
        first = store_run(store, record)
        with pytest.raises(StoreError, match="already stored"):
            store.begin_run(started(record))
        upload = (
            "INSERT INTO runs (record_id, unit_serial, plan, started_at, created_at, pid, host,"
            " record_json) VALUES (:id, 'SN', 'full', :at, :at, 1, 'bench-2', '{}')"
            " ON CONFLICT (record_id) DO NOTHING RETURNING id"
        )
        with store._write() as conn:
            repeated = conn.execute(upload, {"id": record.record_id, "at": "2026"}).fetchall()
            new = conn.execute(upload, {"id": "another", "at": "2026"}).fetchone()
        assert repeated == []
        assert new is not None and new["id"] == new[0] > first
        assert [run.record_id for run in store.runs_for_unit(SERIAL)] == [record.record_id]


def test_a_group_of_writes_commits_once_and_a_failed_one_undoes_only_itself(
    records_location: str,
) -> None:
    with Store(records_location) as store, Store(records_location) as other:
        store._conn.execute("BEGIN")
        store.grouped = True
        store.add_unit("SN-1", "premium-4", date(2025, 1, 1))
        with pytest.raises(StoreError, match="already registered"):
            store.add_unit("SN-1", "premium-4", date(2025, 1, 1))
        store.add_unit("SN-2", "premium-4", date(2025, 1, 1))
        assert not other.has_unit("SN-1")  # nothing is visible before the group commits
        store._conn.execute("COMMIT")
        store.grouped = False
        assert other.has_unit("SN-1") and other.has_unit("SN-2")
        store._conn.execute("BEGIN")  # a transaction left open is not taken for a group
        with pytest.raises(DatabaseError, match="within a transaction"):
            store.add_unit("SN-3", "premium-4", date(2025, 1, 1))


def test_an_added_shared_migration_runs_on_both_backends(records_location: str) -> None:
    added = Migration(
        len(MIGRATIONS) + 1, "unit_colour", "ALTER TABLE units ADD COLUMN colour TEXT;"
    )
    with Store(records_location) as store:
        register(store)
    with Store(records_location, migrations=(*MIGRATIONS, added)) as newer:
        assert newer.schema_version() == added.version
        assert newer.unit(SERIAL).owner == "Jo Customer"
        assert newer._conn.execute("SELECT colour FROM units").fetchone()[0] is None
    with pytest.raises(StoreOpenError, match="newer than this spabench"):
        Store(records_location)


def test_a_failing_migration_leaves_the_server_at_its_version(pg_url: str) -> None:
    broken = Migration(
        len(MIGRATIONS) + 1, "broken", "CREATE TABLE x (a int);\nSELECT * FROM nope;"
    )
    with pytest.raises(StoreOpenError, match="nope"):
        Store(pg_url, migrations=(*MIGRATIONS, broken))
    with Store(pg_url) as store:
        assert store.schema_version() == len(MIGRATIONS)
        found = store._conn.execute("SELECT to_regclass('x') IS NULL").fetchone()
        assert found is not None and found[0]


# ----------------------------------------------------------------------- opening a server


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 nothing listens on (held bound, never listening)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def test_an_unreachable_server_is_one_line_without_the_password(closed_port: int) -> None:
    url = f"postgresql://bench:s3cret-pw@127.0.0.1:{closed_port}/spabench"
    with pytest.raises(StoreOpenError) as refused:
        Store(url)
    message = str(refused.value)
    assert message.startswith(f"records server postgresql://bench@127.0.0.1:{closed_port}/spabench")
    assert "unreachable" in message and "\n" not in message and "s3cret" not in message


def test_a_server_that_does_not_answer_is_given_up_after_the_connect_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        begun = datetime.now(UTC)
        with pytest.raises(StoreOpenError, match="unreachable"):
            Store(f"postgresql://bench@127.0.0.1:{port}/spabench", connect_timeout=1)
        assert datetime.now(UTC) - begun < timedelta(seconds=10)


def test_the_command_line_says_an_unreachable_server_in_one_line(
    capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    url = f"postgresql://bench:s3cret-pw@127.0.0.1:{closed_port}/spabench"
    result = spabench(capsys, "unit", "add", "--db", url, "--serial", SERIAL,
                      "--profile", "premium-4", "--purchase-date", "2025-06-01")  # fmt: skip
    err = one_line(result, 3, "unreachable", f"postgresql://bench@127.0.0.1:{closed_port}/")
    assert "s3cret" not in err


def test_a_database_of_other_tables_is_refused_and_left_alone(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.fresh_database(template=None)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreOpenError, match=r"holds other tables \(invoices\.\.\.\)"):
        Store(url)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert [row[0] for row in tables] == ["invoices"]
    postgres_server.drop_database(url)


def test_a_newer_or_foreign_schema_table_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE spabench_schema SET version = version + 1")
    with pytest.raises(StoreOpenError, match=r"schema version 5 is newer .*\(4\); upgrade"):
        Store(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE spabench_schema SET version = 4, application_id = 7")
    with pytest.raises(StoreOpenError, match="not spabench records"):
        Store(pg_url)


def test_reading_an_empty_database_creates_nothing(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_server.fresh_database(template=None)
    with pytest.raises(NoRecordsDatabase, match="no records on the server"):
        Store(url, read_only=True)
    one_line(spabench(capsys, "history", SERIAL, "--db", url), 2, "no records on the server")
    with Store(url) as store:  # a writer creates them
        register(store)
    with Store(url, read_only=True) as reader:
        assert reader.unit(SERIAL).owner == "Jo Customer"
        with pytest.raises(DatabaseError, match="read-only"):
            reader.add_unit("SN-2", "premium-4", date(2025, 1, 1))
    postgres_server.drop_database(url)


def test_history_cannot_be_truncated_on_a_server(pg_url: str) -> None:
    """TRUNCATE passes row triggers by: the append-only tables refuse it themselves."""
    tables = ["order_status", "contacts", "parts_replaced", "agreement_changes", "notes",
              "runs", "run_steps", "run_frames", "orders"]  # fmt: skip
    with Store(pg_url) as store:
        workflow(store)
        for table in tables:
            with pytest.raises(IntegrityError, match=r"^spabench: .*(append-only|never)"):
                store._conn.execute(f"TRUNCATE {table} CASCADE")
        counted = store._conn.execute("SELECT count(*) FROM run_frames").fetchone()
        assert counted is not None and counted[0] == 4


def test_a_server_is_shown_without_its_password() -> None:
    shown = [
        display("postgresql://bench:pw@server/spabench"),
        display("postgres://server:5433/records?connect_timeout=3"),
        display("postgresql:///spabench?host=/run/postgresql&password=pw"),
    ]
    assert shown == [
        "postgresql://bench@server:5432/spabench",
        "postgresql://server:5433/records",
        "postgresql:///spabench?host=/run/postgresql&port=5432",
    ]


# ------------------------------------------------------------------- the connection wrapper


def test_placeholders_are_translated_outside_literals_only(pg_url: str) -> None:
    with Store(pg_url) as store:
        row = store._conn.execute(
            "SELECT '?' AS q, 'it''s 100%' AS pct, ? AS v, '7'::integer AS n, \"?\" -- ?\n"
            'FROM (SELECT 1 AS "?") AS t /* :not_a_name ? */',
            ("value",),
        ).fetchone()
        assert tuple(row) == ("?", "it's 100%", "value", 7, 1)
        assert (row["q"], row["V"], row[2]) == ("?", "value", "value")
        assert row.keys() == ["q", "pct", "v", "n", "?"]
        named = store._conn.execute("SELECT :a || :b || :a AS s", {"a": "x", "b": "%"}).fetchone()
        assert named["s"] == "x%x"
        flag = store._conn.execute("SELECT ? + 0 AS one", (True,)).fetchone()
        assert flag["one"] == 1


def test_the_command_line_keeps_units_and_orders_on_a_server(
    capsys: pytest.CaptureFixture[str], pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    add = ("--serial", SERIAL, "--profile", "premium-4", "--purchase-date", "2025-06-01")
    code, out, err = spabench(capsys, "unit", "add", "--db", pg_url, *add)
    assert (code, err) == (0, ""), err
    monkeypatch.setenv("SPABENCH_DB", pg_url)
    code, out, err = spabench(capsys, "order", "open", "--serial", SERIAL, "--symptom", "no heat")
    assert (code, err) == (0, "") and out.strip() == "1", err
    assert spabench(capsys, "order", "status", "1", "diagnosed")[0] == 0
    one_line(spabench(capsys, "order", "status", "1", "verified"), 2, "cannot change status")
    code, out, err = spabench(capsys, "order", "show", "1")
    assert code == 0 and "diagnosed" in out and "no heat" in out


def test_migrations_ship_for_both_dialects_or_shared(tmp_path: Path) -> None:
    assert all(m.postgresql is not None for m in MIGRATIONS)  # 0001-0004 differ by dialect
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (tmp_path / "0002_b.sqlite.sql").write_text("CREATE TABLE b (x INTEGER);")
    with pytest.raises(ValueError, match=r"0002_b needs .* both"):
        load(tmp_path)
    (tmp_path / "0002_b.postgresql.sql").write_text("CREATE TABLE b (x BIGINT);")
    shared, split = load(tmp_path)
    assert shared.script("postgresql") == shared.script("sqlite")
    assert split.script("postgresql") != split.script("sqlite")
