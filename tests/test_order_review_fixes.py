"""The review of the orders workflow (issue 13, deliverables 1 and 4): each confirmed problem
reproduced on the command line (or, for the schema's backstop, by the raw SQL a script could
type), judged by what a technician sees: the refusal, the order's page, the records file.

The verification runs here are filed as the runner files them, with the steps of the shipped
plan they ran (a skipped step is recorded as skipped), so the rule is judged on runs a bench
really makes.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cli_runner import one_line, spabench
from support.records import SERIAL, store_run, workshop_record

from bench.records.migrations import MIGRATIONS
from bench.records.store import Store
from bench.testing.plans import PlanError, load_plan
from bench.testing.record import StepOutcome, StepResult, TestRecord
from protocols.mspa.parts import CATALOGUE, lookup

PURCHASED = date.today() - timedelta(days=100)
PUMP = lookup("B9300929")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "records.sqlite3"))
    monkeypatch.setenv("SPABENCH_WORKSHOP", "")
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: one line per row
    monkeypatch.chdir(tmp_path)
    return tmp_path / "records.sqlite3"


@pytest.fixture
def zone() -> Iterator[object]:
    """Set this process's local time zone (``zone(name)``); the old one is back afterwards."""
    before = os.environ.get("TZ")

    def use(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    yield use
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = spabench(capsys, *args)
    assert (code, err) == (0, ""), (code, out, err)
    return out


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """A one-line refusal (exit 2), no traceback."""
    return one_line(spabench(capsys, *args), 2)


def unit(capsys: pytest.CaptureFixture[str], profile: str = "premium-4", **dates: str) -> None:
    purchased = dates.get("purchased", PURCHASED.isoformat())
    ok(capsys, "unit", "add", "--serial", SERIAL, "--profile", profile,
       "--purchase-date", purchased)  # fmt: skip


def repair_order(
    capsys: pytest.CaptureFixture[str], *extra: str, profile: str = "premium-4"
) -> str:
    """The review's "P": a unit and an order with a repair agreement (order 1)."""
    unit(capsys, profile)
    return ok(capsys, "order", "open", "--serial", SERIAL, "--symptom", "x",
              "--agreement", "repair", *extra).strip()  # fmt: skip


def pump_fitted(capsys: pytest.CaptureFixture[str], order: str) -> None:
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "part", order, "--part", PUMP.number)
    ok(capsys, "order", "status", order, "repaired")


def now_text(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds")


def minute(moment: datetime) -> str:
    """A moment as a technician types it: local time to the minute."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def plan_run(
    plan: str,
    verdict: str = "pass",
    *,
    record_id: str,
    outcomes: dict[str, StepOutcome] | None = None,
    simulated: bool = False,
    started: str = "",
) -> TestRecord:
    """A finished run of the shipped ``plan``: every step passed unless ``outcomes`` says
    otherwise; the verdict as the runner would judge it."""
    steps = [
        StepResult(step.name, step.title, step.kind, (outcomes or {}).get(step.name, "pass"))
        for step in load_plan(plan).steps
    ]
    record = workshop_record(
        record_id=record_id,
        plan=plan,
        verdict=verdict,  # type: ignore[arg-type]
        summary="unit OK" if verdict == "pass" else "fault found",
        steps=steps,
        started_at=started or now_text(),
        finished_at=now_text(),
    )
    return replace(record, simulated=simulated)


def file_run(db: Path, order: str | None, record: TestRecord) -> int:
    with Store(db) as store:
        return store_run(store, record, None if order is None else int(order))


# ------------------------------------------------ 1: parts stored under the old SB- codes


def schema_2_file(path: Path, parts: list[str]) -> None:
    """A records file as a version before migration 0003 left it: a repair order with
    ``parts`` fitted under the codes that version stored."""
    old = Store(path, migrations=MIGRATIONS[:2])
    old.add_unit(SERIAL, "elite-6", date(2025, 6, 1))
    conn = old._conn
    conn.execute(
        "INSERT INTO orders (unit_serial, opened_at, symptom, agreement, status, status_at)"
        " VALUES (?, '2026-01-05T09:00:00.000000+00:00', 'old', 'repair', 'diagnosed',"
        " '2026-01-05T09:00:00.000000+00:00')",
        (SERIAL,),
    )
    for number in parts:
        conn.execute(
            "INSERT INTO parts_replaced (order_id, part_number, quantity, at)"
            " VALUES (1, ?, 1, '2026-01-06T09:00:00.000000+00:00')",
            (number,),
        )
    old.close()


def test_parts_stored_under_old_codes_are_migrated_to_the_current_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old_codes = [alias for part in CATALOGUE for alias in part.aliases]
    assert old_codes  # the catalogue still knows the codes earlier versions stored
    schema_2_file(path, old_codes)
    with Store(path) as store:
        stored = [part.part_number for part in store.parts(1)]
    assert stored == [lookup(code).number for code in old_codes]


def test_a_parts_limited_agreement_covers_a_part_stored_under_its_old_code(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    schema_2_file(db, ["SB-BLOWER"])
    said = ok(capsys, "order", "agree", "1", "--work", "repair", "--part", "blower",
              "--via", "phone", "--note", "blower only")  # fmt: skip
    assert "agreed repair of blower" in said
    shown = ok(capsys, "order", "show", "1")
    assert "SB-BLOWER" not in shown and "bubble generator" in shown


# ---------------------------------------------- 3, 4: what a later run says is not overruled


def test_a_later_failing_check_of_the_part_is_not_overruled_by_an_earlier_pass_and_a_smoke(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = repair_order(capsys)
    pump_fitted(capsys, order)
    file_run(db, order, plan_run("verify-filter-pump", record_id="v1"))
    failed = file_run(db, order, plan_run("verify-filter-pump", "fail", record_id="v2",
                                          outcomes={"pump-draw": "fail"}))  # fmt: skip
    file_run(db, order, plan_run("smoke", record_id="s1"))
    err = refused(capsys, "order", "status", order, "verified")
    assert f"run {failed} (verify-filter-pump) ended fail" in err
    conn = sqlite3.connect(db)  # the schema refuses it too, naming the passing run
    with pytest.raises(sqlite3.IntegrityError, match="no later run of its plan passed"):
        conn.execute(
            "INSERT INTO order_status (order_id, status, at, run_id) VALUES (?, 'verified', ?, 1)",
            (int(order), datetime.now(UTC).isoformat(timespec="microseconds")),
        )
    conn.close()
    # the check run again and passing answers the failure
    file_run(db, order, plan_run("verify-filter-pump", record_id="v3"))
    ok(capsys, "order", "status", order, "verified")


def test_a_simulated_pass_never_outranks_a_real_failure(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = repair_order(capsys)
    pump_fitted(capsys, order)
    failed = file_run(db, order, plan_run("verify-filter-pump", "fail", record_id="real",
                                          outcomes={"pump-draw": "fail"}))  # fmt: skip
    file_run(db, order, plan_run("verify-filter-pump", record_id="sim", simulated=True))
    err = refused(capsys, "order", "status", order, "verified", "--simulated")
    assert f"run {failed} (verify-filter-pump) ended fail" in err
    assert "SIMULATED UNIT does not overrule" in err


# --------------------------------------------------- 5: a user plan under a shipped name


def test_a_plan_file_reusing_a_shipped_plans_name_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mine = tmp_path / "quick.toml"
    mine.write_text('name = "full"\n\n[[step]]\nname = "link"\ntype = "link-up"\n')
    with pytest.raises(PlanError, match="shipped plan"):
        load_plan(mine)
    err = refused(capsys, "run", "--virtual", "--plan", str(mine), "--no-store")
    assert "'full' is the name of a shipped plan" in err
    # the shipped file itself, named by its path, is that plan
    shipped = Path(load_plan("full").source)
    assert load_plan(shipped).name == "full"


# ------------------------------------------------------- 6: parts that do not fit the unit


@pytest.mark.parametrize("number", ["jet-pump", "B9301288", "uvc"])
def test_a_part_that_does_not_fit_the_units_model_is_refused(
    capsys: pytest.CaptureFixture[str], db: Path, number: str
) -> None:
    unit(capsys, "concept-4")  # no jets, no UVC lamp, a Concept range panel
    ok(capsys, "order", "open", "--serial", SERIAL, "--symptom", "x", "--agreement", "repair")
    err = refused(capsys, "order", "part", "1", "--part", number)
    assert "does not fit" in err and "concept-4" in err
    with Store(db) as store:
        assert store.parts(1) == []


def test_the_customer_cannot_agree_to_a_part_that_does_not_fit(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    unit(capsys, "concept-4")
    ok(capsys, "order", "open", "--serial", SERIAL, "--symptom", "x")
    err = refused(capsys, "order", "agree", "1", "--work", "repair", "--part", "jet-pump",
                  "--via", "phone", "--note", "ok")  # fmt: skip
    assert "does not fit" in err and "concept-4" in err
    with Store(db) as store:
        assert store.order(1).agreement == "diagnosis"


def test_a_run_whose_check_of_the_part_was_skipped_does_not_verify_it(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = repair_order(capsys, profile="elite-6")
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "part", order, "--part", "jet-pump")
    ok(capsys, "order", "status", order, "repaired")
    file_run(db, order, plan_run("verify-jet-pump", record_id="j1", outcomes={"jets": "skipped"}))
    err = refused(capsys, "order", "status", order, "verified")
    assert re.search(r"jet pump .*has no passing verify-jet-pump or full run", err)
    file_run(db, order, plan_run("full", record_id="f1", outcomes={"jets": "skipped"}))
    err = refused(capsys, "order", "status", order, "verified")
    assert re.search(r"jet pump .*has no passing verify-jet-pump or full run", err)
    file_run(db, order, plan_run("verify-jet-pump", record_id="j2"))
    ok(capsys, "order", "status", order, "verified")


# ------------------------------------------------ 7: a failure after the order was verified


def test_hand_back_is_refused_when_a_run_after_verification_failed(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = repair_order(capsys)
    pump_fitted(capsys, order)
    file_run(db, order, plan_run("verify-filter-pump", record_id="v1"))
    ok(capsys, "order", "status", order, "verified")
    failed = file_run(db, order, plan_run("full", "fail", record_id="f1",
                                          outcomes={"heater-draw": "fail"}))  # fmt: skip
    err = refused(capsys, "order", "close", order)
    assert f"run {failed} (full) ended fail" in err
    assert f"spabench order status {order} diagnosed" in err and "run full again" in err
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="failed"):
        conn.execute(
            "INSERT INTO order_status (order_id, status, at) VALUES (?, 'handed-back', ?)",
            (int(order), datetime.now(UTC).isoformat(timespec="microseconds")),
        )
    conn.close()
    # the technician sends it back to diagnosis, as the message says
    ok(capsys, "order", "status", order, "diagnosed", "--note", "heater does not draw")
    shown = ok(capsys, "order", "show", order)
    assert "diagnosed: heater does not draw" in shown


def test_hand_back_after_the_failed_check_was_run_again_and_passed(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = repair_order(capsys)
    pump_fitted(capsys, order)
    file_run(db, order, plan_run("verify-filter-pump", record_id="v1"))
    ok(capsys, "order", "status", order, "verified")
    file_run(db, order, plan_run("full", "fail", record_id="f1", outcomes={"flow": "fail"}))
    file_run(db, order, plan_run("full", record_id="f2"))
    assert "handed back" in ok(capsys, "order", "close", order)


# ---------------------------------------------- 8: a part dated before a run already filed


def test_a_part_cannot_be_dated_before_a_run_already_filed_on_the_order(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    received = datetime.now().astimezone() - timedelta(hours=3)
    repair_order(capsys, "--received-at", minute(received))
    ok(capsys, "order", "status", "1", "diagnosed", "--at", minute(received + timedelta(hours=1)))
    run = file_run(db, "1", plan_run("verify-filter-pump", record_id="v1"))
    err = refused(capsys, "order", "part", "1", "--part", PUMP.number,
                  "--at", minute(received + timedelta(hours=2)))  # fmt: skip
    assert f"run {run}" in err and "cannot be earlier" in err
    with Store(db) as store:
        assert store.parts(1) == []
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="earlier than the one before"):
        conn.execute(
            "INSERT INTO parts_replaced (order_id, part_number, quantity, at) VALUES (1, ?, 1, ?)",
            (PUMP.number, (received + timedelta(hours=2)).astimezone(UTC).isoformat()),
        )
    conn.close()


# ------------------------------------------------------------------- 9: time-order checks


def test_an_event_dated_in_the_minute_of_the_previous_one_is_accepted(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    repair_order(capsys)
    this_minute = minute(datetime.now().astimezone())
    ok(capsys, "order", "contact", "1", "--via", "phone", "--at", this_minute)
    ok(capsys, "order", "status", "1", "diagnosed", "--at", this_minute)
    shown = ok(capsys, "order", "show", "1")
    assert "contact (phone)" in shown and "diagnosed" in shown


def test_a_future_moment_does_not_lock_the_order_for_later_entries(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    repair_order(capsys)
    soon = minute(datetime.now().astimezone() + timedelta(minutes=4))
    code, _, err = spabench(capsys, "order", "contact", "1", "--via", "phone", "--at", soon)
    assert code in (0, 2), err
    ok(capsys, "order", "status", "1", "diagnosed")  # the next entry, now
    later = minute(datetime.now().astimezone() + timedelta(minutes=30))
    assert "in the future" in refused(capsys, "order", "contact", "1", "--at", later)


# ------------------------------------------------------------------ 11: the quote's date


def test_the_quote_date_is_the_workshops_local_date(
    capsys: pytest.CaptureFixture[str], db: Path, zone: object
) -> None:
    zone("Pacific/Kiritimati")  # type: ignore[operator]  # UTC+14: 09:00 here is yesterday in UTC
    day = date.today() - timedelta(days=3)
    unit(capsys)
    ok(capsys, "order", "open", "--serial", SERIAL, "--symptom", "x",
       "--received-at", f"{day} 09:00")  # fmt: skip
    ok(capsys, "order", "agree", "1", "--work", "repair", "--quote", "50", "--via", "phone",
       "--note", "ok", "--at", f"{day} 09:30")  # fmt: skip
    shown = ok(capsys, "order", "show", "1")
    assert re.search(rf"quote +50\.00 on {day}", shown), shown


# --------------------------------------------------------- 12: the schema guards its rows


def test_raw_sql_cannot_rewrite_or_delete_parts_or_move_an_order_along(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = repair_order(capsys)
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "part", order, "--part", PUMP.number)
    conn = sqlite3.connect(db)
    forbidden = [
        "DELETE FROM parts_replaced",
        "UPDATE parts_replaced SET part_number = 'B9301291'",
        "UPDATE orders SET status = 'handed-back'",
        "UPDATE orders SET status = 'verified', status_at = '2099-01-01'",
        "UPDATE orders SET agreement = 'diagnosis'",
        "UPDATE orders SET agreed_parts = '[\"B9301291\"]'",
        "UPDATE orders SET quote_cents = 1",
        "UPDATE orders SET opened_at = '2000-01-01T00:00:00.000000+00:00'",
        "DELETE FROM orders",
    ]
    for sql in forbidden:
        with pytest.raises(sqlite3.IntegrityError, match="spabench"):
            conn.execute(sql)
    conn.close()
    shown = ok(capsys, "order", "show", order)
    assert re.search(r"status +diagnosed", shown)
    assert PUMP.number in shown


# --------------------------------------------------------- 13: control-panel parts


def test_a_control_panel_part_is_verified_by_the_panel_plan(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    order = repair_order(capsys)
    ok(capsys, "order", "status", order, "diagnosed")
    ok(capsys, "order", "part", order, "--part", "B9301287")
    ok(capsys, "order", "status", order, "repaired")
    file_run(db, order, plan_run("full", record_id="f1"))  # never exercises a panel
    err = refused(capsys, "order", "status", order, "verified")
    assert "B9301287 Premium control panel has no passing panel run" in err
    assert "--plan panel" in err
    file_run(db, order, plan_run("panel", record_id="p1"))
    ok(capsys, "order", "status", order, "verified")


# ------------------------------------------------------------------ 14: small problems


def test_workshop_init_refuses_blank_required_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "workshop.toml"
    base = {"--name": "Spa Nord", "--address": "Hafenstr. 5", "--contact": "040 1",
            "--currency": "EUR"}  # fmt: skip
    for blank in base:
        args = [x for key, value in base.items() for x in (key, " " if key == blank else value)]
        err = refused(capsys, "workshop", "init", "--file", str(target), *args)
        assert f"{blank} is empty" in err
        assert not target.exists()


def test_an_enormous_vat_rate_is_refused_in_the_words_it_was_typed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    err = refused(capsys, "workshop", "init", "--file", str(tmp_path / "w.toml"), "--name", "N",
                  "--address", "A", "--contact", "C", "--currency", "EUR",
                  "--vat-percent", "1e400")  # fmt: skip
    assert "'1e400'" in err and len(err) < 200


@pytest.mark.parametrize(
    "args",
    [
        (
            "order",
            "open",
            "--serial",
            SERIAL,
            "--symptom",
            "x",
            "--received-at",
            "0001-01-01 00:00",
        ),
        ("order", "contact", "1", "--at", "0001-01-01 00:30+01:00"),
        ("order", "contact", "1", "--at", "9999-12-31 23:59-01:00"),
    ],
)
def test_moments_out_of_range_are_one_line_naming_what_was_typed(
    capsys: pytest.CaptureFixture[str], db: Path, args: tuple[str, ...]
) -> None:
    repair_order(capsys)
    err = refused(capsys, *args)
    assert "out of range" in err and args[-1] in err
    assert "invalid moment_argument value" not in err


def test_simulated_belongs_to_verified_only(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    order = repair_order(capsys)
    err = refused(capsys, "order", "status", order, "diagnosed", "--simulated")
    assert "--simulated" in err and "verified" in err
    with Store(db) as store:
        assert store.order(int(order)).status == "received"


@pytest.mark.parametrize(
    ("typed", "needle"),
    [("2026-03-29 02:30", "does not exist"), ("2026-10-25 02:10", "happens twice")],
)
def test_a_local_time_a_clock_change_skips_or_repeats_needs_its_offset(
    capsys: pytest.CaptureFixture[str], db: Path, zone: object, typed: str, needle: str
) -> None:
    zone("Europe/Berlin")  # type: ignore[operator]
    unit(capsys, purchased="2025-06-01")
    err = refused(capsys, "order", "open", "--serial", SERIAL, "--symptom", "x",
                  "--received-at", typed)  # fmt: skip
    assert needle in err and "give the UTC offset" in err
    with Store(db) as store:
        assert store.orders() == []


def test_old_run_summaries_are_shown_in_the_current_part_wording(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    repair_order(capsys)
    old = replace(
        plan_run("full", "fail", record_id="old"), summary="replace: SB-HEATER PTC heater"
    )
    file_run(db, "1", old)
    for out in (ok(capsys, "history", SERIAL), ok(capsys, "order", "show", "1")):
        assert "SB-HEATER" not in out
        assert "replace: PTC heater (no maker's part number)" in out


# -------------------------------------------------------------------------- suspicions


def test_an_order_awaiting_approval_for_more_than_three_days_is_overdue(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    received = datetime.now().astimezone() - timedelta(days=10)
    unit(capsys)
    ok(capsys, "order", "open", "--serial", SERIAL, "--symptom", "x", "--quote", "90",
       "--received-at", minute(received))  # fmt: skip
    asked = received + timedelta(days=1)
    ok(capsys, "order", "status", "1", "diagnosed", "--at", minute(asked))
    ok(capsys, "order", "status", "1", "awaiting-approval", "--via", "phone", "--at", minute(asked))
    out = ok(capsys, "order", "list", "--overdue")
    assert f"awaiting the customer's approval since {asked.date()}" in out
    # a follow-up call clears it for another three days; the approval ends it
    ok(capsys, "order", "contact", "1", "--via", "phone", "--note", "still thinking")
    assert "no overdue orders" in ok(capsys, "order", "list", "--overdue")


def test_workshop_init_force_keeps_part_codes_and_logo_unless_replaced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "workshop.toml"
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    base = ("workshop", "init", "--file", str(target), "--name", "Spa Nord", "--address", "A",
            "--contact", "C", "--currency", "EUR")  # fmt: skip
    ok(capsys, *base, "--logo", str(tmp_path / "logo.png"), "--part-code", "heater=SSN-4711")
    out = ok(capsys, *base, "--force", "--part-code", "blower=SSN-1")
    assert "kept from the file it replaces: logo, part code heater" in out
    shown = ok(capsys, "workshop", "show", "--file", str(target))
    assert "SSN-4711" in shown and "SSN-1" in shown and "logo.png" in shown
