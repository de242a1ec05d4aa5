"""The diagnostic console (``spabench console``), driven with Textual's Pilot.

Time is a :class:`~bench.console.stepped.SteppedDriver` the test grants in slices, so the
virtual box under the console is in a known state at a known simulated time whenever the
test looks; the console's worker thread and message path are the production ones. Waits are
on the app's own update hook (``settled``/``updates.until``), never on the wall clock.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.sim import InProcessLink, in_process_pair
from textual.app import App
from textual.pilot import Pilot

from bench.cli import main as bench_main
from bench.console.app import ConsoleApp
from bench.console.checks import CHECKS, Bench, CheckResult
from bench.console.operator import ConsoleOperator
from bench.console.screens.orders import OrdersScreen
from bench.console.screens.pickers import Picker
from bench.console.screens.prompt import PromptModal
from bench.console.screens.run import RunScreen
from bench.console.screens.troubleshoot import TroubleshootScreen
from bench.console.session import Session
from bench.console.sniffing import ConsoleSniffer, SniffApp
from bench.console.stepped import SteppedDriver
from bench.console.targets import virtual_target
from bench.console.trees import TreeError, Walk, load_tree, load_trees, parse_tree
from bench.console.widgets.framelog import FrameLog
from bench.records.store import Store
from bench.testing.instruments.link import RemoteLink
from bench.testing.instruments.operator import OperatorError
from bench.testing.instruments.specs import INSTRUMENT_SETS
from bench.testing.targets import Target, virtual_box_target
from protocols.driver import RealTimeDriver
from protocols.mspa import Command, encode
from protocols.ports import LinkPort

BIG = (100, 32)
SMALL = (80, 24)
NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def in_event_loop(test: Callable[..., Coroutine[object, object, None]]) -> Callable[..., None]:
    """Run an ``async def`` test in a fresh event loop (the project has no asyncio plugin)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture(autouse=True)
def _private_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing a test runs may touch the user's real records database."""
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "default.sqlite3"))


def make_app(
    tmp_path: Path, *faults: str, serial: str = "SN-TEST", profile: str = "premium-4"
) -> tuple[ConsoleApp, SteppedDriver]:
    target = virtual_target(profile, faults=faults, serial=serial, make_driver=SteppedDriver)
    db = str(tmp_path / "records.sqlite3")
    session = Session(target, db_path=db)
    driver = session.inner
    assert isinstance(driver, SteppedDriver)
    return ConsoleApp(session, db_path=db, now=lambda: NOW), driver


async def advance(
    app: ConsoleApp, pilot: Pilot[int], driver: SteppedDriver, seconds: float
) -> None:
    """Let ``seconds`` of simulated time pass and wait until the screen shows the result."""
    driver.advance(seconds)
    await app.settled()


def screen_text(app: App[Any]) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def shown(pilot: Pilot[int]) -> str:
    """The screen as text once everything pending has been drawn."""
    await pilot.pause()
    return screen_text(pilot.app)


# -- live panel and load keys -------------------------------------------------------------


@pytest.mark.parametrize("size", [BIG, SMALL])
@in_event_loop
async def test_filter_key_drives_the_box_and_flow_appears(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    async with app.run_test(size=size) as pilot:
        await advance(app, pilot, driver, 10)
        assert app.snapshot.link.state == "connected"
        assert "flow ○in ○out" in await shown(pilot)
        await pilot.press("f")
        await advance(app, pilot, driver, 0.5)
        # The key burst is in the frame log (02 01 is its second frame, capture order; the
        # log scrolls on as reports and the rest of the burst follow).
        assert "filter on" in await shown(pilot)
        await advance(app, pilot, driver, 4.5)
        assert box.driven()["filter"]
        assert app.snapshot.flow is not None and app.snapshot.flow.flowing
        text = await shown(pilot)
        assert "flow ●in ●out" in text
        assert "Filter   on" in text
        # The SDM120 saw the pump start: 60 W (premium-4) plus the 2 W standby that was
        # below its 4.6 W floor a moment ago; class 1 ±1.5 % + 0.3 W → 61–63 W.
        assert any(f"+{watts} W" in text for watts in (61, 62, 63)), text


@in_event_loop
async def test_bubble_key_cycles_levels_and_heater_and_uvc_keys(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        levels = []
        for _ in range(4):
            await pilot.press("b")
            await advance(app, pilot, driver, 2)
            levels.append(box.blower_level)
        assert levels == [1, 2, 3, 0]
        await pilot.press("f", "u", "o")
        await advance(app, pilot, driver, 3)
        assert box.driven()["uvc"] and box.driven()["ozone"]
        await pilot.press("h")
        await advance(app, pilot, driver, 3)
        assert box.driven()["heater"]
        assert "off 1:59:5" in await shown(pilot)  # the 2 h UVC/ozone auto-off counting down


WATER_SHOWN = re.compile(r"Water +\d+\.\d °C")
"""The unit panel's water reading (not the chart's "Water °C" title)."""


def remote_frames(app: ConsoleApp, command: int) -> list[int]:
    """The parameters of every ``command`` frame the console (as the remote) has sent."""
    log = app.screen.query_one(FrameLog)
    return [
        entry.frame.parameter
        for entry in log.entries
        if entry.sender == "remote" and entry.command == command
    ]


@in_event_loop
async def test_setpoint_keys_press_as_the_panel_does_within_the_plate_range(
    tmp_path: Path,
) -> None:
    """Capture/MW: the first − press only shows the set-point (04 with the unchanged value);
    presses while it shows change it by one degree; the range is the plate's 10–40 °C
    (bridges send 10 °C, "hibernate"), not the old 20–40 °C."""
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    plate = app.session.link.plate
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("minus")
        await advance(app, pilot, driver, 1)
        assert box.setpoint == 40
        assert remote_frames(app, Command.SETPOINT) == [40]  # shown, not changed
        await pilot.press("minus", "minus", "minus")
        await advance(app, pilot, driver, 2)
        assert box.setpoint == 37
        assert remote_frames(app, Command.SETPOINT)[-3:] == [39, 38, 37]
        assert "(set 37)" in await shown(pilot)
        await pilot.press(*["minus"] * 40)
        await advance(app, pilot, driver, 2)
        assert box.setpoint == plate.setpoint_min_c == 10  # the bottom of the plate's range
        assert "(set 10)" in await shown(pilot)
        await advance(app, pilot, driver, 10)  # the display stops showing the set-point
        await pilot.press("plus")
        await advance(app, pilot, driver, 1)
        assert box.setpoint == 10  # the first press after a pause only shows it again
        await pilot.press(*["plus"] * 40)
        await advance(app, pilot, driver, 2)
        assert box.setpoint == plate.setpoint_max_c == 40


@in_event_loop
async def test_setpoint_keys_send_the_plates_encoding(tmp_path: Path) -> None:
    """super-camaro's 04 carries °C × 2 (ET, AH): the console's − keys send 80, then 78."""
    app, driver = make_app(tmp_path, profile="super-camaro")
    box = app.session.target.virtual_unit
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("minus", "minus")
        await advance(app, pilot, driver, 2)
        assert box.setpoint == 39
        assert remote_frames(app, Command.SETPOINT)[-2:] == [80, 78]
        text = await shown(pilot)
        assert "(set 39)" in text and "set-point 39 °C (°C × 2)" in text


# -- panel codes, long press of Filter, jets ------------------------------------------------


@in_event_loop
async def test_f1_shows_on_the_console_and_a_long_press_of_filter_clears_it(
    tmp_path: Path,
) -> None:
    """A dead filter pump: the flow switches stay open with the pump commanded, the box
    latches F1 after errors_f1_after_s (heater off) and the console shows F1 where the panel
    shows the water; F (the long press of Filter) sends 0B 00 and clears it — and with the
    pump still dead F1 comes back (ET, AH)."""
    app, driver = make_app(tmp_path, "filter-pump-dead")
    box = app.session.target.virtual_unit
    plate = app.session.link.plate
    shows_f1 = plate.errors_f1_after_s + plate.link_report_period_s
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 10)
        assert "F long-press filter" in await shown(pilot)  # offered in the key bar
        await pilot.press("f", "h")
        await advance(app, pilot, driver, plate.errors_f1_after_s - 2)
        assert app.snapshot.panel_code is None
        text = await shown(pilot)
        assert WATER_SHOWN.search(text) and " F1 " not in text
        await advance(app, pilot, driver, shows_f1 - plate.errors_f1_after_s + 3)
        assert app.snapshot.panel_code == "F1"
        assert not box.driven()["heater"]  # the box's F1 latch: heater off
        text = await shown(pilot)
        assert "Panel  F1  (set 40)" in text and "F1 flow error" in text
        assert not WATER_SHOWN.search(text)
        resets = len(remote_frames(app, Command.KEEPALIVE))
        await pilot.press("F")
        await advance(app, pilot, driver, 0.5)
        assert len(remote_frames(app, Command.KEEPALIVE)) == resets + 1  # 0B 00 on the wire
        assert app.snapshot.panel_code is None
        text = await shown(pilot)
        assert WATER_SHOWN.search(text) and " F1 " not in text
        await advance(app, pilot, driver, shows_f1 + 2)
        assert app.snapshot.panel_code == "F1"  # the pump is still dead
        assert " F1 " in await shown(pilot)


@in_event_loop
async def test_a_healthy_box_with_the_filter_on_shows_no_panel_code(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("f", "h")
        await advance(app, pilot, driver, 30)
        assert app.snapshot.panel_code is None
        assert WATER_SHOWN.search(await shown(pilot))


@in_event_loop
async def test_jets_key_on_the_elite_switches_the_jet_pump(tmp_path: Path) -> None:
    """elite-6 has a jet pump on 0D (jets_fitted): j switches it, the loads table shows it
    with the draw the meter saw (its 750 W model figure)."""
    app, driver = make_app(tmp_path, profile="elite-6")
    box = app.session.target.virtual_unit
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        text = await shown(pilot)
        assert "j jets" in text and "Jets     off" in text
        await pilot.press("j")
        await advance(app, pilot, driver, 6)
        assert box.driven()["jets"] and app.snapshot.state.jets
        assert 1 in remote_frames(app, Command.CYCLE_0D)
        (jets,) = [load for load in app.snapshot.loads if load.name == "jets"]
        assert jets.on and jets.delta_w is not None
        assert 700 <= jets.delta_w <= 800  # 750 W, SDM120 class 1 ± the supply's drift
        text = await shown(pilot)
        assert "Jets     on" in text and "jets on" in text
        await pilot.press("j")
        await advance(app, pilot, driver, 2)
        assert not box.driven()["jets"]


@in_event_loop
async def test_no_jets_key_where_the_plate_has_no_jet_pump(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("j")
        await advance(app, pilot, driver, 2)
        assert not app.snapshot.state.jets and app.snapshot.notice is None
        text = await shown(pilot)
        assert "jets" not in text.lower().replace("0d 00 (no jets)", "")
        assert all(load.name != "jets" for load in app.snapshot.loads)


@in_event_loop
async def test_auto_off_countdown_without_a_key_press_marker(tmp_path: Path) -> None:
    """super-camaro's panel sends no 16 00: the countdown still starts with the press."""
    app, driver = make_app(tmp_path, profile="super-camaro")
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("b")
        await advance(app, pilot, driver, 2)
        assert "off 9:5" in await shown(pilot)  # the 10 min bubble auto-off counting down


@in_event_loop
async def test_temperature_shown_follows_the_box(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("f")
        await advance(app, pilot, driver, 2)
        await pilot.press("h")
        waters = []
        for _ in range(4):
            await advance(app, pilot, driver, 60)
            water = app.snapshot.water_c
            assert water is not None
            assert abs(water - box.water_c) <= 0.5 + 0.3  # report quantisation + sensor noise
            assert f"Water {water:4.1f} °C" in await shown(pilot)
            waters.append(water)
        assert waters == sorted(waters) and waters[-1] >= waters[0] + 3.0  # it visibly warms
        assert "+1" in await shown(pilot)  # the heater's draw seen by the meter (≈ +1500 W)


# -- test plans and the operator ----------------------------------------------------------


async def run_plan_to_end(
    app: ConsoleApp, pilot: Pilot[int], driver: SteppedDriver, plan: str, answers: dict[str, str]
) -> list[str]:
    """Start ``plan`` from the keyboard, answer prompts through the modal; the prompts seen."""
    await pilot.press("t")
    await pilot.pause()
    options = app.screen.query_one("OptionList")
    options.highlighted = [option.id for option in options.options].index(plan)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, RunScreen)
    seen = []
    for _ in range(200):
        await advance(app, pilot, driver, 10)
        if isinstance(app.screen, PromptModal):
            prompt = app.screen.prompt
            seen.append(prompt.prompt_id)
            await pilot.press(answers[prompt.prompt_id])
            await app.settled()
            await pilot.pause()
        run = app.snapshot.run
        if run is not None and run.finished and not app.snapshot.busy:
            return seen
    raise AssertionError("the plan did not finish")


@pytest.mark.parametrize("size", [BIG, SMALL])
@in_event_loop
async def test_smoke_plan_runs_to_pass_with_the_prompt_answered_in_the_modal(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await advance(app, pilot, driver, 10)
        seen = await run_plan_to_end(app, pilot, driver, "smoke", {"bubbles-visible": "y"})
        assert seen == ["bubbles-visible"]
        run = app.snapshot.run
        assert run is not None and run.verdict == "pass"
        assert all(step.outcome == "pass" for step in run.steps)
        text = await shown(pilot)
        assert " PASS " in text and "unit OK" in text
        assert "filed as run 1" in text
    with Store(tmp_path / "records.sqlite3") as store:
        (stored,) = store.runs_for_unit("SN-TEST")
        assert stored.plan == "smoke" and stored.status == "pass"


@in_event_loop
async def test_a_no_in_the_modal_fails_the_step_that_asked(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 10)
        await run_plan_to_end(app, pilot, driver, "smoke", {"bubbles-visible": "n"})
        run = app.snapshot.run
        assert run is not None and run.verdict == "fail"
        (bubbles,) = [step for step in run.steps if step.name == "bubbles"]
        assert bubbles.outcome == "fail"


@in_event_loop
async def test_a_verify_plan_diagnoses_an_injected_fault(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path, "filter-pump-dead")
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await run_plan_to_end(app, pilot, driver, "verify-filter-pump", {})
        run = app.snapshot.run
        assert run is not None and run.verdict == "fail"
        assert "B9300929 filter pump" in run.summary
        assert " FAIL " in await shown(pilot)


@in_event_loop
async def test_aborting_a_run_switches_the_loads_off(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("t")
        await pilot.pause()
        options = app.screen.query_one("OptionList")
        options.highlighted = [option.id for option in options.options].index("verify-heater")
        await pilot.press("enter")
        for _ in range(20):
            await advance(app, pilot, driver, 2)
            if box.driven()["heater"]:
                break
        assert box.driven()["heater"], "the plan never switched the heater on"
        assert app.screen.check_action("abort", ()) is True
        await pilot.press("a")
        await advance(app, pilot, driver, 3)
        run = app.snapshot.run
        assert run is not None and run.aborted and app.snapshot.busy is None
        assert not any(box.driven().values())
        assert "ABORTED" in await shown(pilot)
        await pilot.press("escape")
        await pilot.press("f")  # the bench's keys work again
        await advance(app, pilot, driver, 3)
        assert box.driven()["filter"]


@in_event_loop
async def test_a_prompt_whose_run_is_stopped_goes_away(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 10)
        app.start_plan("smoke")
        for _ in range(20):
            await advance(app, pilot, driver, 5)
            if isinstance(app.screen, PromptModal):
                break
        assert isinstance(app.screen, PromptModal)
        app.session.abort_job()
        await advance(app, pilot, driver, 2)
        await pilot.pause()
        assert not isinstance(app.screen, PromptModal)
        run = app.snapshot.run
        assert run is not None and run.aborted and app.snapshot.prompt is None


@in_event_loop
async def test_load_keys_are_disabled_while_a_plan_owns_the_loads(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        app.start_plan("verify-heater")
        await advance(app, pilot, driver, 2)
        assert app.snapshot.busy == "plan verify-heater"
        await pilot.press("escape")  # back to the main screen while the run goes on
        main_screen = app.screen
        assert main_screen.check_action("switch", ("filter",)) is None
        assert "▶ plan verify-heater" in await shown(pilot)
        await pilot.press("t")  # back to the running plan, not a new one
        assert isinstance(app.screen, RunScreen)


@in_event_loop
async def test_number_prompts_take_a_value_and_escape_cancels(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    session = app.session
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 5)
        reading = session.submit("ask", lambda: session.operator.number("clamp", "Amps?", "A"))
        await advance(app, pilot, driver, 1)
        assert isinstance(app.screen, PromptModal) and app.screen.prompt.kind == "number"
        assert "Amps?" in await shown(pilot)  # drawn, the value field has the focus
        await pilot.press("4", ".", "5", "enter")
        await advance(app, pilot, driver, 1)
        assert reading.result(timeout=5) == 4.5
        refused = session.submit("ask", lambda: session.operator.confirm("pump-running", "Pump?"))
        await advance(app, pilot, driver, 1)
        assert "a person at the bench would answer no" in await shown(pilot)
        await pilot.press("escape")
        await advance(app, pilot, driver, 1)
        with pytest.raises(OperatorError, match="cancelled"):
            refused.result(timeout=5)
        assert not isinstance(app.screen, PromptModal)


# -- link state ---------------------------------------------------------------------------


@in_event_loop
async def test_a_lost_link_shows_in_the_header_and_the_console_keeps_running() -> None:
    driver = RealTimeDriver(speed=1.0)
    bench_end, far_end = in_process_pair("cable")
    port = LinkPort(driver, bench_end)
    link = RemoteLink(driver, port, description="cable://bench")
    target = Target(
        driver=driver,
        operator=ConsoleOperator(),
        link=link,
        link_description=link.description,
        closers=[port.close, driver.close],
    )
    app = ConsoleApp(Session(target))
    async with app.run_test(size=SMALL) as pilot:
        await app.updates.until(lambda: app.snapshot.link.state == "silent")
        far_end.close()  # the adapter is unplugged
        await app.updates.until(lambda: app.snapshot.link.state == "lost")
        await pilot.pause()
        assert (await shown(pilot)).startswith(" ● lost")
        await pilot.press("f", "t")  # keys still work; nothing crashes
        await pilot.press("escape")
        await pilot.pause()
        assert app.snapshot.error is None
        assert app.is_running


@in_event_loop
async def test_pressing_prcd_test_silences_the_unit_and_reset_brings_it_back(
    tmp_path: Path,
) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("p")
        await advance(app, pilot, driver, 10)
        assert box.prcd_tripped
        assert app.snapshot.link.state == "silent"
        assert "silent for 1" in await shown(pilot)
        assert "PRCD tripped" in await shown(pilot)
        await pilot.press("p")
        await advance(app, pilot, driver, 15)
        assert app.snapshot.link.state == "connected"
        await pilot.press("k")
        await advance(app, pilot, driver, 1)
        assert box.knob == "inflate" and "knob inflate" in await shown(pilot)


@in_event_loop
async def test_x_injects_and_clears_a_fault_from_the_catalogue(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    box = app.session.target.virtual_unit

    async def pick(fault: str) -> None:
        await pilot.press("x")
        await pilot.pause()
        options = app.screen.query_one("OptionList")
        options.highlighted = [option.id for option in options.options].index(fault)
        await pilot.press("enter")
        await advance(app, pilot, driver, 1)

    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await pick("filter-pump-dead")
        assert box.active_faults == ("filter-pump-dead",)
        assert "faults: filter-pump-dead" in await shown(pilot)
        await pick("filter-pump-dead")
        assert box.active_faults == ()


# -- the frame log --------------------------------------------------------------------------


@in_event_loop
async def test_frame_log_filters_by_command_and_pauses(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        log = app.screen.query_one(FrameLog)
        assert any("remote→box" in line for line in log.visible_lines())
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("n")  # none ticked...
        await pilot.press("down", "down", "down", "down", "space")  # ...but 06 water
        await pilot.press("enter")
        await pilot.pause()
        assert log.filter == frozenset({int(Command.WATER_TEMP)})
        lines = log.visible_lines()
        assert lines and all(" A5 06 " in line for line in lines)
        text = await shown(pilot)
        assert "showing 06" in text
        assert lines[-1].strip() in text  # scrolled to the newest
        await pilot.press("s")
        before = len(log.log_widget.lines)
        await advance(app, pilot, driver, 5)
        assert len(log.log_widget.lines) == before and log.unseen == 5
        assert "PAUSED, 5 new" in await shown(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert len(log.log_widget.lines) == before + 5


# -- guided troubleshooting and orders -------------------------------------------------------


def add_order(path: Path, serial: str, *, days_ago: int, promised: date | None = None) -> int:
    with Store(path) as store:
        if not store.has_unit(serial):
            store.add_unit(serial, "premium-4", date(2023, 6, 1), now=NOW - timedelta(days=400))
        return store.open_order(
            serial, "no display", promised=promised, now=NOW - timedelta(days=days_ago)
        )


async def walk(
    app: ConsoleApp, pilot: Pilot[int], driver: SteppedDriver, tree: str, answers: list[str]
) -> TroubleshootScreen:
    await pilot.press("g")
    await pilot.pause()
    options = app.screen.query_one("OptionList")
    options.highlighted = [option.id for option in options.options].index(tree)
    await pilot.press("enter")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TroubleshootScreen)
    for _ in range(60):
        await advance(app, pilot, driver, 5)
        if screen.mode == "end":
            return screen
        if screen.mode in ("ask", "act"):
            await pilot.press(answers.pop(0))
            await pilot.pause()
    raise AssertionError(f"stuck at {screen.walk.current.id}")


@in_event_loop
async def test_troubleshooting_walks_no_display_to_the_power_board_and_saves_it(
    tmp_path: Path,
) -> None:
    app, driver = make_app(tmp_path, "power-board-dead")
    order = add_order(tmp_path / "records.sqlite3", "SN-TEST", days_ago=1)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 5)
        # The PRCD light is on; the SDM120 cannot see a 2 W standby draw, so the technician
        # measures the transformer's secondary (the hint says what the multimeter shows).
        screen = await walk(app, pilot, driver, "no-display", ["y", "y"])
        assert screen.walk.current.parts == ("B9301291",)
        trail = [(step.node.id, step.answer, step.by) for step in screen.walk.trail]
        assert trail == [
            ("mains", True, "bench"),
            ("prcd-light", True, "technician"),
            ("frames", False, "bench"),
            ("standby", True, "technician"),
        ]
        text = await shown(pilot)
        assert "Part: B9301291 power board" in text
        await pilot.press("s")
        for _ in range(300):  # the open orders are read in a thread
            await pilot.pause()
            if isinstance(app.screen, Picker):
                break
        options = app.screen.query_one("OptionList")
        assert [option.id for option in options.options] == ["new", str(order)]
        options.highlighted = 1  # the open order (the first choice opens a new one)
        await pilot.press("enter")
        for _ in range(300):
            await pilot.pause()
            if screen.saved_on is not None:
                break
        assert screen.saved_on == order
        assert f"Saved on order {order}." in await shown(pilot)
    with Store(tmp_path / "records.sqlite3") as store:
        (note,) = store.notes(order_id=order)
    assert "No display on the panel" in note.text and "B9301291 power board" in note.text


@in_event_loop
async def test_troubleshooting_asks_the_technician_what_the_bench_cannot_see(
    tmp_path: Path,
) -> None:
    app, driver = make_app(tmp_path, "knob-reed-switch-stuck")
    async with app.run_test(size=SMALL) as pilot:
        await advance(app, pilot, driver, 10)
        # not after 10 min; knob not in inflation; no bubbles seen (the hint says so)
        screen = await walk(app, pilot, driver, "bubbles-stop", ["n", "n", "n"])
        assert screen.walk.current.id == "knob-switch"
        assert screen.walk.current.parts == ("B9301267",)
        assert "B9301267 rotation knob" in await shown(pilot)
        await pilot.press("escape")
        await advance(app, pilot, driver, 2)
        assert app.snapshot.state.bubbles == 0  # the loads are put back as they were


@in_event_loop
async def test_leaving_a_walk_during_a_check_stops_the_check(tmp_path: Path) -> None:
    app, driver = make_app(tmp_path)
    async with app.run_test(size=BIG) as pilot:
        await advance(app, pilot, driver, 10)
        await pilot.press("g")
        await pilot.pause()
        options = app.screen.query_one("OptionList")
        options.highlighted = [option.id for option in options.options].index("will-not-heat")
        await pilot.press("enter")
        await advance(app, pilot, driver, 0)
        busy = app.snapshot.busy
        assert busy is not None and busy.startswith("check ")  # waiting for a new report
        await pilot.press("escape")
        await advance(app, pilot, driver, 2)
        assert app.snapshot.busy is None
        assert not isinstance(app.screen, TroubleshootScreen)


@in_event_loop
async def test_orders_view_lists_open_orders_overdue_first(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    fresh = add_order(db, "SN-NEW", days_ago=1, promised=date(2025, 3, 20))
    late = add_order(db, "SN-OLD", days_ago=10)
    app, _driver = make_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, OrdersScreen)
        await screen.workers.wait_for_complete()
        await pilot.pause()
        assert [row.order.id for row in screen.rows] == [late, fresh]
        assert screen.rows[0].reasons and not screen.rows[1].reasons
        text = await shown(pilot)
        assert "Open service orders: 2, overdue: 1" in text
        assert "OVERDUE" in text and "no customer contact within 3 days" in text


# -- the pieces underneath ------------------------------------------------------------------


def test_shipped_trees_are_valid_and_every_end_is_reachable() -> None:
    trees = load_trees()
    assert {tree.name for tree in trees} == {
        "no-display",
        "bubbles-stop",
        "will-not-heat",
        "prcd-trips",
        "f1-on-panel",
        "a0-on-panel",
    }
    for tree in trees:
        assert any(node.kind == "end" for node in tree.nodes.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('[node.a]\nask = "?"\nyes = "b"\nno = "a"\n[node.b]\nend = "x"', "loop a → a"),
        ('[node.a]\nend = "x"\nparts = ["NOPE"]', "unknown part number"),
        ('[node.a]\ncheck = "telepathy"\nask = "?"\nyes = "a"\nno = "a"', "unknown check"),
        ('[node.a]\nend = "x"\n[node.b]\nend = "y"', "never reached from start: b"),
        ('[node.a]\nask = "?"\nyes = "gone"\nno = "gone"', "missing node 'gone'"),
    ],
)
def test_bad_trees_are_refused_with_the_reason(change: str, message: str) -> None:
    with pytest.raises(TreeError, match=message):
        parse_tree(f'name = "t"\ntitle = "T"\nstart = "a"\n{change}\n', "t.toml")


def test_a_walk_reports_its_trail_and_part() -> None:
    walk = Walk(load_tree("will-not-heat"))
    assert not walk.checked(CheckResult(None, "no meter"))  # cannot tell: stays, asks
    assert walk.current.id == "frames" and walk.notes == ["no meter"]
    assert walk.checked(CheckResult(True, "heard"))
    walk.answer(True)  # temperature plausible
    walk.answer(False)  # no flow
    walk.answer(False)  # the pump draws nothing
    assert walk.finished and walk.current.parts == ("B9300929",)
    report = walk.report()
    assert report.splitlines()[0] == "Guided troubleshooting: Will not heat"
    assert "Part(s): B9300929 filter pump" in report


@pytest.mark.parametrize(
    ("fault", "check", "answer"),
    [
        (None, "flow-with-filter", True),
        ("filter-pump-dead", "flow-with-filter", False),
        ("filter-pump-dead", "filter-draw", False),
        ("flow-switch-stuck-open", "filter-draw", True),
        (None, "heater-draw", True),
        ("heater-open", "heater-draw", False),
        ("blower-dead", "blower-draw", False),
        ("check-valve-leak", "blower-trips", True),
        (None, "blower-trips", False),
        ("temp-sensor-short", "temperature-plausible", False),
        ("transformer-dead", "frames-arriving", False),
    ],
)
def test_checks_tell_faults_apart_from_link_and_meter(
    fault: str | None, check: str, answer: bool
) -> None:
    target = virtual_box_target(faults=() if fault is None else (fault,))
    assert target.link is not None
    target.start()
    target.driver.sleep(10.0)
    result = CHECKS[check].run(Bench(target.link, target.meter, target.driver, target.instruments))
    assert result.answer is answer, result.detail
    target.close()


@pytest.mark.parametrize(
    ("bench", "fault", "answer"),
    [
        ("ideal", "transformer-dead", False),
        ("ideal", "power-board-dead", True),
        ("sdm120", "transformer-dead", None),  # reads 0 below 4.6 W: ask the technician
        ("sdm120", "power-board-dead", None),
    ],
)
def test_the_standby_check_answers_only_what_its_meter_can_see(
    bench: str, fault: str, answer: bool | None
) -> None:
    target = virtual_box_target(faults=(fault,), instruments=INSTRUMENT_SETS[bench])
    assert target.link is not None
    target.start()
    target.driver.sleep(10.0)
    result = CHECKS["standby-draw"].run(
        Bench(target.link, target.meter, target.driver, target.instruments)
    )
    assert result.answer is answer, result.detail
    target.close()


def test_a_check_without_a_meter_asks_the_technician() -> None:
    target = virtual_box_target(instruments=INSTRUMENT_SETS["person"])
    assert target.link is not None
    target.start()
    target.driver.sleep(10.0)
    result = CHECKS["heater-draw"].run(Bench(target.link, None, target.driver))
    assert result.answer is None and "no meter" in result.detail


def test_stepped_driver_runs_exactly_the_granted_time() -> None:
    driver = SteppedDriver()
    fired: list[float] = []
    driver.scheduler.call_every(1.0, lambda: fired.append(driver.now()))
    stop: list[bool] = []
    worker = threading.Thread(target=driver.wait_until, args=(lambda: bool(stop), None))
    worker.start()
    driver.advance(3.5)
    assert fired == [1.0, 2.0, 3.0] and driver.now() == 3.5
    driver.call_soon_threadsafe(fired.append, -1.0)
    driver.settle()  # queued calls run, time stands still
    assert fired == [1.0, 2.0, 3.0, -1.0] and driver.now() == 3.5
    driver.advance(2.0)
    assert fired[-2:] == [4.0, 5.0] and driver.now() == 5.5
    driver.call_soon_threadsafe(stop.append, True)
    driver.release()
    worker.join(5.0)
    assert not worker.is_alive()


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["console", "--port", "loop://", "--fault", "heater-open"], "--fault needs --virtual"),
        (["console", "--virtual", "--meter", "tcp://x:1"], "--meter needs --port"),
        (["console", "--virtual", "--speed", "0"], "--speed must be a positive number"),
        (["console", "--virtual", "--fault", "gremlins"], "unknown fault 'gremlins'"),
        (["console", "--virtual", "--profile", "nope"], "nope"),
        (["console", "--virtual", "--order", "1"], "--order needs --unit"),
        (["console", "--virtual", "--unit", "SN1", "--order", "x"], "an order id must be"),
    ],
)
def test_console_usage_errors_are_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_console_is_a_spabench_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_main(["console", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--virtual" in out and "--speed" in out and "--db" in out


def test_console_on_a_port_that_cannot_open_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["console", "--port", "/nonexistent/ttyUSB9"]) == 3
    assert "cannot open" in capsys.readouterr().err


# -- spabench sniff --console -----------------------------------------------------------------


Taps = tuple[tuple[InProcessLink, InProcessLink], tuple[InProcessLink, InProcessLink]]


@pytest.fixture
def taps() -> Iterator[Taps]:
    box_tap, box_wire = in_process_pair("box-tap")
    remote_tap, remote_wire = in_process_pair("remote-tap")
    yield (box_tap, box_wire), (remote_tap, remote_wire)
    for link in (box_tap, box_wire, remote_tap, remote_wire):
        link.close()


@in_event_loop
async def test_sniff_console_shows_both_wires_and_a_lost_adapter(taps: Taps) -> None:
    (box_tap, box_wire), (remote_tap, remote_wire) = taps
    driver = RealTimeDriver()
    sniffer = ConsoleSniffer(driver, box_tap, remote_tap)
    app = SniffApp(sniffer, "box→remote on box-tap, remote→box on remote-tap")
    async with app.run_test(size=SMALL) as pilot:
        box_wire.write(encode(Command.WATER_TEMP, 0x2F) + bytes.fromhex("A5062FDB"))
        remote_wire.write(encode(Command.FILTER, 0x01))
        log = app.query_one(FrameLog)
        await app.updates.until(lambda: len(log.entries) == 2)
        lines = sorted(line.split(maxsplit=1)[1] for line in log.visible_lines())
        assert lines == [
            "box→remote A5 06 2F DA  water 23.5 °C",
            "remote→box A5 02 01 A8  filter on",
        ]
        await app.updates.until(lambda: "1 bad" in screen_text(app))
        box_wire.close()
        await app.updates.until(lambda: app.ended)
        await pilot.pause()
        assert "adapter lost: box-tap" in await shown(pilot)
        await pilot.press("q")
    driver.close()
    assert app.return_value == 3  # the exit status of spabench sniff --console


def test_sniff_has_a_console_flag() -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_main(["sniff", "--box", "loop://", "--remote", "loop://", "--console"])
    assert exit_info.value.code == 2  # same adapter twice: refused before any screen opens
