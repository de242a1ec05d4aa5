"""Orders as a workshop runs them (issue 13, deliverable 1): judged on the command line.

intake → agreed terms → parts only as agreed → a verification run after the last part →
hand-back; every contact logged with how it was made; paper records imported with their
dates. Each defect the issue lists has a test here that failed before the fix:

* a part recorded on a diagnosis-only order was accepted;
* ``verified`` was accepted on a run made before the part was fitted (or on a simulated run);
* a repaired unit could be handed back without being verified;
* ``order show`` mixed two timestamp formats; ``history`` / ``unit show`` did not mark
  simulated runs.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cli_runner import Result, one_line, spabench
from hypothesis import event, given
from hypothesis import strategies as st
from support.records import SERIAL, filter_pump_failure, passing_verification, store_run

from bench.records.migrations import MIGRATIONS
from bench.records.orders import STATUSES, Order
from bench.records.store import Store
from bench.testing.record import TestRecord
from protocols.mspa.parts import UnknownPart, lookup

PURCHASED = date.today() - timedelta(days=100)
PUMP = lookup("B9300929")  # filter pump: checked by verify-filter-pump
BOARD = lookup("B9301291")  # power board: checked by verify-power-board
MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d [A-Z]{2,5}|\d{4}-\d\d-\d\d")
"""The one display format of a moment (display_time) or a day (display_date)."""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "records.sqlite3"))
    monkeypatch.setenv("SPABENCH_WORKSHOP", "")
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: one line per row
    return tmp_path / "records.sqlite3"


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = spabench(capsys, *args)
    assert (code, err) == (0, ""), err
    return out


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """A one-line usage error (exit 2), no traceback."""
    result: Result = spabench(capsys, *args)
    return one_line(result, 2)


def unit_and_order(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    ok(capsys, "unit", "add", "--serial", SERIAL, "--profile", "premium-4",
       "--purchase-date", PURCHASED.isoformat(), "--owner", "Jo Customer")  # fmt: skip
    return ok(capsys, "order", "open", "--serial", SERIAL, "--symptom", "no heat", *extra).strip()


def now_text(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds")


def run_on_order(
    db: Path, record: TestRecord, order: str, *, plan: str, started: str, simulated: bool = False
) -> int:
    """A finished bench run filed on the order, as the runner files it."""
    with Store(db) as store:
        stored = replace(record, plan=plan, started_at=started, simulated=simulated)
        return store_run(store, stored, int(order))


def pump_check(record_id: str = "verify-pump") -> TestRecord:
    return passing_verification(record_id)


def repaired_with_pump(capsys: pytest.CaptureFixture[str], order: str) -> None:
    """The pump of an order opened with ``--agreement repair`` is fitted; status repaired."""
    ok(capsys, "order", "status", order, "diagnosed", "--note", "pump dead")
    ok(capsys, "order", "part", order, "--part", PUMP.number)
    ok(capsys, "order", "status", order, "repaired")


# --------------------------------------------------------------- agreed work and parts


def test_a_part_on_a_diagnosis_only_order_is_refused_with_the_command_that_agrees_it(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys)
    ok(capsys, "order", "status", order, "diagnosed")
    err = refused(capsys, "order", "part", order, "--part", PUMP.number)
    assert "diagnosis only" in err
    assert f"spabench order agree {order} --work repair --part {PUMP.number}" in err
    assert PUMP.number not in ok(capsys, "order", "show", order).split("parts replaced")[-1]
    ok(capsys, "order", "agree", order, "--work", "repair", "--via", "phone",
       "--note", "go ahead with the pump")  # fmt: skip
    assert "replaced 1 × B9300929 filter pump" in ok(
        capsys, "order", "part", order, "--part", PUMP.number
    )


def test_a_repair_limited_to_parts_refuses_others_and_amendments_are_logged(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--quote", "40")
    said = ok(capsys, "order", "agree", order, "--work", "repair", "--part", "b9300929",
              "--quote", "89.50", "--via", "email", "--note", "pump only, up to 89.50")  # fmt: skip
    assert "agreed repair of B9300929, quote 89.50 (was diagnosis only, quote 40.00)" in said
    err = refused(capsys, "order", "part", order, "--part", BOARD.number)
    assert f"covers only {PUMP.number}" in err
    assert f"--part {PUMP.number} --part {BOARD.number}" in err  # the command to amend
    ok(capsys, "order", "part", order, "--part", PUMP.number)
    # an amendment may not leave a fitted part outside the agreement
    err = refused(capsys, "order", "agree", order, "--work", "repair", "--part", BOARD.number,
                  "--via", "phone", "--note", "board instead")  # fmt: skip
    assert "must cover the parts already fitted" in err
    err = refused(capsys, "order", "agree", order, "--work", "diagnosis", "--via", "phone",
                  "--note", "changed mind")  # fmt: skip
    assert "must cover the parts already fitted" in err
    ok(capsys, "order", "agree", order, "--work", "repair", "--part", PUMP.number,
       "--part", BOARD.number, "--via", "phone", "--note", "board too")  # fmt: skip
    ok(capsys, "order", "part", order, "--part", BOARD.number)
    shown = ok(capsys, "order", "show", order)
    assert "agreement (email): diagnosis only, quote 40.00 → repair of B9300929, quote 89.50" in (
        shown
    )
    assert "agreement (phone): repair of B9300929, quote 89.50 → repair of B9300929, B9301291" in (
        shown
    )
    with Store(db) as store:
        changes = store.agreement_changes(int(order))
        contacts = store.contacts(int(order))
    assert [(c.via, c.note) for c in changes] == [
        ("email", "pump only, up to 89.50"),
        ("phone", "board too"),
    ]
    assert [c.via for c in contacts] == ["email", "phone"]  # each agreement is a contact


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--work", "diagnosis", "--part", "B9300929"), "covers no parts"),
        (("--work", "repair", "--part", "NOPE"), "NOPE"),
        (("--work", "repair", "--quote", "1.234"), "two decimals"),
        (("--work", "fix"), "invalid choice"),
        (("--work", "repair", "--via", "pigeon"), "invalid choice"),
        (("--work", "repair", "--note", " "), "what the customer agreed"),
    ],
)
def test_bad_agreements_change_nothing(
    capsys: pytest.CaptureFixture[str], db: Path, args: tuple[str, ...], needle: str
) -> None:
    order = unit_and_order(capsys)
    defaults = {"--via": "phone", "--note": "ok"}
    flat = list(args) + [x for k, v in defaults.items() if k not in args for x in (k, v)]
    assert needle in refused(capsys, "order", "agree", order, *flat)
    with Store(db) as store:
        assert store.agreement_changes(int(order)) == []
        assert store.order(int(order)).agreement == "diagnosis"


def test_an_unknown_part_is_one_line_with_the_catalogues_words(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    err = refused(capsys, "order", "part", order, "--part", "NOPE")
    assert err == f"spabench order: error: {UnknownPart('NOPE')}\n"


# ------------------------------------------------------------------------ verification


def test_verified_refuses_a_run_made_before_the_part_and_names_the_plan_to_run(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    before = run_on_order(db, pump_check("early"), order, plan="verify-filter-pump",
                          started=now_text(-timedelta(hours=1)))  # fmt: skip
    repaired_with_pump(capsys, order)
    err = refused(capsys, "order", "status", order, "verified")
    assert "B9300929 filter pump has no passing verify-filter-pump or full run" in err
    assert (
        f"spabench run --port PORT --unit {SERIAL} --order {order} --plan verify-filter-pump" in err
    )
    assert f"run {before}" not in err
    # a passing run of a plan that does not check the pump does not verify it either
    run_on_order(db, pump_check("board"), order, plan="verify-power-board", started=now_text())
    assert "no passing verify-filter-pump" in refused(capsys, "order", "status", order, "verified")
    after = run_on_order(db, pump_check(), order, plan="verify-filter-pump", started=now_text())
    ok(capsys, "order", "status", order, "verified")
    shown = ok(capsys, "order", "show", order)
    assert f"run {after} verify-filter-pump pass" in shown
    assert f"verified: by run {after} (verify-filter-pump: B9300929)" in shown
    with Store(db) as store:
        verification = store.verification(int(order))
    assert verification is not None and verification.id == after


def test_every_fitted_part_needs_its_check_and_full_checks_them_all(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "part", order, "--part", PUMP.number)
    ok(capsys, "order", "part", order, "--part", BOARD.number)
    ok(capsys, "order", "status", order, "repaired")
    run_on_order(db, pump_check(), order, plan="verify-filter-pump", started=now_text())
    err = refused(capsys, "order", "status", order, "verified")
    assert "B9301291 power board has no passing verify-power-board or full run" in err
    assert "filter pump" not in err
    full = run_on_order(db, pump_check("full"), order, plan="full", started=now_text())
    ok(capsys, "order", "status", order, "verified")
    with Store(db) as store:
        verification = store.verification(int(order))
    assert verification is not None and verification.id == full


def test_a_later_failing_run_is_not_overruled_by_an_earlier_pass(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    repaired_with_pump(capsys, order)
    run_on_order(db, pump_check(), order, plan="verify-filter-pump", started=now_text())
    failed = run_on_order(db, filter_pump_failure("again"), order, plan="full", started=now_text())
    err = refused(capsys, "order", "status", order, "verified")
    assert f"run {failed} (full) ended fail and no later full run passed" in err


def test_a_simulated_run_verifies_only_when_asked_and_then_says_so(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    repaired_with_pump(capsys, order)
    simulated = run_on_order(db, pump_check(), order, plan="verify-filter-pump",
                             started=now_text(), simulated=True)  # fmt: skip
    err = refused(capsys, "order", "status", order, "verified")
    assert f"run {simulated} passed on a SIMULATED UNIT: add --simulated" in err
    out = ok(capsys, "order", "status", order, "verified", "--simulated")
    assert "SIMULATED UNIT" in out
    shown = ok(capsys, "order", "show", order)
    assert re.search(rf"verified: by run {simulated} .*SIMULATED UNIT", shown)
    assert re.search(rf"verified by +run {simulated} verify-filter-pump pass .*SIMULATED", shown)


def test_a_repair_without_a_part_needs_a_note_and_a_full_run(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "status", order, "repaired")
    assert "why no part was needed" in refused(capsys, "order", "status", order, "verified")
    run_on_order(db, pump_check(), order, plan="verify-filter-pump", started=now_text())
    err = refused(capsys, "order", "status", order, "verified", "--note", "reseated the plug")
    assert "the repair has no passing full run started after the order was marked repaired" in err
    run_on_order(db, pump_check("full"), order, plan="full", started=now_text())
    ok(capsys, "order", "status", order, "verified", "--note", "reseated the plug")


def test_no_part_is_recorded_once_the_order_is_verified(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    repaired_with_pump(capsys, order)
    run_on_order(db, pump_check(), order, plan="verify-filter-pump", started=now_text())
    ok(capsys, "order", "status", order, "verified")
    assert "is verified" in refused(capsys, "order", "part", order, "--part", PUMP.number)
    ok(capsys, "order", "close", order)
    assert "handed back" in refused(capsys, "order", "part", order, "--part", PUMP.number)


# --------------------------------------------------------------------------- hand-back


def test_a_repaired_unit_is_handed_back_only_once_verified(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair")
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "part", order, "--part", PUMP.number)
    err = refused(capsys, "order", "close", order)
    assert "a part was fitted, so the repair must be verified before hand-back" in err
    ok(capsys, "order", "status", order, "repaired")
    ok(capsys, "order", "status", order, "diagnosed", "--note", "verification found more")
    assert "verified before hand-back" in refused(capsys, "order", "close", order)
    run_on_order(db, pump_check(), order, plan="full", started=now_text())
    ok(capsys, "order", "status", order, "repaired")
    ok(capsys, "order", "status", order, "verified")
    assert "handed back" in ok(capsys, "order", "close", order, "--note", "collected")
    with Store(db) as store:
        (contact,) = store.contacts(int(order))
    assert (contact.via, contact.note) == ("in-person", "collected")


def test_a_declined_order_goes_back_unrepaired_and_the_quote_is_a_contact(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--quote", "189")
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "status", order, "awaiting-approval", "--via", "email")
    assert "record their approval first" in refused(capsys, "order", "status", order, "repaired")
    ok(capsys, "order", "close", order, "--via", "phone", "--note", "declined, collects Friday")
    with Store(db) as store:
        contacts = store.contacts(int(order))
    assert [(c.via, c.note) for c in contacts] == [
        ("email", "asked for approval of the repair (quote 189.00)"),
        ("phone", "declined, collects Friday"),
    ]
    err = refused(capsys, "order", "status", order, "diagnosed", "--via", "phone")
    assert "--via belongs to a status that is a customer contact" in err


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("parts_fitted", [False, True])
@pytest.mark.parametrize("was_repaired", [False, True])
def test_the_hand_back_rule(status: str, parts_fitted: bool, was_repaired: bool) -> None:
    from bench.records.orders import hand_back_problem

    problem = hand_back_problem(
        status,  # type: ignore[arg-type]
        parts_fitted=parts_fitted,
        was_repaired=was_repaired,
    )
    assert (problem is None) == (status == "verified" or not (parts_fitted or was_repaired))


@pytest.mark.parametrize(
    ("agreement", "agreed", "part", "allowed"),
    [
        ("diagnosis", (), "B9300929", False),
        ("repair", (), "B9300929", True),
        ("repair", ("B9300929",), "B9300929", True),
        ("repair", ("B9300929",), "B9301291", False),
        ("repair", ("B9301291", "B9300929"), "B9300929", True),
    ],
)
def test_what_the_agreed_work_covers(
    agreement: str, agreed: tuple[str, ...], part: str, allowed: bool
) -> None:
    from bench.records.orders import agreement_refuses_part

    now = datetime.now(UTC)
    order = Order(1, SERIAL, now, "", "x", agreement, None, None, None, "diagnosed", now, None,  # type: ignore[arg-type]
                  agreed)  # fmt: skip
    assert (agreement_refuses_part(order, part) is None) == allowed


# ----------------------------------------------------------------- contacts and dates


def test_every_contact_is_logged_with_how_it_was_made(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys)
    ok(capsys, "order", "contact", order, "--via", "phone", "--note", "told: diagnosis Monday")
    ok(capsys, "order", "contact", order, "--note", "left a voicemail")
    assert "invalid choice" in refused(capsys, "order", "contact", order, "--via", "fax")
    shown = ok(capsys, "order", "show", order)
    assert "contact (phone): told: diagnosis Monday" in shown
    assert "contact (other): left a voicemail" in shown


def test_backdated_intake_shows_the_overdue_rule_on_imported_paper_records(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    received = datetime.now().astimezone() - timedelta(days=10)
    order = unit_and_order(capsys, "--received-at", received.strftime("%Y-%m-%d %H:%M"))
    out = ok(capsys, "order", "list", "--overdue")
    assert f"no customer contact within 3 days of intake ({received.date()})" in out
    # the paper record says the customer was called two days after intake
    called = (received + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    ok(capsys, "order", "contact", order, "--via", "phone", "--note", "quote", "--at", called)
    assert "no overdue orders" in ok(capsys, "order", "list", "--overdue")
    # events are imported in the order they happened
    earlier = (received + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    err = refused(capsys, "order", "status", order, "diagnosed", "--at", earlier)
    assert "cannot be earlier than the order's previous event" in err
    ok(capsys, "order", "status", order, "diagnosed", "--at", called)
    shown = ok(capsys, "order", "show", order)
    assert f"{called} " in shown and received.strftime("%Y-%m-%d %H:%M") in shown


@pytest.mark.parametrize(
    ("when", "needle"),
    [
        (lambda: datetime.now().astimezone() + timedelta(days=1), "in the future"),
        (lambda: datetime.now().astimezone() - timedelta(days=200), "before the unit was bought"),
    ],
)
def test_backdated_intake_is_neither_in_the_future_nor_before_the_purchase(
    capsys: pytest.CaptureFixture[str], db: Path, when: object, needle: str
) -> None:
    unit_and_order(capsys)
    moment = when()  # type: ignore[operator]
    err = refused(capsys, "order", "open", "--serial", SERIAL, "--symptom", "x",
                  "--received-at", moment.isoformat(timespec="minutes"))  # fmt: skip
    assert needle in err
    with Store(db) as store:
        assert len(store.orders()) == 1
    assert "not a moment" in refused(
        capsys, "order", "open", "--serial", SERIAL, "--symptom", "x", "--received-at", "yesterday"
    )


# ------------------------------------------------------------------ one display format


def test_order_show_list_unit_show_and_history_use_one_time_format(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = unit_and_order(capsys, "--agreement", "repair", "--promised", "2099-01-01")
    repaired_with_pump(capsys, order)
    run_on_order(db, pump_check(), order, plan="verify-filter-pump", started=now_text())
    ok(capsys, "order", "status", order, "verified")
    outputs = [
        ok(capsys, "order", "show", order),
        ok(capsys, "order", "list"),
        ok(capsys, "unit", "show", SERIAL),
        ok(capsys, "history", SERIAL),
    ]
    for out in outputs:
        assert not re.search(r"\d\dT\d\d:|\+00:00|\d\d:\d\d:\d\d", out), out
        assert MOMENT.search(out), out


def test_history_and_unit_show_mark_simulated_runs(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    unit_and_order(capsys)
    with Store(db) as store:
        store_run(store, filter_pump_failure())
        store_run(store, replace(passing_verification(), simulated=True))
    rows = [
        line.split("│")
        for line in ok(capsys, "history", SERIAL).splitlines()
        if line.startswith("│")
    ]
    assert [row[6].strip() for row in rows] == ["fail", "pass SIMULATED UNIT"]
    shown = ok(capsys, "unit", "show", SERIAL)
    assert "2 bench run(s), 1 on a SIMULATED UNIT" in shown
    assert "pass SIMULATED UNIT" in shown


# ---------------------------------------------------------------- the schema's backstop


def test_the_schema_refuses_what_the_workflow_forbids(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = int(unit_and_order(capsys))
    ok(capsys, "order", "contact", str(order), "--note", "called")
    conn = sqlite3.connect(db)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    forbidden = [
        ("INSERT INTO parts_replaced (order_id, part_number, quantity, at) VALUES (?, ?, 1, ?)",
         (order, PUMP.number, now), "does not cover this part"),
        ("INSERT INTO order_status (order_id, status, at) VALUES (?, 'handed-back', ?)",
         (order, "2000-01-01T00:00:00.000000+00:00"), "earlier than the one before"),
        ("UPDATE contacts SET note = 'never called'", (), "append-only"),
        ("INSERT INTO order_status (order_id, status, at, run_id) VALUES (?, 'diagnosed', ?, 1)",
         (order, now), "verified needs"),
    ]  # fmt: skip
    for sql, params, message in forbidden:
        with pytest.raises(sqlite3.IntegrityError, match=message):
            conn.execute(sql, params)
    conn.close()


def test_a_records_file_of_schema_2_is_migrated_with_its_orders_intact(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = Store(path, migrations=MIGRATIONS[:2])
    old.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
    conn = old._conn  # a schema-2 file as an older spabench left it: a part on any order
    conn.execute(
        "INSERT INTO orders (unit_serial, opened_at, symptom, agreement, status_at)"
        " VALUES (?, '2026-01-05T09:00:00.000000+00:00', 'old', 'diagnosis',"
        " '2026-01-05T09:00:00.000000+00:00')",
        (SERIAL,),
    )
    conn.execute(
        "INSERT INTO contacts (order_id, at, note) VALUES (1, '2026-01-06T09:00:00.000000+00:00',"
        " 'called')"
    )
    old.close()
    with Store(path) as store:
        order = store.order(1)
        assert (order.agreement, order.agreed_parts) == ("diagnosis", ())
        assert [(c.via, c.note) for c in store.contacts(1)] == [("other", "called")]
        assert store.verification(1) is None


# ----------------------------------------------------------- the verification rule, property

PLANS = ("full", "verify-filter-pump", "verify-power-board", "verify-heater", "smoke")
CHECKS = {"B9300929": "verify-filter-pump", "B9301291": "verify-power-board"}
T0 = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


@given(
    fitted=st.lists(st.tuples(st.sampled_from(sorted(CHECKS)), st.integers(0, 10)), max_size=3),
    runs=st.lists(
        st.tuples(
            st.sampled_from(PLANS),
            st.sampled_from(("pass", "fail", "error", "interrupted")),
            st.integers(0, 12),
            st.booleans(),
        ),
        max_size=5,
    ),
    allow_simulated=st.booleans(),
)
def test_verified_exactly_when_every_fitted_part_has_its_passing_run_after_the_last_part(
    fitted: list[tuple[str, int]],
    runs: list[tuple[str, str, int, bool]],
    allow_simulated: bool,
) -> None:
    from bench.records.run_records import RunInfo
    from bench.records.verification import NotVerified, check_verification

    hour = timedelta(hours=1)
    infos = [
        RunInfo(index, f"r{index}", SERIAL, 1, plan, "", status,  # type: ignore[arg-type]
                (T0 + at * hour).isoformat(), None, T0, 1, "h", "", None, 0, simulated)
        for index, (plan, status, at, simulated) in enumerate(runs, start=1)
    ]  # fmt: skip
    parts = [(number, number, T0 + at * hour) for number, at in fitted]
    repaired = T0 + 5 * hour
    since = max((at for _, at in fitted), default=5)
    # "later" is started later (a run uploaded late from a bench's journal keeps its start);
    # runs that started at the same moment in the order they were filed
    in_start_order = sorted(runs, key=lambda run: run[2])
    counted = [
        (plan, status, simulated)
        for plan, status, at, simulated in in_start_order
        if at >= since and status != "interrupted" and (allow_simulated or not simulated)
    ]
    # every failure is answered by a later pass of its plan or of full (a real failure by a
    # real pass); each part's newest check passed, and there is one
    answered = all(
        any(
            later == "pass" and plan in (failed, "full") and (simulated or not later_simulated)
            for plan, later, later_simulated in counted[index + 1 :]
        )
        for index, (failed, status, simulated) in enumerate(counted)
        if status != "pass"
    )
    needs = {CHECKS[number] for number, _ in fitted} or {"full"}
    checks = [[status for plan, status, _ in counted if plan in (need, "full")] for need in needs]
    expected = answered and all(found and found[-1] == "pass" for found in checks)
    event(f"verified: {expected}")
    try:
        verified = check_verification(
            order_id=1, serial=SERIAL, runs=infos, parts=parts, repaired_at=repaired,
            reason_without_parts="reseated the plug", allow_simulated=allow_simulated,
        )  # fmt: skip
    except NotVerified as refusal:
        assert not expected, refusal
        assert "cannot mark order 1 verified" in str(refusal)
    else:
        assert expected
        chosen = next(info for info in infos if info.id == verified.run_id)
        assert chosen.status == "pass"
        assert allow_simulated or not verified.simulated
