"""Driving the diagnostic console in tests: a virtual box on stepped time, keys, the screen.

Time is a :class:`~bench.console.stepped.SteppedDriver` the test grants in slices, so the box
under the console is in a known state at a known simulated time whenever the test looks;
waits are on the app's own update hook, never on the wall clock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import OptionList

from bench.console.app import ConsoleApp
from bench.console.session import Session
from bench.console.stepped import SteppedDriver
from bench.console.targets import virtual_target

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
BIG = (100, 32)
SMALL = (80, 24)


def in_event_loop(test: Callable[..., Coroutine[object, object, None]]) -> Callable[..., None]:
    """Run an ``async def`` test in a fresh event loop (the project has no asyncio plugin)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def make_app(
    tmp_path: Path,
    *faults: str,
    serial: str = "SN-TEST",
    profile: str = "premium-4",
    order_id: int | None = None,
) -> tuple[ConsoleApp, SteppedDriver]:
    target = virtual_target(profile, faults=faults, serial=serial, make_driver=SteppedDriver)
    db = str(tmp_path / "records.sqlite3")
    extra: dict[str, Any] = {} if order_id is None else {"order_id": order_id}
    session = Session(target, db_path=db, **extra)
    driver = session.inner
    assert isinstance(driver, SteppedDriver)
    return ConsoleApp(session, db_path=db, now=lambda: NOW), driver


async def advance(app: ConsoleApp, driver: SteppedDriver, seconds: float) -> None:
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


async def choose(pilot: Pilot[int], option: str) -> None:
    """Choose ``option`` (its id) in the picker on top."""
    await pilot.pause()
    options = pilot.app.screen.query_one(OptionList)
    options.highlighted = [item.id for item in options.options].index(option)
    await pilot.press("enter")
    await pilot.pause()


async def start_plan(pilot: Pilot[int], plan: str) -> None:
    await pilot.press("t")
    await choose(pilot, plan)


async def type_text(pilot: Pilot[int], text: str) -> None:
    """Type ``text`` into the focused field, key by key."""
    await pilot.press(*("space" if char == " " else char for char in text))


async def until_shown(pilot: Pilot[int], wanted: str, *, tries: int = 300) -> str:
    """The screen once it shows ``wanted`` (workers in the UI and store threads finish in
    their own time: look again after each round of pending messages, never sleep)."""
    text = ""
    for _ in range(tries):
        text = await shown(pilot)
        if " ".join(wanted.split()) in " ".join(text.split()):  # wrapped lines too
            return text
        await asyncio.sleep(0)
    raise AssertionError(f"{wanted!r} never shown; the screen:\n{text}")


async def until_screen(pilot: Pilot[int], kind: type[Any], *, tries: int = 300) -> Any:
    """The screen on top once it is a ``kind``."""
    for _ in range(tries):
        await pilot.pause()
        if isinstance(pilot.app.screen, kind):
            return pilot.app.screen
        await asyncio.sleep(0)
    raise AssertionError(f"no {kind.__name__} came up; on top: {pilot.app.screen!r}")
