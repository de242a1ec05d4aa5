"""The review of offline-first filing (issue 14), finding by finding: each test failed before
its fix.

What is judged is what a user sees or relies on: the lines ``spabench run``/``sync``/
``status``/``station run`` print and their exit codes, what the console's run screen shows,
and the records on the server (on a real PostgreSQL server through ``pg_url`` where the
server's own behaviour is the point: its error classes, its timeouts, its order rules).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cli_runner import one_line, spabench
from support.records import SERIAL, filter_pump_failure, passing_verification
from test_console import BIG, NOW, advance, in_event_loop, run_plan_to_end, shown
from test_journal import (
    LINK_PLAN,
    SHOWN,
    URL,
    WAIT_S,
    StandIn,
    a_smoke_run,
    another,
    run_smoke,
    workshop_server,
)
from test_journal import SERIAL as SERIAL_J

from bench.cli.console import start_uploads
from bench.console.app import ConsoleApp
from bench.console.session import Session
from bench.console.stepped import SteppedDriver
from bench.console.targets import virtual_target
from bench.records import destination
from bench.records.database import IntegrityError, StoreError, utc_now
from bench.records.destination import RunDestination
from bench.records.journal import JournalStore, journal_path
from bench.records.orders import IllegalTransition
from bench.records.store import Store
from bench.testing.record import TestRecord
from protocols.mspa.parts import lookup
from spasim.pytest_plugin import ServedUnit

PUMP = lookup("B9300929")
REPAIRED = datetime(2026, 3, 20, 11, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """A workshop whose records server is a stand-in file (tests/test_journal.py)."""
    return workshop_server(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def smoke_record() -> TestRecord:
    """One finished record of a virtual smoke run (copied under new ids where needed)."""
    return a_smoke_run()


def _record(base: TestRecord, *, plan: str, started_at: str) -> TestRecord:
    record = copy.deepcopy(base)
    record.record_id = uuid.uuid4().hex
    record.plan = plan
    record.started_at = started_at
    return record


def _repaired_order(store: Store) -> int:
    """An order repaired at :data:`REPAIRED` (the pump fitted an hour before)."""
    store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
    start = REPAIRED - timedelta(hours=3)
    order = store.open_order(SERIAL, "no heat", agreement="repair", now=start)
    store.set_status(order, "diagnosed", now=start + timedelta(hours=1))
    store.add_part(order, PUMP.number, now=start + timedelta(hours=2))
    store.set_status(order, "repaired", now=REPAIRED)
    return order


# -- finding 3: failures are answered by runs that STARTED later, not uploaded later --------


def test_a_failing_run_uploaded_late_is_judged_by_when_it_started(records_location: str) -> None:
    """A bench that was offline uploads its failing run after another bench's later pass:
    the pass answers it (Python's check and the schema's alike); a failure that started
    after the pass still blocks, whichever was uploaded first."""
    passing = passing_verification()
    failing = filter_pump_failure()
    with Store(records_location) as store:
        order = _repaired_order(store)
        store.import_run(
            _record(
                passing, plan="verify-filter-pump", started_at="2026-03-21T10:00:00.250000+00:00"
            ),
            order_id=order,
        )
        store.import_run(  # uploaded second, started an hour before the pass
            _record(
                failing, plan="verify-filter-pump", started_at="2026-03-21T09:00:00.500000+00:00"
            ),
            order_id=order,
        )
        assert store.set_status(order, "verified").status == "verified"
        assert store.set_status(order, "handed-back").status == "handed-back"

        other = store.open_order(SERIAL, "no heat again", agreement="repair")
        store.set_status(other, "diagnosed")
        store.add_part(other, PUMP.number)
        repaired = store.set_status(other, "repaired").status_at
        late = (repaired + timedelta(hours=2)).isoformat(timespec="microseconds")
        early = (repaired + timedelta(hours=1)).isoformat(timespec="microseconds")
        store.import_run(
            _record(failing, plan="verify-filter-pump", started_at=late), order_id=other
        )
        store.import_run(
            _record(passing, plan="verify-filter-pump", started_at=early), order_id=other
        )
        with pytest.raises(IllegalTransition, match="ended fail and no later"):
            store.set_status(other, "verified")
        (run,) = [r.id for r in store.runs_for_order(other) if r.status == "pass"]
        at = (repaired + timedelta(hours=3)).isoformat(timespec="microseconds")
        with pytest.raises(IntegrityError, match="a run failed since the repair"):
            store._conn.execute(  # a writer that checks nothing itself: the schema refuses
                "INSERT INTO order_status (order_id, status, at, note, run_id)"
                " VALUES (?, 'verified', ?, 'by hand', ?)",
                (other, at, run),
            )


# -- finding 2: a server URL that does not parse ----------------------------------------------

BAD_URL = "postgresql://bench:s3cr3t-pw@[::1:47311/shop"
STATION = '[[channel]]\nname = "A"\nport = "/dev/null"\nprofile = "premium-4"\nunit = "SN-1"\n'


@pytest.mark.parametrize(
    "command",
    [
        ("run", "--virtual", "--plan", "smoke", "--unit", "SN-1"),
        ("station", "run", "STATION", "--plan", "smoke"),
        ("console", "--virtual", "--unit", "SN-1"),
        ("sync",),
        ("status",),
        ("unit", "show", "SN-1"),
        ("history", "SN-1"),
    ],
    ids=lambda command: command[0],
)
@pytest.mark.parametrize("given", ["--db", "$SPABENCH_DB"])
def test_a_server_url_that_does_not_parse_is_refused_before_anything_runs(
    command: tuple[str, ...],
    given: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SPABENCH_JOURNAL", str(journal))
    station = tmp_path / "station.toml"
    station.write_text(STATION)
    args = [str(station) if arg == "STATION" else arg for arg in command]
    if given == "--db":
        args += ["--db", BAD_URL]
    else:
        monkeypatch.setenv("SPABENCH_DB", BAD_URL)
    result = spabench(capsys, *args)
    err = one_line(result, 2, "postgresql://bench@[::1:47311/shop", "does not parse")
    assert "s3cr3t" not in result[1] + err
    assert result[1] == ""  # nothing ran: no run, no table, no upload line
    assert not journal.exists()


def test_a_driver_message_that_echoes_an_unreadable_url_loses_its_password() -> None:
    from bench.records.backends.postgresql import display, url_problem

    problem = url_problem(BAD_URL)
    assert problem is not None and "s3cr3t" not in problem and "[::1:47311/shop" in problem
    assert url_problem("postgresql://bench:pw@127.0.0.1:5432/shop") is None
    assert "s3cr3t" not in display(BAD_URL)


# -- findings 4, 8, 9, 10: what the server refuses, and what the bench says -----------------


def _journal_run(journal: Path, record: TestRecord, **filed: Any) -> int:
    """``record`` filed (finished) in the journal as a bench files it; its journal run."""
    with JournalStore(journal) as store:
        run_id = store.begin_run(record, unit_serial=record.unit.serial, **filed)
        store.finish_run(run_id, record)
    return run_id


def test_a_run_on_an_order_handed_back_after_it_started_is_accepted(
    records_location: str, smoke_record: TestRecord
) -> None:
    with Store(records_location) as store:
        store.add_unit(SERIAL_J, "premium-4", date(2025, 6, 1))
        order = store.open_order(SERIAL_J, "no heat")
        store.set_status(order, "diagnosed")
        before = another(smoke_record, started_at=utc_now().isoformat(timespec="microseconds"))
        handed_back = store.set_status(order, "handed-back").status_at
        after = another(smoke_record, started_at=utc_now().isoformat(timespec="microseconds"))
        assert before.started_at < handed_back.isoformat(timespec="microseconds")
        run_id, new = store.import_run(before, order_id=order, allow_simulated=True)
        assert new and [run.id for run in store.runs_for_order(order)] == [run_id]
        with pytest.raises(StoreError, match=f"order {order} was handed back .* before this run"):
            store.import_run(after, order_id=order, allow_simulated=True)


def test_sync_gets_every_run_to_the_server_refused_ones_included(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run on an order handed back before it started, and one on a mistyped serial: both
    refused, and sync says so (exit 1) until the technician acts; then they go up."""
    with Store(server.path) as store:
        order = store.open_order(SERIAL_J, "no heat")
        store.set_status(order, "diagnosed")
        store.set_status(order, "handed-back")
    server.down()
    assert run_smoke(capsys, "--order", str(order), "--simulated")[0] == 0
    code, _, err = spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", "SN-TYPO")
    assert code == 0, err  # offline: the unit cannot be checked
    server.up()

    code, out, err = spabench(capsys, "sync")
    assert code == 1, (out, err)
    lines = out.splitlines()
    assert lines[0].startswith(f"journal run 1 (unit {SERIAL_J}, smoke, pass) refused by {SHOWN}")
    assert f"order {order} was handed back" in lines[0]
    assert "--without-order 1" in lines[0]
    assert lines[1].startswith(f"journal run 2 (unit SN-TYPO, smoke, pass) refused by {SHOWN}")
    assert "unit 'SN-TYPO' is not registered" in lines[1] and "--retry-refused" in lines[1]
    assert lines[2].startswith("0 uploaded, 0 already there, 2 refused now; 0 waiting, 2 refused")
    assert server.runs() == []

    code, out, _ = spabench(capsys, "sync")  # nothing newly refused, but they still wait
    assert code == 1 and out.startswith("0 uploaded, 0 already there, 0 refused now; 0 waiting, 2")

    with Store(server.path) as store:
        store.add_unit("SN-TYPO", "premium-4", date(2025, 6, 1))
    code, out, err = spabench(capsys, "sync", "--retry-refused")
    assert code == 1, err
    assert "uploaded journal run 2 as run 1" in out
    assert f"journal run 1 (unit {SERIAL_J}, smoke, pass) refused" in out  # still handed back

    code, out, err = spabench(capsys, "sync", "--without-order", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"journal run 1 goes up without its order {order} (--without-order 1)"
    assert lines[1].startswith("uploaded journal run 1 as run 2")
    assert lines[2].startswith("1 uploaded, 0 already there, 0 refused now; 0 waiting, 0 refused")
    with Store(server.path) as store:
        assert store.runs_for_order(order) == []
        assert [run.id for run in store.runs_for_unit(SERIAL_J)] == [2]

    one_line(spabench(capsys, "sync", "--without-order", "1"), 2, "journal run 1", "uploaded")
    one_line(spabench(capsys, "sync", "--without-order", "9"), 2, "no run 9 in the journal")


@pytest.mark.timeout(120)
def test_what_the_server_refuses_is_said_for_what_it_is_and_a_bad_run_blocks_nothing(
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smoke_record: TestRecord,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a real server: a role that may not insert runs ("permission denied", the run waits,
    not "unreachable"); a NUL in a journal run's serial (refused for good, the next run goes
    up)."""
    journal = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SPABENCH_JOURNAL", str(journal))
    with Store(pg_url) as store:
        store.add_unit(SERIAL_J, "premium-4", date(2025, 6, 1))
    clerk = pg_url.replace("://spabench@", "://clerk@")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("CREATE ROLE clerk LOGIN")
        admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO clerk")
    try:
        _journal_run(journal, another(smoke_record))
        result = spabench(capsys, "sync", "--db", clerk)
        one_line(result, 3, "records server refused: permission denied for table runs")
        assert "unreachable" not in result[2] and "1 run waits" in result[2]
        status = json.loads(spabench(capsys, "status", "--db", clerk, "--json")[1])
        assert [w["last_error"] for w in status["waiting"]] == [
            "records server refused: permission denied for table runs"
        ]
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("DROP OWNED BY clerk")
            admin.execute("DROP ROLE clerk")

    bad = another(smoke_record)
    bad.unit.serial = "SN\x001"
    _journal_run(journal, bad)
    _journal_run(journal, another(smoke_record))
    code, out, err = spabench(capsys, "sync", "--db", pg_url)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith("uploaded journal run 1 as run 1")
    assert lines[1].startswith("journal run 2 (unit 'SN\\x001', smoke, pass) refused by")
    assert "cannot contain NUL" in lines[1] and "\x00" not in out
    assert lines[2].startswith("uploaded journal run 3 as run 2")


def test_a_lock_held_too_long_is_said_in_one_line_and_the_run_waits(
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smoke_record: TestRecord,
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SPABENCH_JOURNAL", str(journal))
    monkeypatch.setattr(destination, "open_server_store", lambda url: Store(url, timeout=0.2))
    with Store(pg_url) as store:
        store.add_unit(SERIAL_J, "premium-4", date(2025, 6, 1))
        order = store.open_order(SERIAL_J, "no heat")
    _journal_run(journal, another(smoke_record), order_id=order, allow_simulated=True)
    with psycopg.connect(pg_url) as other_bench:  # holds the order, in an open transaction
        other_bench.execute("SELECT 1 FROM orders WHERE id = %s FOR UPDATE", (order,))
        result = spabench(capsys, "sync", "--db", pg_url)
    one_line(
        result,
        3,
        "records server refused: the records server is busy (another bench holds a lock)",
        "1 run waits",
    )
    code, out, err = spabench(capsys, "sync", "--db", pg_url)
    assert code == 0 and out.startswith("uploaded journal run 1 as run 1"), (out, err)


@pytest.mark.parametrize(
    "command",
    [
        ("run", "--virtual", "--plan", "smoke", "--unit", "SN\x001"),
        ("run", "--virtual", "--plan", "smoke", "--unit", "SN1", "--operator", "ada\x1b[2J"),
        ("console", "--virtual", "--unit", "SN\x7f1"),
        ("station", "run", "STATION", "--plan", "smoke", "--unit", "A=SN\x001"),
    ],
    ids=["run-serial", "run-operator", "console", "station"],
)
def test_control_characters_in_identifying_text_are_refused_at_filing_time(
    command: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    station = tmp_path / "station.toml"
    station.write_text(STATION)
    args = [str(station) if arg == "STATION" else arg for arg in command]
    db = tmp_path / "records.sqlite3"
    result = spabench(capsys, *args, "--db", str(db))
    one_line(result, 2, "control character")
    assert "\x00" not in result[2] and "\x1b" not in result[2] and result[1] == ""


def test_a_station_file_serial_with_a_control_character_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    station = tmp_path / "station.toml"
    station.write_text(STATION.replace('unit = "SN-1"', 'unit = "SN\\u00001"'))
    result = spabench(capsys, "station", "run", str(station), "--db", str(tmp_path / "r.sqlite3"))
    one_line(result, 2, "channel A", "control character")


def test_a_run_another_process_uploaded_meanwhile_is_reported_as_on_the_server(
    server: StandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another bench process on this PC syncs between the run's end and its own upload:
    the last line still gives the server's run number (the journal knows it)."""
    original = RunDestination.after_runs
    calls: list[str] = []

    def other_process_first(self: RunDestination, say: Any = None) -> Any:
        calls.append("after_runs")
        if len(calls) == 2:  # the run's end (the first: before the run, what waited)
            other = server.bench("sync")
            assert other.stdout.startswith("uploaded journal run 1 as run 1"), other
        return original(self, say) if say is not None else original(self)

    monkeypatch.setattr(RunDestination, "after_runs", other_process_first)
    code, out, err = run_smoke(capsys)
    assert code == 0, err
    assert out.rstrip().endswith(f"filed as run 1 on {SHOWN}")
    assert "kept in the journal" not in out + err


# -- finding 5: one journal per server, whatever the spelling; runs only to their server -----


def test_every_spelling_of_one_server_keys_one_journal_even_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPABENCH_JOURNAL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    spellings = [
        "postgresql://bench:pw@localhost/shop",
        "postgresql://other-role@127.0.0.1:5432/shop",
        "postgresql://bench@[::1]:5432/shop?password=x",
        "postgres://127.0.0.2/shop?user=clerk",
    ]
    assert len({journal_path(url) for url in spellings}) == 1
    assert journal_path("postgresql://bench@localhost/other") != journal_path(spellings[0])
    assert journal_path("postgresql://bench@localhost:5433/shop") != journal_path(spellings[0])

    lookups: list[str] = []

    def online(name: str, *_args: Any, **_kwargs: Any) -> list[Any]:
        lookups.append(name)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", online)
    by_name = journal_path("postgresql://bench@records.lan/shop")
    assert by_name == journal_path("postgresql://bench@10.1.2.3/shop") and lookups

    def offline(name: str, *_args: Any, **_kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)  # the cable pulled: no DNS
    assert journal_path("postgresql://bench@Records.LAN./shop") == by_name


def test_runs_go_only_to_the_server_they_were_filed_for(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "postgresql://bench:pw@records.example/other"
    server.down()
    assert run_smoke(capsys)[0] == 0  # filed for .../workshop, in $SPABENCH_JOURNAL
    server.up()
    code, out, err = spabench(capsys, "sync", "--db", other)
    assert code == 1, err
    assert out.splitlines()[1] == (
        f"1 run waits in the journal {server.journal} for another records server, {SHOWN}: "
        f"not uploaded to postgresql://bench@records.example:5432/other (spabench sync --db "
        f"{SHOWN} uploads it)"
    )
    assert server.runs() == []
    status = json.loads(spabench(capsys, "status", "--db", other, "--json")[1])
    assert status["waiting"] == []
    assert status["elsewhere"] == [{"journal": str(server.journal), "server": SHOWN, "waiting": 1}]

    code, out, err = spabench(capsys, "sync")
    assert code == 0, err
    assert out.startswith(f"uploaded journal run 1 as run 1 to {SHOWN}")


def test_status_lists_the_other_journals_that_hold_waiting_runs(
    server: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bench once pointed at another server: its runs there are not forgotten."""
    monkeypatch.delenv("SPABENCH_JOURNAL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    server.down()
    old = "postgresql://bench@records.example/old-shop"
    assert run_smoke(capsys, "--db", old)[0] == 0
    assert run_smoke(capsys, "--db", old)[0] == 0
    code, out, err = spabench(capsys, "status")
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if "another records server" in line]
    shown_old = "postgresql://bench@records.example:5432/old-shop"
    assert line.startswith(f"journal {journal_path(old)}: 2 runs wait for another records")
    assert f"server, {shown_old} (spabench sync --db {shown_old} uploads them" in line
    status = json.loads(spabench(capsys, "status", "--json")[1])
    assert status["elsewhere"] == [
        {"journal": str(journal_path(old)), "server": shown_old, "waiting": 2}
    ]


# -- finding 1: a journal run's number is never shown as the server's -------------------------


def _after_run_threads_done() -> None:
    """The console hands a finished run on in a thread of its own: wait for it (bounded)."""
    for thread in threading.enumerate():
        if thread.name == "spabench-console-after-run":
            thread.join(WAIT_S)
            assert not thread.is_alive()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
@in_event_loop
async def test_the_console_shows_the_journal_number_until_the_server_gives_its_own(
    online: bool, server: StandIn, smoke_record: TestRecord
) -> None:
    with Store(server.path) as store:  # the server numbers runs of other benches too
        for _ in range(2):
            store.import_run(another(smoke_record))
    if not online:
        server.down()
    target = virtual_target("premium-4", faults=(), serial=SERIAL_J, make_driver=SteppedDriver)
    session = Session(target, db_path=URL)
    driver = session.inner
    assert isinstance(driver, SteppedDriver)
    app = ConsoleApp(session, db_path=URL, now=lambda: NOW)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await run_plan_to_end(app, pilot, driver, "smoke", {"bubbles-visible": "y"})
        _after_run_threads_done()
        await advance(app, pilot, driver, 1)
        text = await shown(pilot)
    if online:
        assert f"filed as run 3 on {SHOWN}" in text
        assert "filed as run 1" not in text and "journal run 1" not in text
    else:
        assert "filed as journal run 1: waits in the journal" in text
        assert "filed as run" not in text


@pytest.mark.timeout(120)
@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
def test_a_station_shows_journal_numbers_until_the_server_gives_its_own(
    online: bool,
    server: StandIn,
    smoke_record: TestRecord,
    launch: Callable[..., ServedUnit],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Store(server.path) as store:
        store.add_unit("SN-J2", "premium-4", date(2025, 6, 1))
        for _ in range(2):
            store.import_run(another(smoke_record))
    plan = tmp_path / "link.toml"
    plan.write_text(LINK_PLAN)
    station = tmp_path / "station.toml"
    station.write_text(
        "".join(
            f'[[channel]]\nname = "{name}"\nport = "{box.url}"\nprofile = "premium-4"\n'
            f'speed = 10\nsimulated = true\nunit = "{serial}"\n'
            for name, box, serial in (
                ("A", launch("--pty", speed=10.0), SERIAL_J),
                ("B", launch("--pty", speed=10.0), "SN-J2"),
            )
        )
    )
    if not online:
        server.down()
    code, out, err = spabench(capsys, "station", "run", str(station), "--plan", str(plan))
    assert code == 0, f"exit {code}\n{out}\n{err}"
    rows = {row.split("│")[1].strip(): row for row in out.splitlines() if row.count("│") > 5}
    numbers = {name: re.findall(r"│ ((?:journal )?run \d+) *│", row) for name, row in rows.items()}
    began = re.findall(r"channel \w: ((?:journal )?run \d+): plan link", out)
    assert sorted(began) == ["journal run 1", "journal run 2"], out
    shown_numbers = sorted(number for found in numbers.values() for number in found)
    if online:
        assert shown_numbers == ["run 3", "run 4"], out
    else:
        assert shown_numbers == ["journal run 1", "journal run 2"], out


# -- finding 7: a long-lived process uploads what waits by itself -----------------------------


@pytest.mark.timeout(120)
@in_event_loop
async def test_an_idle_console_uploads_what_waits_once_the_server_answers(
    server: StandIn, smoke_record: TestRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = another(smoke_record)
    _journal_run(server.journal, waiting)  # filed while the server was away
    server.down()
    target = virtual_target("premium-4", faults=(), serial=SERIAL_J, make_driver=SteppedDriver)
    session = Session(target, db_path=URL)
    driver = session.inner
    assert isinstance(driver, SteppedDriver)
    told: list[str] = []
    unreachable, uploaded = threading.Event(), threading.Event()
    tell = session.tell

    def heard(line: str) -> None:
        told.append(line)
        (uploaded if line.startswith("uploaded") else unreachable).set()
        tell(line)

    monkeypatch.setattr(session, "tell", heard)
    app = ConsoleApp(session, db_path=URL, now=lambda: NOW)
    retrying = start_uploads(app, URL, interval_s=0.05)
    assert retrying is not None
    try:
        async with app.run_test(size=BIG) as pilot:
            await advance(app, pilot, driver, 1)
            assert unreachable.wait(WAIT_S)
            assert told == [
                "records server unreachable: 1 run waits in the journal (spabench sync uploads it)"
            ]
            server.up()  # nobody runs anything: the console uploads by itself
            assert uploaded.wait(WAIT_S), told
            await advance(app, pilot, driver, 1)
            await pilot.pause()
            notice = app.snapshot.notice
            toasts = [toast.message for toast in app._notifications]
    finally:
        retrying.stop()
    assert notice == f"uploaded run 1 to {SHOWN}"  # the console's notice: a toast on screen
    assert toasts[-1] == notice, toasts
    assert server.runs() == [waiting]


# -- finding 6: a server that stops answering mid-upload costs a bounded wait ----------------

FREEZER = """
import os, signal, sys
import psycopg
from bench.records import destination
from bench.records.store import Store

opened = []

def freeze_on_open(url):
    store = Store(url)
    opened.append(url)
    if len(opened) == int(os.environ["FREEZE_AT"]):  # this opening's server process freezes
        with psycopg.connect(url, autocommit=True) as admin:
            (pid,) = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'spabench' AND backend_type = 'client backend'"
            ).fetchone()
        os.kill(pid, signal.SIGSTOP)
        print(f"frozen {pid}", file=sys.stderr, flush=True)
    return store

destination.open_server_store = freeze_on_open
from bench.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""``spabench`` whose records server freezes (SIGSTOP: its process neither answers nor
cancels) right after the ``FREEZE_AT``-th opening — as a server host that hangs."""


@contextlib.contextmanager
def freezing(
    tmp_path: Path, pg_url: str, *args: str, freeze_at: int, **env: str
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``spabench ARGS --db PG_URL`` with the server freezing (see :data:`FREEZER`): the
    process and the frozen server process, thawed (SIGCONT) however the test ends."""
    script = tmp_path / "freezer.py"
    script.write_text(FREEZER)
    bench = subprocess.Popen(
        [sys.executable, str(script), *args, "--db", pg_url],
        env={**os.environ, "FREEZE_AT": str(freeze_at), "COLUMNS": "250", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    frozen = 0
    try:
        assert bench.stderr is not None
        for line in iter(bench.stderr.readline, ""):
            if line.startswith("frozen "):
                frozen = int(line.split()[1])
                break
        assert frozen, "the server never froze"
        yield bench, frozen
    finally:
        if frozen:
            os.kill(frozen, signal.SIGCONT)
        if bench.poll() is None:
            bench.kill()
        bench.communicate()


@pytest.mark.timeout(120)
def test_an_upload_to_a_server_that_stops_answering_is_given_up_in_bounded_time(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smoke_record: TestRecord
) -> None:
    journal = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SPABENCH_JOURNAL", str(journal))
    with Store(pg_url) as store:
        store.add_unit(SERIAL_J, "premium-4", date(2025, 6, 1))
    _journal_run(journal, another(smoke_record))
    started = time.monotonic()
    with freezing(tmp_path, pg_url, "sync", freeze_at=1, SPABENCH_UPLOAD_TIMEOUT="1") as (
        bench,
        _,
    ):
        out, err = bench.communicate(timeout=WAIT_S)
    assert time.monotonic() - started < 20  # 1 s of upload, the rest is starting Python
    assert bench.returncode == 3, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "did not answer within 1 s" in err and "1 run waits in the journal" in err
    code, out, err = spabench_sync(pg_url)
    assert code == 0 and out.startswith("uploaded journal run 1 as run 1"), (out, err)


def spabench_sync(pg_url: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "sync", "--db", pg_url],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        env={**os.environ, "COLUMNS": "250"},
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["sync", "run"])
def test_ctrl_c_while_uploading_ends_the_command_with_130_and_the_run_waits(
    command: str,
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smoke_record: TestRecord,
) -> None:
    journal = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("SPABENCH_JOURNAL", str(journal))
    with Store(pg_url) as store:
        store.add_unit(SERIAL_J, "premium-4", date(2025, 6, 1))
    if command == "sync":
        _journal_run(journal, another(smoke_record))
        args: tuple[str, ...] = ("sync",)
    else:  # the unit checked (first opening), then the run's upload (second) freezes
        args = ("run", "--virtual", "--plan", "smoke", "--unit", SERIAL_J)
    with freezing(tmp_path, pg_url, *args, freeze_at=1 if command == "sync" else 2) as (
        bench,
        _,
    ):
        bench.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = bench.communicate(timeout=WAIT_S)
        assert time.monotonic() - started < 5  # at once: no wait for a cancellation
    assert bench.returncode == 130, (out, err)
    assert "Traceback" not in err and "query not terminated" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith(f"spabench {command}: interrupted"), err
    assert f"in the journal {journal}" in last and "spabench sync uploads it" in last
    code, out, err = spabench_sync(pg_url)
    assert code == 0 and out.startswith("uploaded journal run 1 as run 1"), (out, err)
