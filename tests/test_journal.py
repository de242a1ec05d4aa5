"""Offline first: runs filed in the bench's local journal and uploaded to the records server.

What is judged is what a user sees: the lines ``spabench run``/``sync``/``status`` print,
their exit codes, and the records on the server (runs, steps, frames, each record exactly
once). The server is an SQLite records file standing in for it through the one seam there
is (``bench.records.destination.open_server_store``); "unreachable" is that opener raising
the backend's one-line :class:`StoreOpenError`, switched by a marker file so a separate
process sees the network come back. Crashes are real: ``kill -9`` of a bench process in the
middle of a run, and of a ``sync`` between the server's commit and the journal's mark.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from queue import Queue

import pytest
from cli_runner import Result, one_line, spabench

from bench.records import destination
from bench.records.database import NotFound, StoreError, StoreOpenError, shown_location, utc_now
from bench.records.destination import RunDestination, open_destination
from bench.records.filing import RunFiling
from bench.records.journal import JournalStore, journal_path
from bench.records.run_import import ImportConflict
from bench.records.store import Store
from bench.testing.plans import load_plan
from bench.testing.record import TestRecord
from bench.testing.runner import Runner
from bench.testing.targets import virtual_box_target
from spasim.pytest_plugin import ServedUnit

URL = "postgresql://bench:s3cret@records.example/workshop"
SHOWN = "postgresql://bench@records.example:5432/workshop"
SERIAL = "SN-J1"
WAIT_S = 60.0
"""Wall seconds any wait on another process may take (never reached when healthy)."""

WAITING_PLAN = """
name = "waiting"
title = "two quick steps, then a day of waiting"
[[step]]
name = "link"
type = "link-up"
[[step]]
name = "reports"
type = "reports-present"
[[step]]
name = "long-wait"
type = "wait"
seconds = 86400
"""
"""Still running after its two first steps whatever the machine's speed (--speed 100: the
wait takes 864 s of wall time), so it is killed in the middle."""

STANDIN = """
import os, signal, sys
from pathlib import Path
from bench.records import destination
from bench.records.database import StoreOpenError, shown_location
from bench.records.journal import JournalStore
from bench.records.store import Store

def open_server(url):
    if Path(os.environ["STANDIN_DOWN"]).exists():
        raise StoreOpenError(f"records server {shown_location(url)} unreachable: refused")
    barrier = os.environ.get("STANDIN_BARRIER")
    if barrier:  # every syncing process holds the server before any uploads
        Path(barrier, str(os.getpid())).touch()
        import time
        deadline = time.monotonic() + 30
        while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    return Store(Path(os.environ["STANDIN"]))

if os.environ.get("STANDIN"):  # else the real server named by --db / $SPABENCH_DB
    destination.open_server_store = open_server
if os.environ.get("CRASH_BEFORE_MARK"):  # the server has committed; the journal not yet
    JournalStore.mark_uploaded = lambda self, *a: os.kill(os.getpid(), signal.SIGKILL)
from bench.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""A ``spabench`` whose records server is the stand-in file (for the tests' processes)."""


def piped(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Another process, its output piped (text)."""
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


class StandIn:
    """An SQLite records file standing in for the server; :meth:`down`/:meth:`up` switch
    whether it answers (for this process and the ones the test starts)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "server.sqlite3"
        self.marker = folder / "server-down"
        self.journal = folder / "journal.sqlite3"
        self.script = folder / "standin.py"
        self.script.write_text(STANDIN)
        self.opened = 0

    def open(self, url: str) -> Store:
        if self.marker.exists():
            raise StoreOpenError(f"records server {shown_location(url)} unreachable: refused")
        self.opened += 1
        return Store(self.path)

    def down(self) -> None:
        self.marker.touch()

    def up(self) -> None:
        self.marker.unlink(missing_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "STANDIN": str(self.path),
            "STANDIN_DOWN": str(self.marker),
            "SPABENCH_JOURNAL": str(self.journal),
            "SPABENCH_DB": URL,
            "COLUMNS": "250",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def bench(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``spabench ARGS`` as another process on this bench PC."""
        return subprocess.run(
            [sys.executable, str(self.script), *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=WAIT_S,
        )

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        """``spabench ARGS`` started as another process (its output piped)."""
        return piped([sys.executable, str(self.script), *args], self.env(**extra))

    def runs(self) -> list[TestRecord]:
        """Every run on the server, in its order, as the records give it back."""
        with Store(self.path) as store:
            return [store.run_record(info.id) for info in store.runs_for_unit(SERIAL)]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """A workshop with a records server (a registered unit) and a bench configured for it."""
    return workshop_server(tmp_path, monkeypatch)


def workshop_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """:func:`server` (for other test modules' fixtures)."""
    standin = StandIn(tmp_path)
    monkeypatch.setattr(destination, "open_server_store", standin.open)
    monkeypatch.setenv("SPABENCH_JOURNAL", str(standin.journal))
    monkeypatch.setenv("SPABENCH_DB", URL)
    monkeypatch.setenv("COLUMNS", "250")
    with Store(standin.path) as store:
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
    return standin


def run_smoke(capsys: pytest.CaptureFixture[str], *extra: str) -> Result:
    return spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", SERIAL, *extra)


def pending(standin: StandIn) -> list[int]:
    """Journal runs not uploaded yet."""
    with JournalStore(standin.journal) as journal:
        return [entry.local_id for entry in journal.journal_entries(pending=True)]


@pytest.fixture(scope="module")
def smoke_record() -> TestRecord:
    """One finished record of a virtual smoke run (copied under new ids where needed)."""
    return a_smoke_run()


def a_smoke_run() -> TestRecord:
    """:func:`smoke_record` (for other test modules' fixtures)."""
    target = virtual_box_target("premium-4", serial=SERIAL)
    try:
        return Runner(load_plan("smoke"), target).run()
    finally:
        target.close()


def another(record: TestRecord, **changes: object) -> TestRecord:
    copied = copy.deepcopy(record)
    copied.record_id = uuid.uuid4().hex
    for name, value in changes.items():
        setattr(copied, name, value)
    return copied


# -- uploading a finished run: Store.import_run ---------------------------------------------


def test_import_run_stores_a_run_whole_once_and_refuses_other_content_under_its_id(
    records_location: str, smoke_record: TestRecord
) -> None:
    with Store(records_location) as store:
        with pytest.raises(StoreError, match=f"unit '{SERIAL}' is not registered"):
            store.import_run(smoke_record)
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
        run_id, new = store.import_run(smoke_record, host="bench-7", pid=4242)
        assert new
        again = store.import_run(copy.deepcopy(smoke_record), host="bench-7", pid=4242)
        assert again == (run_id, False)

        (info,) = store.runs_for_unit(SERIAL)
        assert (info.id, info.status, info.host, info.pid) == (run_id, "pass", "bench-7", 4242)
        assert info.steps_done == len(smoke_record.steps) > 0
        assert store.run_record(run_id) == smoke_record
        assert store.run_frames(run_id) == smoke_record.frames != []
        assert store.run_trace(run_id) == smoke_record.trace

        changed = copy.deepcopy(smoke_record)
        changed.summary = "replace: heater"
        with pytest.raises(ImportConflict, match=f"{smoke_record.record_id}.*other content"):
            store.import_run(changed)
        assert [run.id for run in store.runs_for_unit(SERIAL)] == [run_id]
        assert store.run_record(run_id).summary == smoke_record.summary

        with pytest.raises(ValueError, match="only a finished run"):
            store.import_run(another(smoke_record, verdict="running"))


def test_import_run_keeps_the_order_rules_of_filing(
    records_location: str, smoke_record: TestRecord
) -> None:
    real = another(smoke_record, simulated=False)
    with Store(records_location) as store:
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
        store.add_unit("SN-OTHER", "premium-4", date(2025, 6, 1))
        order = store.open_order(SERIAL, "no heat")
        theirs = store.open_order("SN-OTHER", "no bubbles")
        with pytest.raises(NotFound, match="unknown order 99"):
            store.import_run(real, order_id=99)
        with pytest.raises(StoreError, match=f"order {theirs} is for unit 'SN-OTHER'"):
            store.import_run(real, order_id=theirs)
        assert smoke_record.simulated
        with pytest.raises(StoreError, match="SIMULATED UNIT"):
            store.import_run(smoke_record, order_id=order)
        assert store.runs_for_order(order) == []
        run_id, _ = store.import_run(smoke_record, order_id=order, allow_simulated=True)
        assert [run.id for run in store.runs_for_order(order)] == [run_id]
        store.set_status(order, "diagnosed")
        store.set_status(order, "handed-back")
        late = another(real, started_at=utc_now().isoformat(timespec="microseconds"))
        with pytest.raises(StoreError, match=f"order {order} was handed back .* before this run"):
            store.import_run(late, order_id=order)
        assert [run.id for run in store.runs_for_order(order)] == [run_id]


# -- spabench run with a records server ------------------------------------------------------


def test_an_online_run_is_uploaded_once_and_reports_the_servers_number(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(server.path) as store:  # the server already holds other runs
        store.add_unit("SN-OTHER", "premium-4", date(2025, 6, 1))
    code, out, err = run_smoke(capsys)
    assert code == 0, err
    assert "spabench: journal run 1: plan smoke" in out
    assert f"uploaded run 1 to {SHOWN}" in out
    assert out.rstrip().endswith(f"filed as run 1 on {SHOWN}")
    assert "s3cret" not in out + err
    (uploaded,) = server.runs()
    assert uploaded.verdict == "pass" and len(uploaded.steps) == 11 and uploaded.frames
    assert pending(server) == []

    code, out, err = spabench(capsys, "status")
    assert code == 0, err
    assert f"records server: {SHOWN} — answers" in out
    assert "nothing waits to be uploaded" in out
    assert "last upload: journal run 1 as run 1" in out

    code, out, err = spabench(capsys, "sync")
    assert code == 0, err
    assert "0 uploaded, 0 already there, 0 refused now; 0 waiting, 0 refused" in out
    assert len(server.runs()) == 1


def test_a_run_on_an_unknown_unit_is_refused_by_the_servers_records(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    result = spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", "SN-NEW")
    one_line(result, 2, "unit 'SN-NEW' is not registered", "nothing was run")
    assert not server.journal.exists() or pending(server) == []


def test_offline_runs_wait_in_the_journal_and_sync_uploads_them_in_order(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server.down()
    records = []
    for count in (1, 2, 3):
        code, out, err = run_smoke(capsys, "--json", "-")
        assert code == 0, err
        records.append(TestRecord.from_json(out))
        assert "records server unreachable: the run is filed in the local journal" in err
        assert f"records server unreachable: {count} run" in err
        assert (
            f"kept in the journal {server.journal} as journal run {count}, record "
            f"{records[-1].record_id}"
        ) in err
        assert "filed as run" not in err and "s3cret" not in err
    assert server.runs() == []

    code, out, err = spabench(capsys, "status")
    assert code == 0, err
    assert f"records server: {SHOWN} — does not answer: records server {SHOWN} unreachable" in out
    assert "3 runs waiting to be uploaded" in out
    for record in records:
        assert record.record_id in out
    assert "last upload: none yet" in out
    status = json.loads(spabench(capsys, "status", "--json")[1])
    assert [(w["journal_run"], w["record_id"], w["unit"], w["plan"], w["verdict"])
            for w in status["waiting"]] == [
        (n, r.record_id, SERIAL, "smoke", "pass") for n, r in enumerate(records, 1)
    ]  # fmt: skip
    assert [w["attempts"] for w in status["waiting"]] == [3, 2, 1]  # at each run's end
    assert all("unreachable" in w["last_error"] for w in status["waiting"])
    assert status["server_answers"] is False

    one_line(spabench(capsys, "sync"), 3, "records server unreachable", "3 runs wait")
    assert server.runs() == []

    server.up()
    code, out, err = spabench(capsys, "sync")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:3] == [
        f"uploaded journal run {n} as run {n} to {SHOWN} (unit {SERIAL}, smoke, pass)"
        for n in (1, 2, 3)
    ]
    assert lines[3].startswith("3 uploaded, 0 already there, 0 refused now; 0 waiting, 0 refused")
    assert server.runs() == records  # in order, whole, once
    assert json.loads(spabench(capsys, "status", "--json")[1])["waiting"] == []
    code, out, _ = spabench(capsys, "sync")
    assert code == 0 and out.startswith("0 uploaded")
    assert server.runs() == records


def test_a_run_starting_while_runs_wait_uploads_them_first(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server.down()
    assert run_smoke(capsys)[0] == 0
    server.up()
    code, out, err = run_smoke(capsys)
    assert code == 0, err
    before_run = out.index("spabench: journal run 2")
    assert out.index(f"uploaded run 1 to {SHOWN}") < before_run
    assert out.rstrip().endswith(f"filed as run 2 on {SHOWN}")
    assert [run.verdict for run in server.runs()] == ["pass", "pass"]


def test_offline_register_is_refused_before_anything_runs(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server.down()
    result = run_smoke(capsys, "--register", "--purchase-date", "2025-01-01")
    one_line(result, 2, "unreachable", "--register needs the records server", "nothing was run")


def test_a_run_the_server_refuses_stays_in_the_journal_and_does_not_block_the_others(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server.down()
    assert run_smoke(capsys, "--order", "99", "--simulated")[0] == 0  # no order checks offline
    assert run_smoke(capsys)[0] == 0
    server.up()
    code, out, err = spabench(capsys, "sync")
    assert code == 1, err
    refused, uploaded, total = out.splitlines()
    assert refused == (
        f"journal run 1 (unit {SERIAL}, smoke, pass) refused by {SHOWN}: unknown order 99 "
        "(kept in the journal; spabench sync --retry-refused tries it again once that is put "
        "right; spabench sync --without-order 1 uploads it without order 99)"
    )
    assert uploaded.startswith("uploaded journal run 2 as run 1")
    assert total.startswith("1 uploaded, 0 already there, 1 refused now; 0 waiting, 1 refused")
    assert len(server.runs()) == 1

    status = json.loads(spabench(capsys, "status", "--json")[1])
    assert [(r["journal_run"], r["refused"]) for r in status["refused"]] == [
        (1, "unknown order 99")
    ]
    assert status["waiting"] == []
    out = spabench(capsys, "status")[1]
    assert "1 run refused by the server (kept in the journal)" in out
    assert spabench(capsys, "sync")[0] == 1  # nothing newly refused, but one still is


def test_status_and_sync_without_a_server_say_where_runs_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "records.sqlite3"
    monkeypatch.setenv("SPABENCH_DB", str(db))
    code, out, err = spabench(capsys, "status")
    assert (code, err) == (0, "")
    assert out.startswith(f"records: {db} (no records server configured)")
    assert json.loads(spabench(capsys, "status", "--json")[1])["server"] is None
    code, out, _ = spabench(capsys, "sync")
    assert code == 0 and "no records server configured" in out
    assert not db.exists()  # neither command creates the records


# -- crashes ---------------------------------------------------------------------------------


def kill_mid_run(bench: subprocess.Popen[str]) -> int:
    """Wait until the waiting plan's two first steps are done, then ``kill -9`` the bench;
    its pid."""
    try:
        assert bench.stdout is not None
        for line in iter(bench.stdout.readline, ""):
            if line.split()[1:2] == ["reports"]:  # "  pass    reports": the wait is under way
                break
        bench.send_signal(signal.SIGKILL)
        assert bench.wait(WAIT_S) == -signal.SIGKILL
    finally:
        if bench.poll() is None:
            bench.kill()
        bench.communicate()
    return bench.pid


def assert_uploaded_as_interrupted(record: TestRecord, pid: int) -> None:
    """A killed run as the server has it: an error saying so, with what it kept."""
    assert record.verdict == "error"
    assert record.error is not None
    assert record.error.startswith(f"interrupted: the bench process (pid {pid}")
    assert [step.name for step in record.steps] == ["link", "reports"]
    reports_started = record.steps[-1].started
    assert reports_started is not None and record.frames
    assert max(f.t for f in record.frames) >= reports_started  # the wait's frames too


@pytest.mark.timeout(120)
def test_a_bench_killed_mid_run_offline_loses_nothing_the_run_is_uploaded_as_interrupted(
    server: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "waiting.toml"
    plan.write_text(WAITING_PLAN)
    server.down()
    pid = kill_mid_run(
        server.start("run", "--virtual", "--speed", "100", "--plan", str(plan), "--unit", SERIAL)
    )
    server.up()
    code, out, err = spabench(capsys, "sync")
    assert code == 0, err
    assert out.startswith(f"uploaded journal run 1 as run 1 to {SHOWN} (unit {SERIAL}, waiting")
    (uploaded,) = server.runs()
    assert_uploaded_as_interrupted(uploaded, pid)
    assert spabench(capsys, "sync")[1].startswith("0 uploaded")
    assert len(server.runs()) == 1


@pytest.mark.timeout(120)
def test_a_sync_killed_between_the_servers_commit_and_the_journals_mark_uploads_nothing_twice(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server.down()
    for _ in range(2):
        assert run_smoke(capsys)[0] == 0
    server.up()
    killed = server.bench("sync", CRASH_BEFORE_MARK="1")
    assert killed.returncode == -signal.SIGKILL
    (first,) = server.runs()  # on the server, not marked in the journal
    assert pending(server) == [1, 2]

    code, out, err = spabench(capsys, "sync")
    assert code == 0, err
    assert out.splitlines()[:2] == [
        f"journal run 1 was on {SHOWN} already as run 1 (unit {SERIAL}, smoke, pass)",
        f"uploaded journal run 2 as run 2 to {SHOWN} (unit {SERIAL}, smoke, pass)",
    ]
    assert [run.record_id for run in server.runs()] == [first.record_id, *_second(server)]
    assert pending(server) == []


def _second(server: StandIn) -> list[str]:
    with JournalStore(server.journal) as journal:
        return [journal.run(2).record_id]


@pytest.mark.timeout(120)
def test_two_syncs_at_once_upload_each_run_once(
    server: StandIn, tmp_path: Path, smoke_record: TestRecord
) -> None:
    journal_runs = 6
    with JournalStore(server.journal) as journal:
        for _ in range(journal_runs):
            record = another(smoke_record)
            run_id = journal.begin_run(record, unit_serial=SERIAL)
            journal.finish_run(run_id, record)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    syncs = [server.start("sync", STANDIN_BARRIER=str(barrier)) for _ in range(2)]
    outputs = [sync.communicate(timeout=WAIT_S) for sync in syncs]
    assert [sync.returncode for sync in syncs] == [0, 0], outputs
    assert len(os.listdir(barrier)) == 2  # both held the server before either uploaded
    said = [line for out, _ in outputs for line in out.splitlines()]
    new = [line for line in said if line.startswith("uploaded journal run")]
    assert len(new) == journal_runs  # each run stored once, by one of them
    ids = [run.record_id for run in server.runs()]
    assert len(ids) == len(set(ids)) == journal_runs
    assert pending(server) == []


# -- automatic retry -------------------------------------------------------------------------


def test_a_long_lived_bench_retries_by_itself_when_the_server_comes_back(
    tmp_path: Path, smoke_record: TestRecord
) -> None:
    standin = StandIn(tmp_path)
    with Store(standin.path) as store:
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
    standin.down()
    bench = RunDestination(
        None,
        server=URL,
        journal=standin.journal,
        open_server=lambda: standin.open(URL),
    )
    with bench.open_store() as store:
        filing = RunFiling(store, SERIAL)
        target = virtual_box_target("premium-4", serial=SERIAL)
        try:
            record = Runner(load_plan("smoke"), target, hooks=[filing]).run()
        finally:
            target.close()
    said: Queue[str] = Queue()
    report = bench.after_runs(said.put)
    assert report is not None and report.server_run_id(record.record_id) is None
    assert said.get_nowait().startswith("records server unreachable: 1 run waits")

    retrying = bench.start_retrying(0.02, said.put)
    assert retrying is not None
    try:
        assert said.get(timeout=WAIT_S).startswith("records server unreachable: 1 run waits")
        standin.up()
        assert said.get(timeout=WAIT_S) == f"uploaded run 1 to {SHOWN}"
    finally:
        retrying.stop()
    assert said.empty()  # one line when it went down, one when it came back: no repeats
    assert standin.runs() == [record]


@pytest.mark.timeout(120)
def test_sync_retry_every_waits_for_the_server(
    server: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    server.down()
    assert run_smoke(capsys)[0] == 0
    sync = server.start("sync", "--retry-every", "0.05")
    try:
        assert sync.stdout is not None
        first = sync.stdout.readline()
        assert "records server unreachable" in first and "trying again every 0.05 s" in first
        server.up()
        out, err = sync.communicate(timeout=WAIT_S)
    finally:
        if sync.poll() is None:
            sync.kill()
    assert sync.returncode == 0, err
    assert out.startswith("uploaded journal run 1 as run 1")
    assert len(server.runs()) == 1


# -- where the journal is --------------------------------------------------------------------


def test_one_journal_per_server_whatever_its_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SPABENCH_JOURNAL", raising=False)
    one = journal_path("postgresql://bench:old@host/db")
    assert one == journal_path("postgresql://bench:new@host/db")
    assert one != journal_path("postgresql://bench:old@host/other")
    assert one.name.startswith("journal-") and one.suffix == ".sqlite3"
    shown = shown_location("postgresql://bench:pw@host/db?password=pw&sslmode=require")
    assert shown == "postgresql://bench@host:5432/db"
    monkeypatch.setenv("SPABENCH_JOURNAL", str(tmp_path / "j.sqlite3"))
    assert open_destination(URL).journal == tmp_path / "j.sqlite3"
    monkeypatch.setenv("SPABENCH_DB", URL)
    assert open_destination(None).server == URL
    assert open_destination(str(tmp_path / "r.sqlite3")).journal is None


# -- the same against a real PostgreSQL server -----------------------------------------------


def unreachable(url: str) -> str:
    """The same server (the journal's identity: a loopback address is ``localhost``) on an
    address where nothing listens: the server down, for real, as a bench sees it."""
    return url.replace("@127.0.0.1:", "@127.0.0.2:")


@pytest.mark.timeout(180)
def test_offline_crash_sync_on_a_real_postgresql_server_loses_and_duplicates_nothing(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline runs (nothing listening where the bench looks), a bench killed mid-run, a
    sync killed between the server's commit and the journal's mark, then a sync: every run
    once on the server."""
    standin = StandIn(tmp_path)  # its script runs the real spabench (no STANDIN in its env)
    down = unreachable(pg_url)
    monkeypatch.setenv("SPABENCH_JOURNAL", str(standin.journal))
    monkeypatch.delenv("SPABENCH_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    with Store(pg_url) as records:
        records.add_unit(SERIAL, "premium-4", date(2025, 6, 1))

    filed = []
    for _ in range(2):
        code, out, err = run_smoke(capsys, "--db", down, "--json", "-")
        assert code == 0, err
        assert "records server unreachable: the run is filed in the local journal" in err
        filed.append(TestRecord.from_json(out))
    plan = tmp_path / "waiting.toml"
    plan.write_text(WAITING_PLAN)
    env = {**standin.env(), "SPABENCH_DB": down}
    del env["STANDIN"]
    run = ["run", "--virtual", "--speed", "100", "--plan", str(plan), "--unit", SERIAL]
    pid = kill_mid_run(piped([sys.executable, str(standin.script), *run], env))

    env = {**env, "SPABENCH_DB": pg_url, "CRASH_BEFORE_MARK": "1"}
    killed = subprocess.run(
        [sys.executable, str(standin.script), "sync"],
        env=env, capture_output=True, text=True, timeout=WAIT_S,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    code, out, err = spabench(capsys, "sync", "--db", pg_url)
    assert code == 0, err
    shown = shown_location(pg_url)
    assert out.splitlines()[:3] == [
        f"journal run 1 was on {shown} already as run 1 (unit {SERIAL}, smoke, pass)",
        f"uploaded journal run 2 as run 2 to {shown} (unit {SERIAL}, smoke, pass)",
        f"uploaded journal run 3 as run 3 to {shown} (unit {SERIAL}, waiting, error)",
    ]
    with Store(pg_url) as records:
        runs = records.runs_for_unit(SERIAL)
        got = [records.run_record(run.id) for run in runs]
        assert [len(records.run_steps(run.id)) for run in runs] == [11, 11, 2]
        assert [len(records.run_frames(run.id)) for run in runs] == [len(r.frames) for r in got]
    assert got[:2] == filed
    assert_uploaded_as_interrupted(got[2], pid)
    assert spabench(capsys, "sync", "--db", pg_url)[1].startswith("0 uploaded")
    with Store(pg_url) as records:
        assert len(records.runs_for_unit(SERIAL)) == 3


RACER = """
import json, os, sys, time
from pathlib import Path
from bench.records.store import Store
from bench.testing.record import TestRecord

url, records, barrier = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
batch = [TestRecord.from_dict(item) for item in json.loads(records.read_text())]
with Store(url) as store:
    (barrier / str(os.getpid())).touch()
    deadline = time.monotonic() + 30
    while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    for record in batch:
        print(json.dumps(store.import_run(record)), flush=True)
"""


@pytest.mark.timeout(120)
def test_two_benches_uploading_the_same_runs_at_once_store_each_once(
    records_location: str, tmp_path: Path, smoke_record: TestRecord
) -> None:
    """Both benches upload the same records in the same order at the same moment: on
    PostgreSQL both may pass the first look, and the insert's ON CONFLICT settles it."""
    batch = [another(smoke_record) for _ in range(12)]
    with Store(records_location) as store:
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
    records = tmp_path / "records.json"
    records.write_text(json.dumps([record.to_dict() for record in batch]))
    (tmp_path / "racer.py").write_text(RACER)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    racer = [sys.executable, str(tmp_path / "racer.py"), records_location, str(records)]
    racers = [piped([*racer, str(barrier)]) for _ in range(2)]
    answers = [each.communicate(timeout=WAIT_S) for each in racers]
    assert [each.returncode for each in racers] == [0, 0], answers
    said = [[json.loads(line) for line in out.splitlines()] for out, _ in answers]
    assert said[0] and [id for id, _ in said[0]] == [id for id, _ in said[1]]
    assert [new_0 + new_1 for (_, new_0), (_, new_1) in zip(*said, strict=True)] == [1] * 12
    with Store(records_location) as store:
        stored = store.runs_for_unit(SERIAL)
        assert [run.record_id for run in stored] == [record.record_id for record in batch]
        assert [store.run_record(run.id) for run in stored] == batch


# -- a station with a records server -----------------------------------------------------------

LINK_PLAN = """
name = "link"
title = "Link and handshake only"
[[step]]
name = "link"
title = "Link and handshake"
type = "link-up"
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
def test_a_station_files_its_channels_through_the_journal(
    online: bool,
    server: StandIn,
    launch: Callable[..., ServedUnit],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Units are checked on the server when it answers; either way each channel's run goes
    through the journal to the server, once."""
    with Store(server.path) as store:
        store.add_unit("SN-J2", "premium-4", date(2025, 6, 1))
    plan = tmp_path / "link.toml"
    plan.write_text(LINK_PLAN)
    station = tmp_path / "station.toml"
    station.write_text(
        "".join(
            f'[[channel]]\nname = "{name}"\nport = "{box.url}"\nprofile = "premium-4"\n'
            f'speed = 10\nsimulated = true\nunit = "{serial}"\n'
            for name, box, serial in (
                ("A", launch("--pty", speed=10.0), SERIAL),
                ("B", launch("--pty", speed=10.0), "SN-J2"),
            )
        )
    )
    if not online:
        server.down()
    code, out, err = spabench(capsys, "station", "run", str(station), "--plan", str(plan))
    assert code == 0, f"exit {code}\n{out}\n{err}"
    if online:
        assert f"uploaded 2 runs to {SHOWN}" in out
    else:
        assert "records server unreachable" in out + err
        assert "2 runs wait in the journal" in out
        assert server.runs() == []
        server.up()
        assert spabench(capsys, "sync")[0] == 0
    with Store(server.path) as store:
        filed = [store.runs_for_unit(serial) for serial in (SERIAL, "SN-J2")]
    assert [[run.status for run in runs] for runs in filed] == [["pass"], ["pass"]]
    assert pending(server) == []
