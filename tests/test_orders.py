"""Service orders: the status flow and the follow-up (overdue) rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support.records import SERIAL, filter_pump_failure, passing_verification, register, store_run

from bench.records.orders import (
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    check_transition,
    overdue_orders,
    overdue_reasons,
    parse_status,
    status_label,
)
from bench.records.store import Store

T0 = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)

LEGAL = {
    ("received", "diagnosed"),
    ("diagnosed", "awaiting-approval"),
    ("diagnosed", "repaired"),
    ("diagnosed", "handed-back"),
    ("awaiting-approval", "repaired"),
    ("awaiting-approval", "handed-back"),
    ("repaired", "verified"),
    ("repaired", "diagnosed"),
    ("verified", "handed-back"),
    ("verified", "diagnosed"),  # a run failed after verification
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "records.sqlite3") as opened:
        register(opened)
        yield opened


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_the_flow_allows_exactly_the_legal_transitions(current: str, new: str) -> None:
    if (current, new) in LEGAL:
        check_transition(current, new, "repair")  # type: ignore[arg-type]
    else:
        with pytest.raises(IllegalTransition, match=f"from {current} to {new}"):
            check_transition(current, new, "repair")  # type: ignore[arg-type]


def test_diagnosis_only_orders_need_approval_before_repair() -> None:
    with pytest.raises(IllegalTransition, match="diagnosis only"):
        check_transition("diagnosed", "repaired", "diagnosis")
    check_transition("diagnosed", "awaiting-approval", "diagnosis")
    with pytest.raises(IllegalTransition, match="record their approval first"):
        check_transition("awaiting-approval", "repaired", "diagnosis")  # approval not recorded
    check_transition("awaiting-approval", "repaired", "repair")


def test_a_handed_back_order_is_closed() -> None:
    assert TRANSITIONS["handed-back"] == ()
    with pytest.raises(IllegalTransition, match="closed"):
        check_transition("handed-back", "received", "repair")


def test_status_names_are_forgiving_on_input_and_plain_on_output() -> None:
    assert parse_status("Awaiting approval") == "awaiting-approval"
    assert parse_status("handed_back") == "handed-back"
    assert status_label("awaiting-approval") == "awaiting approval"
    with pytest.raises(ValueError, match="unknown status 'fixed'"):
        parse_status("fixed")


def _walk(store: Store, order_id: int, *statuses: str, start: datetime = T0) -> None:
    for index, status in enumerate(statuses, start=1):
        store.set_status(order_id, status, by="ada", now=start + timedelta(hours=index))


def test_a_full_repair_flow_is_recorded_with_who_and_when(store: Store) -> None:
    order_id = store.open_order(SERIAL, "won't heat", agreement="repair", by="desk", now=T0)
    store_run(store, filter_pump_failure(), order_id)
    _walk(store, order_id, "diagnosed", "repaired")
    store.add_part(order_id, "B9300929", by="ada", now=T0 + timedelta(hours=2))
    store_run(store, passing_verification(), order_id)  # started 2026-03-21 10:00
    _walk(store, order_id, "verified", "handed-back", start=datetime(2026, 3, 21, 10, tzinfo=UTC))
    timeline = store.timeline(order_id)
    assert [c.status for c in timeline] == [
        "received",
        "diagnosed",
        "repaired",
        "verified",
        "handed-back",
    ]
    assert [c.by for c in timeline] == ["desk", "ada", "ada", "ada", "ada"]
    assert [c.at for c in timeline] == sorted(c.at for c in timeline)
    assert not store.order(order_id).is_open
    with pytest.raises(IllegalTransition):
        store.set_status(order_id, "diagnosed", now=T0 + timedelta(days=1))


def test_verified_needs_the_latest_finished_run_to_pass(store: Store) -> None:
    order_id = store.open_order(SERIAL, "won't heat", agreement="repair", now=T0)
    _walk(store, order_id, "diagnosed", "repaired")
    store.add_part(order_id, "B9300929", now=T0 + timedelta(hours=2))
    with pytest.raises(IllegalTransition, match="no passing verify-filter-pump or full run"):
        store.set_status(order_id, "verified", now=T0 + timedelta(hours=3))
    store_run(store, passing_verification(), order_id)
    retest = replace(filter_pump_failure("retest"), started_at="2026-03-21T11:00:00+00:00")
    store_run(store, retest, order_id)  # after the passing run: the latest, and it failed
    with pytest.raises(IllegalTransition, match=r"run \d+ \(full\) ended fail"):
        store.set_status(order_id, "verified")
    retest_2 = replace(passing_verification("retest-2"), started_at="2026-03-21T12:00:00+00:00")
    store_run(store, retest_2, order_id)  # verify-filter-pump: does not answer full's failure
    with pytest.raises(IllegalTransition, match=r"no later full run passed"):
        store.set_status(order_id, "verified")
    retest_3 = replace(passing_verification("retest-3"), plan="full",
                       started_at="2026-03-21T13:00:00+00:00")  # fmt: skip
    store_run(store, retest_3, order_id)
    assert store.set_status(order_id, "verified").status == "verified"


def test_status_changes_cannot_go_back_in_time(store: Store) -> None:
    order_id = store.open_order(SERIAL, "leaks", now=T0)
    with pytest.raises(ValueError, match="earlier"):
        store.set_status(order_id, "diagnosed", now=T0 - timedelta(minutes=1))


def test_unknown_orders_are_reported(store: Store) -> None:
    with pytest.raises(Exception, match="unknown order 77"):
        store.set_status(77, "diagnosed")


# -------------------------------------------------------------------------- follow-up


def test_overdue_when_nobody_contacted_the_customer_for_three_days(store: Store) -> None:
    order_id = store.open_order(SERIAL, "no bubbles", now=T0)
    order = store.order(order_id)
    assert overdue_reasons(order, T0 + timedelta(days=3)) == []  # exactly 3 days: not yet
    reasons = overdue_reasons(order, T0 + timedelta(days=3, seconds=1))
    assert reasons == ["no customer contact within 3 days of intake (2026-03-20)"]
    assert [item.order.id for item in overdue_orders(store, T0 + timedelta(days=4))] == [order_id]


def test_a_contact_clears_the_contact_rule_even_when_late(store: Store) -> None:
    prompt = store.open_order(SERIAL, "no bubbles", now=T0)
    late = store.open_order(SERIAL, "no heat", now=T0)
    store.add_contact(prompt, by="desk", note="called: pump on order", now=T0 + timedelta(days=1))
    store.add_contact(late, by="desk", now=T0 + timedelta(days=5))
    assert overdue_orders(store, T0 + timedelta(days=2)) == []
    assert overdue_orders(store, T0 + timedelta(days=6)) == []
    assert [c.note for c in store.contacts(prompt)] == ["called: pump on order"]


def test_overdue_when_past_the_promised_date(store: Store) -> None:
    order_id = store.open_order(SERIAL, "display dark", promised=date(2026, 3, 22), now=T0)
    store.add_contact(order_id, now=T0 + timedelta(hours=1))
    on_the_day = datetime(2026, 3, 22, 23, 59, tzinfo=UTC)
    assert overdue_orders(store, on_the_day) == []
    (item,) = overdue_orders(store, on_the_day + timedelta(minutes=1))
    assert item.order.id == order_id
    assert item.reasons == ("past the promised date 2026-03-22",)


def test_both_reasons_are_given_and_oldest_intake_comes_first(store: Store) -> None:
    newer = store.open_order(SERIAL, "b", promised=date(2026, 3, 21), now=T0 + timedelta(hours=1))
    older = store.open_order(SERIAL, "a", now=T0)
    overdue = overdue_orders(store, T0 + timedelta(days=10))
    assert [item.order.id for item in overdue] == [older, newer]
    assert len(overdue[1].reasons) == 2


def test_handed_back_orders_are_never_overdue(store: Store) -> None:
    order_id = store.open_order(SERIAL, "leaks", promised=date(2026, 3, 21), now=T0)
    _walk(store, order_id, "diagnosed", "handed-back")
    assert overdue_orders(store, T0 + timedelta(days=30)) == []
    assert overdue_reasons(store.order(order_id), T0 + timedelta(days=30)) == []


def test_overdue_orders_needs_an_aware_time(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        overdue_orders(store, datetime(2026, 3, 20))
