"""Many benches on one records server at once (issue 14, the proof's PostgreSQL tests).

Every bench here is a process of its own with its own connection, as on a workshop's LAN, on
one database of a real PostgreSQL server:

* 8 benches × 25 runs filed at once, live (steps and frame chunks committed as they come):
  every record is there exactly once, with all its steps and frames;
* the order rules under races, each raced a few times, the racers lined up on a barrier: two
  benches verifying one order, two handing it back, a part recorded while another bench
  verifies: the database lets exactly one through, and the loser is told in one line;
* the rules hold even for a writer that checks nothing itself: two raw INSERTs of the same
  status, both held up behind a lock on the order until both wait, then let go — one wins,
  the schema refuses the other;
* two benches opening a fresh database at once: both succeed, the schema migrated once.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any

import psycopg
import pytest
from support.live_filing import file_live
from support.postgres import PostgresServer
from support.records import SERIAL, passing_verification, varied_record

from bench.records.database import IntegrityError, StoreError
from bench.records.migrations import MIGRATIONS
from bench.records.store import Store
from bench.testing.record import UnitInfo
from protocols.mspa.parts import lookup

BENCHES = 8
RUNS_EACH = 25
RACES = 3
WAIT = 60.0
"""Wall seconds any one wait on another process may take (never reached when healthy)."""
PUMP = lookup("B9300929")
CONTEXT = multiprocessing.get_context("fork")  # a bench process: no re-import, starts fast


Outcome = tuple[str, str]
"""("ok", what) or ("refused", the one-line message) or ("error", a traceback)."""


def _bench(
    url: str, line_up: Barrier, outcomes: Any, action: Callable[[Store], str], opening: bool
) -> None:
    """One bench process: connect, wait for the others, act, report how it went (``opening``:
    the race is the opening itself, so wait first)."""
    try:
        if opening:
            line_up.wait(WAIT)
        with Store(url) as store:
            if not opening:
                line_up.wait(WAIT)
            try:
                outcomes.put(("ok", action(store)))
            except (StoreError, ValueError) as refusal:
                outcomes.put(("refused", str(refusal)))
    except BaseException:
        line_up.abort()  # the others must not wait for this one
        outcomes.put(("error", traceback.format_exc()))


def race(url: str, *actions: Callable[[Store], str], opening: bool = False) -> list[Outcome]:
    """Run each action in a bench process of its own, all let go at once (connected, or with
    ``opening`` about to connect); their outcomes in the order of ``actions``."""
    line_up = CONTEXT.Barrier(len(actions))
    queues = [CONTEXT.SimpleQueue() for _ in actions]
    benches = [
        CONTEXT.Process(target=_bench, args=(url, line_up, queue, action, opening))
        for queue, action in zip(queues, actions, strict=True)
    ]
    for bench in benches:
        bench.start()
    for bench in benches:
        bench.join(WAIT)
        assert bench.exitcode == 0, f"a bench process ended with {bench.exitcode}"
    outcomes: list[Outcome] = [queue.get() for queue in queues]
    errors = [text for kind, text in outcomes if kind == "error"]
    assert not errors, "\n".join(errors)
    return outcomes


# --------------------------------------------------------------------- many benches filing


def _file_runs(bench: int) -> Callable[[Store], str]:
    def action(store: Store) -> str:
        template = varied_record(random.Random(bench), fail=bench % 2 == 0)
        unit = UnitInfo(serial=f"SN-{bench}", profile="premium-4")
        filed = []
        for index in range(RUNS_EACH):
            moment = datetime(2026, 3, 20, 8, tzinfo=UTC) + timedelta(minutes=index)
            record = replace(
                template,
                record_id=uuid.uuid4().hex,
                unit=unit,
                started_at=moment.isoformat(),
                finished_at=(moment + timedelta(seconds=50)).isoformat(),
            )
            file_live(store, record)
            filed.append(record.record_id)
        return ",".join(filed)

    return action


def test_eight_benches_filing_at_once_lose_and_duplicate_nothing(pg_url: str) -> None:
    outcomes = race(pg_url, *(_file_runs(bench) for bench in range(BENCHES)))
    filed = [record_id for _, ids in outcomes for record_id in ids.split(",")]
    assert len(filed) == len(set(filed)) == BENCHES * RUNS_EACH
    with Store(pg_url) as store:
        stored = {}
        for bench in range(BENCHES):
            for run in store.runs_for_unit(f"SN-{bench}"):
                stored[run.record_id] = run
        assert sorted(stored) == sorted(filed)
        counts = store._conn.execute(
            "SELECT count(*) AS runs, count(DISTINCT record_id) AS ids,"
            " (SELECT count(*) FROM run_steps) AS steps,"
            " (SELECT count(*) FROM run_frames) AS chunks FROM runs"
        ).fetchone()
        steps = len(varied_record(random.Random(0), fail=False).steps)
        assert tuple(counts) == (len(filed), len(filed), len(filed) * steps, len(filed) * 2)
        for run in random.Random(1).sample(sorted(stored.values(), key=lambda r: r.id), 20):
            record = store.run_record(run.id)
            assert run.status == record.verdict and run.steps_done == steps
            assert store.run_steps(run.id) == record.steps
            assert store.run_frames(run.id) == record.frames and len(record.frames) == 40


# ------------------------------------------------------------------------ the order rules


def _repaired_order(store: Store) -> int:
    """An order repaired (the pump fitted) and a passing verification run since: ready to be
    verified."""
    if not store.has_unit(SERIAL):
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
    start = datetime(2026, 3, 20, 8, tzinfo=UTC)
    order = store.open_order(SERIAL, "no heat", agreement="repair", now=start)
    store.set_status(order, "diagnosed", now=start + timedelta(hours=1))
    store.add_part(order, PUMP.number, now=start + timedelta(hours=2))
    store.set_status(order, "repaired", now=start + timedelta(hours=3))
    file_live(store, passing_verification(record_id=uuid.uuid4().hex), order)
    return order


def _set(order: int, status: str) -> Callable[[Store], str]:
    def action(store: Store) -> str:
        return store.set_status(order, status).status

    return action


def _fit_heater(order: int) -> Callable[[Store], str]:
    def action(store: Store) -> str:
        return store.add_part(order, "heater").part_number

    return action


def one_winner(outcomes: list[Outcome]) -> tuple[int, str]:
    """Exactly one racer got through; the index of the winner and the loser's words."""
    winners = [index for index, (kind, _) in enumerate(outcomes) if kind == "ok"]
    assert len(winners) == 1, outcomes
    (loser,) = (text for kind, text in outcomes if kind == "refused")
    assert "\n" not in loser and "Traceback" not in loser and "sqlite3" not in loser
    return winners[0], loser


def test_two_benches_verifying_one_order_at_once_verify_it_once(pg_url: str) -> None:
    for _ in range(RACES):
        with Store(pg_url) as store:
            order = _repaired_order(store)
        _, loser = one_winner(race(pg_url, _set(order, "verified"), _set(order, "verified")))
        assert "verified to verified" in loser or "status flow" in loser
        with Store(pg_url) as store:
            statuses = [change.status for change in store.timeline(order)]
            assert statuses.count("verified") == 1 and store.order(order).status == "verified"


def test_two_benches_handing_back_one_order_at_once_hand_it_back_once(pg_url: str) -> None:
    for _ in range(RACES):
        with Store(pg_url) as store:
            order = _repaired_order(store)
            store.set_status(order, "verified")
        _, loser = one_winner(race(pg_url, _set(order, "handed-back"), _set(order, "handed-back")))
        assert "handed-back to handed-back" in loser or "status flow" in loser
        with Store(pg_url) as store:
            statuses = [change.status for change in store.timeline(order)]
            assert statuses.count("handed-back") == 1
            assert len([c for c in store.contacts(order) if c.note == "unit handed back"]) == 1


def test_a_part_recorded_while_another_bench_verifies_keeps_the_rule(pg_url: str) -> None:
    for _ in range(RACES):
        with Store(pg_url) as store:
            order = _repaired_order(store)
        winner, loser = one_winner(race(pg_url, _fit_heater(order), _set(order, "verified")))
        with Store(pg_url) as store:
            parts = [part.part_number for part in store.parts(order)]
            status = store.order(order).status
        if winner == 0:  # the part first: the verification no longer covers it
            assert (parts, status) == ([PUMP.number, "heater"], "repaired")
            assert "cannot mark order" in loser and "heater" in loser
        else:  # verified first: no part after it
            assert (parts, status) == ([PUMP.number], "verified")
            assert f"order {order} is verified" in loser


# ------------------------------------------------------- a writer that checks nothing itself


@pytest.fixture
def held_order(pg_url: str) -> Iterator[tuple[int, int, psycopg.Connection[Any]]]:
    """An order ready to be verified (its id, its verifying run's) and a connection holding
    a lock on its row, in an open transaction."""
    with Store(pg_url) as store:
        order = _repaired_order(store)
        (run,) = [r.id for r in store.runs_for_order(order)]
    with psycopg.connect(pg_url) as holder:
        holder.execute("SELECT 1 FROM orders WHERE id = %s FOR UPDATE", (order,))
        yield order, run, holder


def _waiting_on_locks(url: str, count: int) -> None:
    """Return once ``count`` sessions wait for a lock (bounded by WAIT)."""
    deadline = time.monotonic() + WAIT
    with psycopg.connect(url, autocommit=True) as watcher:
        while True:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row is not None and row[0] >= count:
                return
            assert time.monotonic() < deadline, "the writers never queued for the order"
            time.sleep(0.01)


def test_the_schema_lets_one_of_two_blind_writers_verify_an_order(
    pg_url: str, held_order: tuple[int, int, psycopg.Connection[Any]]
) -> None:
    order, run, holder = held_order
    said: list[str] = []
    moment = datetime.now(UTC).isoformat(timespec="microseconds")  # both: neither is earlier

    def write() -> None:
        with Store(pg_url) as store:
            try:
                store._conn.execute(
                    "INSERT INTO order_status (order_id, status, at, note, run_id)"
                    " VALUES (?, 'verified', ?, 'by hand', ?)",
                    (order, moment, run),
                )
                said.append("ok")
            except IntegrityError as refusal:
                said.append(str(refusal))

    writers = [threading.Thread(target=write) for _ in range(2)]
    for writer in writers:
        writer.start()
    _waiting_on_locks(pg_url, 2)  # both checked nothing yet: they wait for the order
    holder.commit()
    for writer in writers:
        writer.join(WAIT)
    assert sorted(said) == [
        "ok",
        "spabench: the order's status cannot change to that from its current status"
        " (the status flow)",
    ]


def test_a_bench_waiting_for_an_order_decides_on_what_the_other_committed(
    pg_url: str, held_order: tuple[int, int, psycopg.Connection[Any]]
) -> None:
    order, _, holder = held_order
    said: list[str] = []

    def verify() -> None:
        with Store(pg_url) as store:
            try:
                said.append(store.set_status(order, "verified").status)
            except (StoreError, ValueError) as refusal:
                said.append(str(refusal))

    bench = threading.Thread(target=verify)
    bench.start()
    _waiting_on_locks(pg_url, 1)
    holder.execute(  # meanwhile another bench sent the order back to diagnosis
        "INSERT INTO order_status (order_id, status, at, note) VALUES (%s, 'diagnosed', %s, '')",
        (order, datetime.now(UTC).isoformat(timespec="microseconds")),
    )
    holder.commit()
    bench.join(WAIT)
    assert said == ["cannot change status from diagnosed to verified (allowed next: "
                    "awaiting-approval, repaired, handed-back)"]  # fmt: skip


# ------------------------------------------------------------------------------ migrating


def test_two_benches_opening_a_fresh_database_at_once_migrate_it_once(
    postgres_server: PostgresServer,
) -> None:
    for _ in range(RACES):
        url = postgres_server.fresh_database(template=None)
        outcomes = race(url, *([lambda store: str(store.schema_version())] * 2), opening=True)
        assert outcomes == [("ok", str(len(MIGRATIONS)))] * 2
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT application_id, version FROM spabench_schema").fetchall()
            assert [version for _, version in rows] == [len(MIGRATIONS)]
        postgres_server.drop_database(url)
