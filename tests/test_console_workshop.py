"""The console as a workshop uses it (issue 13): safe while a run goes, truthful in what it shows.

Each test drives the console from the keyboard (Textual's Pilot) over a virtual box on
stepped time, and judges what a technician sees on the screen and what lands in the records
database — never the console's internals. Expectations come from the issue: confirm before
quitting a run, abort from any dialog, a cancelled safety step stops the plan, the metered
column never shows a stale draw, the plan view shows values against limits, the guide can
open an order, the orders view moves an order along under the store's rules, simulated runs
are marked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.console import (
    BIG,
    NOW,
    SMALL,
    advance,
    choose,
    in_event_loop,
    make_app,
    shown,
    start_plan,
    type_text,
    until_screen,
    until_shown,
)
from support.records import passing_verification, store_run
from textual.pilot import Pilot

from bench.console.app import ConsoleApp
from bench.console.order_actions import in_console_terms
from bench.console.screens.dialogs import TextEntry
from bench.console.screens.orders import OrdersScreen
from bench.console.screens.pickers import Picker
from bench.console.screens.prompt import PromptModal
from bench.console.screens.run import RunScreen
from bench.console.screens.troubleshoot import TroubleshootScreen
from bench.console.stepped import SteppedDriver
from bench.records import advice
from bench.records.display import display_time
from bench.records.orders import Agreement
from bench.records.store import Store
from bench.records.verification import run_started
from bench.testing.record import Measurement
from protocols.mspa.parts import lookup


@pytest.fixture(autouse=True)
def _private_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing a test runs may touch the user's real records database or workshop file."""
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "default.sqlite3"))
    monkeypatch.setenv("SPABENCH_WORKSHOP", str(tmp_path / "no-workshop.toml"))


def db_of(tmp_path: Path) -> Path:
    return tmp_path / "records.sqlite3"


def register(tmp_path: Path, serial: str = "SN-TEST") -> None:
    with Store(db_of(tmp_path)) as store:
        if not store.has_unit(serial):
            store.add_unit(serial, "premium-4", date(2023, 6, 1), now=NOW - timedelta(days=400))


def open_order(tmp_path: Path, serial: str = "SN-TEST", *, agreement: Agreement = "repair") -> int:
    register(tmp_path, serial)
    with Store(db_of(tmp_path)) as store:
        return store.open_order(
            serial,
            "bubbles stop after a minute",
            agreement=agreement,
            now=NOW - timedelta(days=1),
        )


async def until_prompt(
    app: ConsoleApp, pilot: Pilot[int], driver: SteppedDriver, prompt_id: str, answers: str = "y"
) -> PromptModal:
    """Run the plan until the dialog ``prompt_id`` is up; earlier confirm prompts get
    ``answers``, act prompts enter."""
    for _ in range(120):
        await advance(app, driver, 2)
        await pilot.pause()
        screen = app.screen
        if isinstance(screen, PromptModal):
            if screen.prompt.prompt_id == prompt_id:
                return screen
            await pilot.press(answers if screen.prompt.kind == "confirm" else "enter")
            await app.settled()
    raise AssertionError(f"no {prompt_id} dialog")


# -- 1. quitting during a run ------------------------------------------------------------------


@in_event_loop
async def test_q_during_a_run_asks_first_and_no_keeps_the_run_going(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "verify-heater")
        await advance(app, driver, 4)
        assert app.snapshot.busy == "plan verify-heater"
        await pilot.press("q")
        text = await shown(pilot)
        assert app.is_running, "q quit at once in the middle of a run"
        assert "A plan is running" in text and "verify-heater" in text
        await pilot.press("n")
        await advance(app, driver, 4)
        assert app.is_running and app.snapshot.busy == "plan verify-heater"
        assert isinstance(app.screen, RunScreen)
        await pilot.press("ctrl+q")  # Textual's own quit key asks too
        assert app.is_running and "A plan is running" in await shown(pilot)
        await pilot.press("n")
        # Leaving the run screen does not make quitting any less dangerous.
        await pilot.press("escape", "q")
        assert app.is_running and "A plan is running" in await shown(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.snapshot.busy == "plan verify-heater"


@in_event_loop
async def test_quitting_after_confirmation_files_the_run_as_aborted_with_its_steps(
    tmp_path: Path,
) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "verify-heater")
        for _ in range(30):
            await advance(app, driver, 2)
            if box.driven()["heater"]:
                break
        assert box.driven()["heater"], "the plan never switched the heater on"
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert not any(box.driven().values())  # the bench never leaves a heater running
    with Store(db_of(tmp_path)) as store:
        (run,) = store.runs_for_unit("SN-TEST")
        assert run.status not in ("running", "pass"), run.status
        record = store.run_record(run.id)
    assert "aborted" in (record.error or "").lower()
    finished = [step for step in record.steps if step.outcome == "pass"]
    assert finished and finished[0].name == "link"  # what was measured before the quit is kept
    assert all(m.value is not None for m in finished[0].measurements)


@in_event_loop
async def test_quit_without_a_run_needs_no_confirmation(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, driver, 5)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


# -- 2. abort from a dialog ---------------------------------------------------------------------


@in_event_loop
async def test_a_aborts_the_run_from_the_operator_dialog(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "smoke")
        await until_prompt(app, pilot, driver, "bubbles-visible")
        assert "a abort run" in await shown(pilot)  # offered in the dialog's key bar
        await pilot.press("a")
        await advance(app, driver, 3)
        await pilot.pause()
        assert not isinstance(app.screen, PromptModal)
        run = app.snapshot.run
        assert run is not None and run.aborted and app.snapshot.busy is None
        assert not any(box.driven().values())
        assert "ABORTED" in await shown(pilot)


@in_event_loop
async def test_a_aborts_the_run_from_another_dialog(tmp_path: Path) -> None:
    """The fault picker is open over the main screen while a plan runs."""
    app, driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "verify-heater")
        await advance(app, driver, 2)
        await pilot.press("escape", "x")
        await pilot.pause()
        assert "Inject or clear a fault" in await shown(pilot)
        await pilot.press("a")
        await advance(app, driver, 3)
        await pilot.pause()
        assert "Inject or clear a fault" not in await shown(pilot)
        run = app.snapshot.run
        assert run is not None and run.aborted and app.snapshot.busy is None


# -- 3. a cancelled safety step ------------------------------------------------------------------


@in_event_loop
async def test_cancelling_the_prcd_dialog_stops_the_plan(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "full")
        await until_prompt(app, pilot, driver, "prcd-test")
        await pilot.press("escape")
        for _ in range(10):
            await advance(app, driver, 5)
            run = app.snapshot.run
            assert run is not None
            names = [step.name for step in run.steps]
            after = run.steps[names.index("prcd") + 1 :]
            assert all(step.outcome in ("pending", "skipped") for step in after), (
                "the plan went on after the safety step was cancelled"
            )
            if run.finished and app.snapshot.busy is None:
                break
        run = app.snapshot.run
        assert run is not None and run.finished and run.verdict != "pass"
        (prcd,) = [step for step in run.steps if step.name == "prcd"]
        assert prcd.outcome in ("error", "fail")
        assert all(step.outcome == "skipped" for step in after)
        await until_shown(pilot, "unsafe to continue")  # the reason, on the run screen
    with Store(db_of(tmp_path)) as store:
        (stored,) = store.runs_for_unit("SN-TEST")
        record = store.run_record(stored.id)
    assert record.verdict != "pass"
    assert "unsafe to continue" in " ".join([record.error or "", record.summary])
    skipped = [step for step in record.steps if step.outcome == "skipped"]
    assert skipped and all("unsafe to continue" in step.message for step in skipped)


# -- 4. the metered column -------------------------------------------------------------------------

HEATER_DELTA = re.compile(r"Heater\s+(on|off)\s+\+\d+ W")


@in_event_loop
async def test_the_meter_column_forgets_a_draw_once_the_load_is_off(tmp_path: Path) -> None:
    """Loads switched off by a plan (or its abort), not by a key: no stale "+1495 W"."""
    app, driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, driver, 10)
        await pilot.press("f")
        await advance(app, driver, 6)
        await pilot.press("h")
        await advance(app, driver, 10)
        match = HEATER_DELTA.search(await shown(pilot))
        assert match is not None and match.group(1) == "on"  # measured at switch-on
        await start_plan(pilot, "verify-heater")
        await advance(app, driver, 6)
        await pilot.press("a")
        await advance(app, driver, 3)
        await pilot.press("escape")
        text = await shown(pilot)
        assert "Heater   off" in text
        assert HEATER_DELTA.search(text) is None, text


@in_event_loop
async def test_the_meter_column_does_not_show_a_draw_the_meter_no_longer_sees(
    tmp_path: Path,
) -> None:
    """The PRCD trips: the heater stays commanded on, the supply draws nothing."""
    app, driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, driver, 10)
        await pilot.press("f")
        await advance(app, driver, 6)
        await pilot.press("h")
        await advance(app, driver, 10)
        assert HEATER_DELTA.search(await shown(pilot)) is not None
        await pilot.press("p")  # PRCD TEST: the unit loses power
        await advance(app, driver, 10)
        assert app.snapshot.meter is not None and app.snapshot.meter.power_w < 100
        text = await shown(pilot)
        assert HEATER_DELTA.search(text) is None, text


# -- 5. values against limits -------------------------------------------------------------------


def shown_value(measurement: Measurement) -> str:
    """How the issue asks a value to read: ``1,495 W (1,000–2,200)``."""
    value = measurement.value
    assert isinstance(value, float | int) and not isinstance(value, bool)
    low, high = measurement.limits.low, measurement.limits.high
    assert low is not None and high is not None
    return f"{value:,.0f} {measurement.unit} ({low:,.0f}–{high:,.0f})"


@in_event_loop
async def test_the_plan_view_shows_each_value_against_its_limits(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "verify-heater")
        for _ in range(100):
            await advance(app, driver, 10)
            run = app.snapshot.run
            if run is not None and run.finished and not app.snapshot.busy:
                break
        text = await shown(pilot)
    with Store(db_of(tmp_path)) as store:
        (stored,) = store.runs_for_unit("SN-TEST")
        record = store.run_record(stored.id)
    assert record.verdict == "pass"
    draws = [
        m
        for step in record.steps
        for m in step.measurements
        if m.unit == "W" and m.limits.low is not None and m.limits.high is not None
    ]
    assert draws
    for measurement in draws:
        assert f"{shown_value(measurement)} {measurement.outcome}" in text, text


# -- 6. a new order from a walk ------------------------------------------------------------------


@in_event_loop
async def test_the_guide_opens_a_new_order_from_the_walk(tmp_path: Path) -> None:
    register(tmp_path)
    app, driver = make_app(tmp_path, "power-board-dead")
    async with app.run_test(size=BIG) as pilot:
        await advance(app, driver, 5)
        await pilot.press("g")
        await choose(pilot, "no-display")
        screen = app.screen
        assert isinstance(screen, TroubleshootScreen)
        for _ in range(30):
            await advance(app, driver, 5)
            await pilot.pause()
            if screen.mode == "ask":
                await pilot.press("y")
            elif screen.mode == "end":
                break
        assert screen.mode == "end"
        await pilot.press("s")
        await until_screen(pilot, Picker)
        assert "new order for SN-TEST" in await shown(pilot)
        await choose(pilot, "new")
        await until_shown(pilot, "what did the customer agree to?")
        await choose(pilot, "diagnosis")
        text = await until_shown(pilot, "Saved on new order")
    with Store(db_of(tmp_path)) as store:
        (order,) = store.orders(serial="SN-TEST")
        (note,) = store.notes(order_id=order.id)
    assert order.status == "received" and order.agreement == "diagnosis"
    assert "No display" in order.symptom
    assert "B9301291 power board" in note.text
    assert f"Saved on new order {order.id}." in text


# -- 7. the orders view acts --------------------------------------------------------------------


async def open_orders(app: ConsoleApp, pilot: Pilot[int]) -> OrdersScreen:
    await pilot.press("r")
    screen = app.screen
    assert isinstance(screen, OrdersScreen)
    await screen.workers.wait_for_complete()
    await pilot.pause()
    return screen


@in_event_loop
async def test_the_orders_view_moves_an_order_along_and_logs_a_contact(tmp_path: Path) -> None:
    order_id = open_order(tmp_path)
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await open_orders(app, pilot)
        await pilot.press("s")
        await until_screen(pilot, Picker)
        await choose(pilot, "diagnosed")
        await until_shown(pilot, "note for the status change")
        await pilot.press("enter")  # the note is optional
        await until_shown(pilot, "SN-TEST  diagnosed")
        await pilot.press("c")
        await until_screen(pilot, Picker)
        await choose(pilot, "phone")
        await until_shown(pilot, "What was said")
        await type_text(pilot, "told her the pump is dead")
        await pilot.press("enter")
        await until_shown(pilot, "phone: told her the pump is dead")
        await pilot.press("p")
        await until_screen(pilot, Picker)
        await choose(pilot, "B9300929")
        await until_shown(pilot, "How many?")
        await pilot.press("enter")  # quantity 1
        text = await until_shown(pilot, "parts: B9300929 filter pump")
        # Moments in the one format the records show to a person.
        assert f"opened {display_time(NOW - timedelta(days=1))}" in text
    with Store(db_of(tmp_path)) as store:
        assert store.order(order_id).status == "diagnosed"
        (contact,) = store.contacts(order_id)
        (part,) = store.parts(order_id)
    assert (contact.via, contact.note) == ("phone", "told her the pump is dead")
    assert part.part_number == "B9300929" and part.quantity == 1


@in_event_loop
async def test_the_orders_view_shows_the_stores_refusal(tmp_path: Path) -> None:
    """repaired → verified needs a passing run on the order: the store says no, in one line."""
    order_id = open_order(tmp_path)
    with Store(db_of(tmp_path)) as store:
        store.set_status(order_id, "diagnosed", now=NOW - timedelta(hours=20))
        store.set_status(order_id, "repaired", now=NOW - timedelta(hours=10))
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await open_orders(app, pilot)
        await pilot.press("s")
        await until_screen(pilot, Picker)
        await choose(pilot, "verified")
        await until_shown(pilot, "why no part was needed")
        await type_text(pilot, "reseated the cable")
        await pilot.press("enter")
        text = await until_shown(pilot, f"cannot mark order {order_id} verified")
        # The store's advice, in what the console offers: a plan run from the console.
        assert "has no passing full run" in text
        assert "--port" not in text and "--plan" not in text
    with Store(db_of(tmp_path)) as store:
        assert store.order(order_id).status == "repaired"


@pytest.mark.skipif(
    not hasattr(Store, "amend_agreement"), reason="the orders' amend_agreement is not merged yet"
)
@in_event_loop
async def test_the_orders_view_amends_the_agreement(tmp_path: Path) -> None:
    order_id = open_order(tmp_path, agreement="diagnosis")
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await open_orders(app, pilot)
        await until_shown(pilot, "agreed: diagnosis only")
        await pilot.press("m")
        await until_screen(pilot, Picker)
        await choose(pilot, "repair")
        await until_shown(pilot, "how did the customer agree?")
        await choose(pilot, "phone")
        await until_shown(pilot, "parts the agreement covers")
        await type_text(pilot, "B9300929")
        await pilot.press("enter")
        await until_shown(pilot, "the quote agreed")
        await type_text(pilot, "89.50")
        await pilot.press("enter")
        await until_shown(pilot, "what was agreed")
        await type_text(pilot, "new filter pump")
        await pilot.press("enter")
        await until_shown(pilot, "agreed: repair")
    with Store(db_of(tmp_path)) as store:
        order = store.order(order_id)
    assert order.agreement == "repair" and order.quote_cents == 8950


# -- 7b. verified from the console, as from the CLI ---------------------------------------------


def file_run(
    tmp_path: Path, order_id: int, *, plan: str, simulated: bool = False, started_at: str = ""
) -> int:
    """A passing run of ``plan`` filed on the order as a bench files it (``started_at``
    empty: just now, by the store's clock); a simulated one as the console files it after
    the technician's yes."""
    record = replace(
        passing_verification(serial="SN-TEST"),
        plan=plan,
        started_at=started_at,
        simulated=simulated,
    )
    with Store(db_of(tmp_path)) as store:
        return store_run(store, record, order_id)


def repaired_order(tmp_path: Path, *, part: str | None = None) -> int:
    """An agreed repair marked repaired (no note) ten hours before the console's now, with
    ``part`` fitted two hours later."""
    order_id = open_order(tmp_path)
    with Store(db_of(tmp_path)) as store:
        store.set_status(order_id, "diagnosed", now=NOW - timedelta(hours=20))
        store.set_status(order_id, "repaired", now=NOW - timedelta(hours=10))
        if part is not None:
            store.add_part(order_id, part, now=NOW - timedelta(hours=8))
    return order_id


async def choose_verified(app: ConsoleApp, pilot: Pilot[int]) -> None:
    await open_orders(app, pilot)
    await pilot.press("s")
    await until_screen(pilot, Picker)
    await choose(pilot, "verified")


@in_event_loop
async def test_the_orders_view_verifies_on_a_simulated_run_the_technician_accepts(
    tmp_path: Path,
) -> None:
    """(a) A run on a simulated unit filed on the order verifies it once the technician
    accepts it in the console (the CLI's ``--simulated``), and the timeline says so."""
    order_id = repaired_order(tmp_path, part=lookup("B9300929").number)
    run_id = file_run(
        tmp_path,
        order_id,
        plan="verify-filter-pump",
        simulated=True,
        started_at=(NOW - timedelta(hours=5)).isoformat(),
    )
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await choose_verified(app, pilot)
        await until_shown(pilot, "note for the status change")
        await pilot.press("enter")
        text = await until_shown(pilot, "Accept a run on a SIMULATED UNIT as the verification?")
        assert f"run {run_id}" in text
        await pilot.press("y")
        await until_shown(pilot, "SN-TEST  verified")
    with Store(db_of(tmp_path)) as store:
        assert store.order(order_id).status == "verified"
        verified = store.timeline(order_id)[-1]
        by = store.verification(order_id)
    assert by is not None and by.id == run_id
    assert "SIMULATED" in verified.note


@in_event_loop
async def test_declining_the_simulated_run_says_what_to_do_in_the_console(tmp_path: Path) -> None:
    """No to the simulated run: the store refuses, and the console says how to accept it
    there, never a CLI flag it does not have."""
    order_id = repaired_order(tmp_path, part=lookup("B9300929").number)
    file_run(
        tmp_path,
        order_id,
        plan="verify-filter-pump",
        simulated=True,
        started_at=(NOW - timedelta(hours=5)).isoformat(),
    )
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await choose_verified(app, pilot)
        await until_shown(pilot, "note for the status change")
        await pilot.press("enter")
        await until_shown(pilot, "Accept a run on a SIMULATED UNIT as the verification?")
        await pilot.press("n")
        text = await until_shown(pilot, f"cannot mark order {order_id} verified")
        assert "SIMULATED UNIT" in text
        assert "answer y" in text
        assert "--simulated" not in text
    with Store(db_of(tmp_path)) as store:
        assert store.order(order_id).status == "repaired"


@in_event_loop
async def test_the_orders_view_verifies_a_repair_without_a_part_given_a_note(
    tmp_path: Path,
) -> None:
    """(b) Marked repaired with no note and no part, a passing full run: verified needs a
    note saying why no part was needed, and the console asks for it."""
    order_id = repaired_order(tmp_path)
    run_id = file_run(
        tmp_path, order_id, plan="full", started_at=(NOW - timedelta(hours=5)).isoformat()
    )
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await choose_verified(app, pilot)
        await until_shown(pilot, "why no part was needed")
        await pilot.press("enter")  # empty: refused in the dialog, nothing sent
        await pilot.pause()
        assert isinstance(app.screen, TextEntry)
        await type_text(pilot, "reseated the loose cable")
        await pilot.press("enter")
        await until_shown(pilot, "SN-TEST  verified")
    with Store(db_of(tmp_path)) as store:
        assert store.order(order_id).status == "verified"
        verified = store.timeline(order_id)[-1]
        by = store.verification(order_id)
    assert by is not None and by.id == run_id
    assert "reseated the loose cable" in verified.note


def test_a_refusal_naming_cli_flags_is_put_in_the_consoles_terms() -> None:
    """The store words its refusals for ``spabench order``; the console shows them with its
    own way to do the same (a note in the status dialog, a yes to the simulated run, a plan
    run with t), never a flag it does not have."""
    note = in_console_terms(
        "cannot mark order 3 verified: no part was fitted; give a note saying what was done "
        "and why no part was needed (--note ...)"
    )
    assert "--note" not in note and "why no part was needed" in note
    assert "status" in note  # where the console takes the note
    simulated = in_console_terms(
        "cannot mark order 3 verified: B9300929 filter pump has no passing verify-filter-pump "
        "or full run started after the last part was fitted (10 Mar 2025 01:00) (run 2 passed "
        "on a SIMULATED UNIT: add --simulated to accept it); run 'spabench run --port PORT "
        "--unit SN-TEST --order 3 --plan verify-filter-pump'"
    )
    assert "--" not in simulated and "spabench run" not in simulated
    assert "run 2 passed on a SIMULATED UNIT" in simulated and "answer y" in simulated
    assert "verify-filter-pump" in simulated


def test_every_piece_of_cli_advice_the_records_give_has_console_words() -> None:
    """Each advice template of the records (the one place refusals take their ``spabench``
    commands from), filled in as a refusal fills it, reads without a CLI command or flag in
    the console — a new or reworded template fails here, not silently at the bench."""
    templates = {
        name: value
        for name, value in vars(advice).items()
        if name.isupper() and isinstance(value, str)
    }
    assert len(templates) >= 5
    for name, template in templates.items():
        filled = template.format(run=7, unit="SN-TEST", order=3, plan="verify-heater")
        shown = in_console_terms(f"cannot do it: because {filled}; or else")
        assert "spabench" not in shown and "--" not in shown, (name, shown)
        assert shown.startswith("cannot do it: because ") and shown.endswith("; or else")


@in_event_loop
async def test_console_entries_are_entered_now_after_a_run_just_filed(tmp_path: Path) -> None:
    """What the technician enters in the console happens now: after a run another bench just
    filed on the order, whatever the console's own clock says (here it is behind)."""
    order_id = open_order(tmp_path)
    file_run(tmp_path, order_id, plan="full")  # just now, by the store's clock
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await open_orders(app, pilot)
        await pilot.press("c")
        await until_screen(pilot, Picker)
        await choose(pilot, "phone")
        await until_shown(pilot, "What was said")
        await type_text(pilot, "the unit passed")
        await pilot.press("enter")
        await until_shown(pilot, "phone: the unit passed")
    with Store(db_of(tmp_path)) as store:
        (contact,) = store.contacts(order_id)
        (run,) = store.runs_for_order(order_id)
    assert contact.at >= run_started(run.started_at)


# -- 8. simulated is never mistaken for real ---------------------------------------------------


@in_event_loop
async def test_a_simulated_unit_is_marked_on_the_run_screen_and_in_the_orders_list(
    tmp_path: Path,
) -> None:
    order_id = open_order(tmp_path)
    app, driver = make_app(tmp_path, order_id=order_id)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "smoke")
        # Filing a simulated run on a customer's order needs an explicit yes.
        text = await shown(pilot)
        assert "SIMULATED UNIT" in text and f"order {order_id}" in text
        assert app.snapshot.busy is None  # nothing started before the answer
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, RunScreen)
        assert "SIMULATED UNIT" in await shown(pilot)
        for _ in range(60):
            await advance(app, driver, 10)
            if isinstance(app.screen, PromptModal):
                await pilot.press("y")
                await app.settled()
            run = app.snapshot.run
            if run is not None and run.finished and not app.snapshot.busy:
                break
        await pilot.press("escape")
        await open_orders(app, pilot)
        await until_shown(pilot, "smoke pass")
        assert "SIMULATED UNIT" in await shown(pilot)
    with Store(db_of(tmp_path)) as store:
        (stored,) = store.runs_for_order(order_id)
    assert stored.simulated


@in_event_loop
async def test_no_to_a_simulated_run_on_an_order_starts_nothing(tmp_path: Path) -> None:
    order_id = open_order(tmp_path)
    app, driver = make_app(tmp_path, order_id=order_id)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, driver, 10)
        await start_plan(pilot, "smoke")
        await pilot.press("n")
        await advance(app, driver, 10)
        assert app.snapshot.busy is None and app.snapshot.run is None
    with Store(db_of(tmp_path)) as store:
        assert store.runs_for_order(order_id) == []
