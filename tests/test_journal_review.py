"""The review of offline-first filing (issue 14), finding by finding: each test failed before
its fix.

What is judged is what a user sees or relies on: the lines ``spabench run``/``sync``/
``status``/``station run`` print and their exit codes, what the console's run screen shows,
and the records on the server (on a real PostgreSQL server through ``pg_url`` where the
server's own behaviour is the point: its error classes, its timeouts, its order rules).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cli_runner import one_line, spabench
from support.records import SERIAL, filter_pump_failure, passing_verification

from bench.records.database import IntegrityError
from bench.records.orders import IllegalTransition
from bench.records.store import Store
from bench.testing.record import TestRecord
from protocols.mspa.parts import lookup

PUMP = lookup("B9300929")
REPAIRED = datetime(2026, 3, 20, 11, tzinfo=UTC)


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
