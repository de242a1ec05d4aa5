"""The records store: schema, the runner's run API, immutability, crashes, concurrency,
refusing files it must not touch.

The records it stores (a filter-pump failure and a passing verification run) come from
:mod:`support.records`, shared with the other records tests and the records benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.records import (
    NOW,
    SERIAL,
    batch,
    filter_pump_failure,
    passing_verification,
    power_on_step,
    register,
    started,
    store_run,
)

from bench.records.database import NotFound, StoreError, StoreOpenError, default_db_path
from bench.records.exports import canonical_json, record_sha256
from bench.records.liveness import process_alive, process_start_token
from bench.records.migrations import APPLICATION_ID, MIGRATIONS, Migration
from bench.records.run_records import RunFinished
from bench.records.store import Store

PYTHON = sys.executable
CLI = "import sys; from bench.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "records.sqlite3") as opened:
        yield opened


# -------------------------------------------------------------------------------- schema


def test_a_new_database_is_versioned_wal_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "records.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with Store(path) as store:
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store._conn.execute(
            "INSERT INTO contacts (order_id, at) VALUES (999, '2026-01-01T00:00:00+00:00')"
        )


def test_forward_migration_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    with Store(path) as old:
        register(old)
    added = Migration(
        len(MIGRATIONS) + 1, "unit_colour", "ALTER TABLE units ADD COLUMN colour TEXT;"
    )
    with Store(path, migrations=(*MIGRATIONS, added)) as new:
        assert new.unit(SERIAL).owner == "Jo Customer"
        assert new._conn.execute("PRAGMA user_version").fetchone()[0] == added.version
        assert new._conn.execute("SELECT colour FROM units").fetchone()[0] is None


def test_a_failing_migration_leaves_the_old_version(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    Store(path).close()
    broken = Migration(len(MIGRATIONS) + 1, "broken", "CREATE TABLE x (a);\nSELECT * FROM nope;")
    with pytest.raises(StoreOpenError, match="nope"):
        Store(path, migrations=(*MIGRATIONS, broken))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'x'").fetchone()[0] == 0
    conn.close()


def _bytes_of(path: Path) -> bytes:
    return path.read_bytes()


def test_a_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    before = _bytes_of(path)
    with pytest.raises(StoreOpenError) as caught:
        Store(path)
    assert "\n" not in str(caught.value)
    assert "left untouched" in str(caught.value)
    assert _bytes_of(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.sqlite3"]


def test_a_damaged_database_page_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    with Store(path) as store:
        register(store)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wipe the schema page after the header
    path.write_bytes(bytes(data))
    before = _bytes_of(path)
    with pytest.raises(StoreOpenError):
        Store(path)
    assert _bytes_of(path) == before


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    with Store(path) as store:
        register(store)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = _bytes_of(path)
    with pytest.raises(StoreOpenError, match="newer than this spabench") as caught:
        Store(path)
    assert "\n" not in str(caught.value)
    assert _bytes_of(path) == before


def test_another_applications_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photos.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = _bytes_of(path)
    with pytest.raises(StoreOpenError, match="not a spabench records database"):
        Store(path)
    assert _bytes_of(path) == before


def test_default_path_env_then_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPABENCH_DB", "/somewhere/bench.sqlite3")
    assert default_db_path() == Path("/somewhere/bench.sqlite3")
    monkeypatch.delenv("SPABENCH_DB")
    path = default_db_path()
    assert path.name == "records.sqlite3"
    assert "spabench" in path.parent.name


# ------------------------------------------------------------------------- units, orders


def test_units_round_trip_and_duplicates_are_refused(store: Store) -> None:
    store.add_unit(SERIAL, "elite-6", date(2025, 2, 28), owner="Kim", original_owner=False, now=NOW)
    unit = store.unit(SERIAL)
    assert (unit.profile, unit.purchase_date, unit.owner, unit.original_owner) == (
        "elite-6",
        date(2025, 2, 28),
        "Kim",
        False,
    )
    with pytest.raises(StoreError, match="already registered"):
        store.add_unit(SERIAL, "elite-6", date(2025, 2, 28), now=NOW)
    with pytest.raises(NotFound, match="NOPE"):
        store.unit("NOPE")
    with pytest.raises(ValueError, match="future"):
        store.add_unit("X2", "elite-6", date(2026, 4, 1), now=NOW)


def test_an_order_keeps_symptom_agreement_quote_and_timeline(store: Store) -> None:
    register(store)
    order_id = store.open_order(
        SERIAL,
        "Won't heat, display says nothing <b>odd</b>",
        agreement="repair",
        quote_cents=12050,
        promised=date(2026, 3, 27),
        by="desk",
        now=NOW,
    )
    later = NOW + timedelta(hours=2)
    store.set_status(order_id, "diagnosed", by="ada", note="pump dead", now=later)
    order = store.order(order_id)
    assert order.symptom == "Won't heat, display says nothing <b>odd</b>"
    assert (order.agreement, order.quote_text, order.quote_date) == (
        "repair",
        "120.50",
        NOW.date(),
    )
    assert order.promised == date(2026, 3, 27)
    assert order.status == "diagnosed"
    timeline = store.timeline(order_id)
    assert [(c.status, c.at, c.by, c.note) for c in timeline] == [
        ("received", NOW, "desk", ""),
        ("diagnosed", later, "ada", "pump dead"),
    ]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._conn.execute("UPDATE order_status SET by = 'someone else'")


def test_parts_are_checked_against_the_catalogue(store: Store) -> None:
    register(store)
    order_id = store.open_order(SERIAL, "no bubbles", agreement="repair", now=NOW)
    store.add_part(order_id, "b9300929", 1, by="ada", now=NOW)
    store.add_part(order_id, "hoses", 2, now=NOW)
    assert [(p.part_number, p.quantity) for p in store.parts(order_id)] == [
        ("B9300929", 1),
        ("hoses", 2),
    ]
    with pytest.raises(KeyError, match="unknown part number"):
        store.add_part(order_id, "B0000000")
    with pytest.raises(ValueError, match="at least 1"):
        store.add_part(order_id, "B9300929", 0)


# -------------------------------------------------------------------------------- runs


def test_the_runner_api_stores_steps_as_they_finish_and_the_final_record(store: Store) -> None:
    register(store)
    order_id = store.open_order(SERIAL, "won't heat", now=NOW)
    record = filter_pump_failure()
    run_id = store.begin_run(started(record), unit_serial=SERIAL, order_id=order_id)
    info = store.run(run_id)
    assert (info.status, info.pid, info.steps_done, info.order_id) == (
        "running",
        os.getpid(),
        0,
        order_id,
    )
    store.add_step(run_id, record.steps[0])
    assert store.run(run_id).steps_done == 1
    assert store.run_steps(run_id) == [record.steps[0]]
    digest = store.finish_run(run_id, record)  # the last two steps arrive with the record
    info = store.run(run_id)
    assert (info.status, info.steps_done, info.summary) == ("fail", 3, record.summary)
    assert store.run_steps(run_id) == record.steps
    back = store.run_record(run_id)
    assert back == record
    assert digest == info.sha256 == record_sha256(back)
    stored = store._conn.execute("SELECT record_json FROM runs WHERE id = ?", (run_id,))
    stored_json = stored.fetchone()[0]
    assert stored_json == canonical_json(record)
    assert hashlib.sha256(stored_json.encode()).hexdigest() == digest
    assert json.loads(stored_json)["frames"][0]["hex"] == "a50900ae"


def test_a_finished_run_is_never_modified(store: Store) -> None:
    register(store)
    run_id = store_run(store, passing_verification())
    with pytest.raises(RunFinished):
        store.add_step(run_id, power_on_step())
    with pytest.raises(RunFinished):
        store.finish_run(run_id, passing_verification())
    for sql in (
        "UPDATE runs SET verdict = 'fail' WHERE id = ?",
        "UPDATE runs SET summary = 'edited' WHERE id = ?",
        "DELETE FROM runs WHERE id = ?",
        "UPDATE run_steps SET outcome = 'fail' WHERE run_id = ?",
        "DELETE FROM run_steps WHERE run_id = ?",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="spabench"):
            store._conn.execute(sql, (run_id,))
    store.add_note("pump power read 62 W, meter was 2 % high", run_id=run_id, kind="correction")
    assert [n.kind for n in store.notes(run_id=run_id)] == ["correction"]
    assert store.run_record(run_id) == passing_verification()


def test_a_running_run_can_only_be_finished(store: Store) -> None:
    register(store)
    run_id = store.begin_run(started(passing_verification()))
    with pytest.raises(sqlite3.IntegrityError, match="can only be finished"):
        store._conn.execute("UPDATE runs SET plan = 'other', pid = 1 WHERE id = ?", (run_id,))
    with pytest.raises(ValueError, match="final verdict"):
        store.finish_run(run_id, started(passing_verification()))


def test_finish_run_rejects_a_record_that_does_not_continue_the_stored_steps(
    store: Store,
) -> None:
    record = passing_verification()
    run_id = store.begin_run(started(record))
    store.add_step(run_id, record.steps[1])
    with pytest.raises(ValueError, match="do not continue"):
        store.finish_run(run_id, record)
    other = passing_verification(record_id="someone-else")
    with pytest.raises(ValueError, match="not 'someone-else'"):
        store.finish_run(run_id, other)


def test_begin_run_checks_serial_and_order(store: Store) -> None:
    register(store)
    store.add_unit("OTHER-1", "premium-4", date(2025, 1, 1), now=NOW)
    order_id = store.open_order("OTHER-1", "leaks", now=NOW)
    record = started(filter_pump_failure())
    with pytest.raises(ValueError, match="is for unit 'OTHER-1'"):
        store.begin_run(record, order_id=order_id)
    with pytest.raises(NotFound):
        store.begin_run(record, order_id=424242)
    nameless = started(filter_pump_failure())
    nameless.unit.serial = ""
    with pytest.raises(ValueError, match="needs a unit serial"):
        store.begin_run(nameless)
    store.begin_run(record)
    with pytest.raises(StoreError, match="already stored"):
        store.begin_run(record)


def test_runs_of_unregistered_units_are_kept(store: Store) -> None:
    run_id = store_run(store, passing_verification(serial="VIRTUAL-7"))
    assert [run.id for run in store.runs_for_unit("VIRTUAL-7")] == [run_id]


def test_process_liveness(tmp_path: Path) -> None:
    assert process_alive(os.getpid())
    token = process_start_token(os.getpid())
    if token is not None:  # a pid reused by another process is not the old run's process
        parent = os.getppid()
        assert process_alive(parent, process_start_token(parent))
        assert not process_alive(parent, token + "1")
    child = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid, process_start_token(child.pid))
        child.kill()
        deadline = time.monotonic() + 10
        while process_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # killed but not reaped: a zombie is not alive
        assert not process_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid)


def test_a_batch_commits_once_and_a_failed_call_undoes_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    with Store(path) as store:
        with batch(store):
            register(store)
            order_id = store.open_order(SERIAL, "leaks", now=NOW)
            with pytest.raises(ValueError):
                store.set_status(order_id, "diagnosed", now=NOW - timedelta(days=1))
            with pytest.raises(StoreError, match="do not nest"), batch(store):
                pass
            with Store(path) as other:  # nothing visible to others before the commit
                assert not other.has_unit(SERIAL)
        with Store(path) as other:
            assert other.order(order_id).status == "received"
        with pytest.raises(RuntimeError), batch(store):
            store.add_unit("GONE-1", "premium-4", date(2025, 1, 1), now=NOW)
            raise RuntimeError("import aborted")
        assert not store.has_unit("GONE-1")
        store.add_unit("AFTER-1", "premium-4", date(2025, 1, 1), now=NOW)  # usable again


def test_a_transaction_left_open_is_not_mistaken_for_a_batch(tmp_path: Path) -> None:
    """A COMMIT that failed (the disk full, a lock) leaves SQLite's transaction open; the
    next write must fail loudly, not become a savepoint nobody ever commits."""
    path = tmp_path / "records.sqlite3"
    with Store(path) as store:
        store._conn.execute("BEGIN")  # what a failed COMMIT leaves behind
        with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
            store.add_unit("LOST-1", "premium-4", date(2025, 1, 1), now=NOW)


WRITER = """
import sys, time
from bench.testing.record import Limits, Measurement, StepResult, TestRecord, UnitInfo
from bench.records.store import Store

import os
db, serial, tag, runs, steps, delay, go = sys.argv[1:8]
runs, steps, delay = int(runs), int(steps), float(delay)
while go != "-" and not os.path.exists(go):  # start together with the other writer
    time.sleep(0.001)
with Store(db) as store:
    for number in range(runs):
        record = TestRecord(
            record_id=f"{tag}-{number}", plan="smoke", operator=tag,
            unit=UnitInfo(serial=serial, profile="premium-4"),
            started_at="2026-03-21T10:00:00+00:00",
        )
        run_id = store.begin_run(record)
        for index in range(steps):
            step = StepResult(name=f"step-{index}", title=f"Step {index}", kind="link",
                              outcome="pass")
            item = Measurement(name="standby_w", unit="W", limits=Limits(low=0.5, high=5))
            item.set(2.0 + index / 100)
            step.measurements.append(item)
            record.steps.append(step)
            store.add_step(run_id, step)
            print(f"step {index}", flush=True)
            time.sleep(delay)
        if runs > 1 or delay == 0:
            record.verdict = "pass"
            store.finish_run(run_id, record)
print("done", flush=True)
"""


def _writer(tmp_path: Path, *args: object) -> subprocess.Popen[str]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen(
        [PYTHON, str(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_writing_at_once_both_succeed(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    Store(db).close()
    runs, steps = 150, 4
    go = tmp_path / "go"
    writers = [_writer(tmp_path, db, f"UNIT-{tag}", tag, runs, steps, 0, go) for tag in "AB"]
    time.sleep(0.5)  # both interpreters up and waiting
    go.touch()
    outputs = [writer.communicate(timeout=240) for writer in writers]
    for writer, (_, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr
    with Store(db) as store:
        for tag in "AB":
            history = store.runs_for_unit(f"UNIT-{tag}")
            assert len(history) == runs
            assert {run.status for run in history} == {"pass"}
            assert {run.steps_done for run in history} == {steps}
        # they really wrote at the same time: their run ids interleave
        a_ids = [run.id for run in store.runs_for_unit("UNIT-A")]
        b_ids = [run.id for run in store.runs_for_unit("UNIT-B")]
        assert max(a_ids) > min(b_ids) and max(b_ids) > min(a_ids)


def test_benches_opening_a_new_file_at_the_same_moment_all_open_it(tmp_path: Path) -> None:
    """The channels of a station open their journal together at start; on a file that does
    not exist yet, SQLite refuses a switch to WAL with "database is locked" without waiting
    for the busy timeout, so one channel ended "nothing was run" (seen in CI, issue 14)."""
    failures: list[str] = []
    for attempt in range(40):
        db = tmp_path / f"fresh-{attempt}.sqlite3"
        start = threading.Barrier(4)

        def open_it(path: Path = db, barrier: threading.Barrier = start) -> None:
            barrier.wait()
            try:
                Store(path).close()
            except StoreOpenError as error:
                failures.append(str(error))

        openers = [threading.Thread(target=open_it) for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
    assert failures == [], f"{len(failures)} of 160 opens refused, first: {failures[0]}"


@pytest.mark.parametrize("after", [1, 2, 3])
def test_a_bench_checking_a_file_while_another_creates_it_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    """A bench checks an existing file before using it (is it a spabench file, which
    version). When another bench commits the file's creation in the middle of that check,
    the check must read one state of the file, not half of each: CI saw a station channel
    refuse its own new journal as "an SQLite file but not a spabench records database"."""
    path = tmp_path / "journal.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")  # the first bench got this far: WAL, no tables
    conn.close()
    from bench.records.backends import sqlite as backend

    real_open = backend._open_read_only
    created: list[bool] = []
    reads: list[str] = []

    class Checking:
        """The checking bench's connection; after its read number ``after``, the other
        bench commits the file's creation."""

        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            cursor = self._conn.execute(sql, *args)
            if sql.strip().upper() != "BEGIN":
                reads.append(sql)
            if not created and len(reads) == after:
                created.append(True)
                Store(path).close()
            return cursor

        def __getattr__(self, name: str) -> object:
            return getattr(self._conn, name)

    monkeypatch.setattr(backend, "_open_read_only", lambda *args: Checking(real_open(*args)))
    with Store(path) as store:
        assert created, "the other bench never ran"
        register(store)
        assert store.unit(SERIAL).serial == SERIAL


def _wait_for_steps(db: Path, serial: str, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with Store(db) as store:
                runs = store.runs_for_unit(serial)
                if runs and runs[-1].steps_done >= count:
                    return
        time.sleep(0.05)
    raise AssertionError(f"the writer did not commit {count} steps in {timeout} s")


def test_a_sigkilled_run_shows_as_interrupted_with_its_completed_steps(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    serial = "KILLED-1"
    writer = _writer(tmp_path, db, serial, "K", 1, 1000, 0.2, "-")
    try:
        _wait_for_steps(db, serial, 3)
        with Store(db) as store:
            assert store.runs_for_unit(serial)[-1].status == "running"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with Store(db) as store:
        (run,) = store.runs_for_unit(serial)
        assert run.status == "interrupted"
        assert run.steps_done >= 3
        record = store.run_record(run.id)
        assert record.verdict == "interrupted"
        assert [s.name for s in record.steps][:3] == ["step-0", "step-1", "step-2"]
        assert "interrupted" in (record.error or "")
    result = subprocess.run(
        [PYTHON, "-c", CLI, "history", serial, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "interrupted" in result.stdout
    assert "step-0 pass, step-1 pass, step-2 pass" in result.stdout


def test_the_fast_canonical_form_equals_the_defined_one() -> None:
    for record in (filter_pump_failure(), passing_verification(), started(passing_verification())):
        defined = json.dumps(
            record.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert canonical_json(record) == defined
