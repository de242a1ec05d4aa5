"""Screenshots of the console's main screens at 80×24, compared with accepted ones.

Deterministic by construction: the virtual box and its meter are seeded, simulated time is a
:class:`~bench.console.stepped.SteppedDriver` the test steps, the screen shows only simulated
time (no wall clock), and "now" for the orders view is fixed. Update after a deliberate
change with ``pytest tests/test_console_snapshots.py --snapshot-update`` and look at the
SVGs before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from bench.console.app import ConsoleApp
from bench.console.screens.prompt import PromptModal
from bench.console.screens.troubleshoot import TroubleshootScreen
from bench.console.session import Session
from bench.console.stepped import SteppedDriver
from bench.console.targets import virtual_target
from bench.records.store import Store

SIZE = (80, 24)
NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _private_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The user's records and workshop untouched; moments shown in UTC whatever the machine's
    zone (the console shows local time)."""
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "default.sqlite3"))
    monkeypatch.setenv("SPABENCH_WORKSHOP", str(tmp_path / "no-workshop.toml"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(tmp_path: Path, *faults: str) -> tuple[ConsoleApp, SteppedDriver]:
    target = virtual_target(faults=faults, serial="SN-0042", make_driver=SteppedDriver)
    db = str(tmp_path / "records.sqlite3")
    session = Session(target, db_path=db)
    assert isinstance(session.inner, SteppedDriver)
    return ConsoleApp(session, db_path=db, now=lambda: NOW), session.inner


async def step(app: ConsoleApp, driver: SteppedDriver, seconds: float) -> None:
    driver.advance(seconds)
    await app.settled()


async def choose(pilot: Pilot[int], key: str, option: str) -> None:
    """Open a picker with ``key`` and choose ``option`` in it."""
    await pilot.press(key)
    await pilot.pause()
    options = pilot.app.screen.query_one("OptionList")
    options.highlighted = [item.id for item in options.options].index(option)
    await pilot.press("enter")


def test_main_screen_heating_with_flow(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """Filter and heater on for two minutes: water warming, flow, deltas, frame log."""
    app, driver = make_app(tmp_path)

    async def run_before(pilot: Pilot[int]) -> None:
        await step(app, driver, 10)
        await pilot.press("f")
        await step(app, driver, 4)
        await pilot.press("h", "b")
        await step(app, driver, 120)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_operator_prompt_during_smoke(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The smoke plan's bubbles question as a modal over the run screen."""
    app, driver = make_app(tmp_path)

    async def run_before(pilot: Pilot[int]) -> None:
        await step(app, driver, 10)
        await choose(pilot, "t", "smoke")
        for _ in range(30):
            await step(app, driver, 5)
            if isinstance(app.screen, PromptModal):
                return
        raise AssertionError("no prompt")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_run_screen_with_a_failing_verdict(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """verify-filter-pump on a box with a dead pump: steps, FAIL, the part, filed."""
    app, driver = make_app(tmp_path, "filter-pump-dead")

    async def run_before(pilot: Pilot[int]) -> None:
        await step(app, driver, 10)
        await choose(pilot, "t", "verify-filter-pump")
        for _ in range(30):
            await step(app, driver, 10)
            run = app.snapshot.run
            if run is not None and run.finished and not app.snapshot.busy:
                return
        raise AssertionError("the plan did not finish")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_troubleshooting_ends_at_a_part(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """No display, box with a dead power board: the trail and the part number."""
    app, driver = make_app(tmp_path, "power-board-dead")

    async def run_before(pilot: Pilot[int]) -> None:
        await step(app, driver, 5)
        await choose(pilot, "g", "no-display")
        screen = app.screen
        assert isinstance(screen, TroubleshootScreen)
        for _ in range(30):
            await step(app, driver, 5)
            await pilot.pause()
            if screen.mode == "ask":
                await pilot.press("y")
            elif screen.mode == "end":
                return
        raise AssertionError("the walk did not end")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_orders_view_with_an_overdue_order(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The keys that act on an order; the highlighted (overdue) one's agreement and part."""
    with Store(tmp_path / "records.sqlite3") as store:
        for serial in ("SN-0007", "SN-0042"):
            store.add_unit(serial, "premium-4", date(2024, 5, 1), now=NOW - timedelta(days=30))
        store.open_order(
            "SN-0007",
            "PRCD trips when bubbles start",
            agreement="repair",
            now=NOW - timedelta(days=9),
        )
        store.open_order(
            "SN-0042", "will not heat", promised=date(2025, 3, 14), now=NOW - timedelta(days=1)
        )
        store.add_part(1, "B9300929", by="Ada", now=NOW)
    app, _driver = make_app(tmp_path)

    async def run_before(pilot: Pilot[int]) -> None:
        await pilot.press("r")
        await pilot.app.screen.workers.wait_for_complete()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_quit_asks_first_while_a_plan_runs(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """q in the middle of verify-heater: the question before anything is stopped."""
    app, driver = make_app(tmp_path)

    async def run_before(pilot: Pilot[int]) -> None:
        await step(app, driver, 10)
        await choose(pilot, "t", "verify-heater")
        await step(app, driver, 6)
        await pilot.press("q")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
