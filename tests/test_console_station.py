"""``spabench console --station``: one console, a station's channels, one unit at a time.

Two boxes are served by ``spasim serve --tcp`` (separate processes, as a bench's USB adapters
are separate devices) with different models and water temperatures, so which unit the console
shows is plain on the screen; a third channel points at a port nobody listens on. The console
is built from its command line (the parser and :func:`bench.cli.console.console_app`, the
code ``spabench console`` runs) and driven with Textual's Pilot. The served boxes run in real
time (accelerated), so every wait is on the console's own updates, bounded, never a sleep.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.console import BIG, in_event_loop, screen_text
from textual import events
from textual.pilot import Pilot
from textual.widgets import OptionList

from bench.cli import main as bench_main
from bench.cli.console import COMMAND, console_app
from bench.console.app import ConsoleApp
from bench.console.screens.pickers import Picker
from bench.records.store import Store
from protocols.cli_support import OneLineParser
from spasim.pytest_plugin import ServedUnit, start_served

SPEED_A = 10.0
SPEED_B = 20.0
"""The served boxes' time scales (as a station file gives them): fast enough for a test,
gentle enough for a console redrawing every frame on a loaded machine."""
WAIT = 20.0
"""Wall seconds any one wait may take (never reached when healthy)."""
WATER = re.compile(r"Water +(\d+\.\d) °C")


def _serve(speed: float, *options: str) -> ServedUnit:
    arguments = ["serve", "--tcp", "127.0.0.1:0", "--speed", str(speed), *options]
    return start_served(arguments, transport="tcp", speed=speed, timeout=WAIT)


def meter_url(served: ServedUnit) -> str:
    """The ``meter on URL`` line ``spasim serve --meter-tcp`` prints after ``listening on``."""
    assert served.process.stdout is not None
    line = served.process.stdout.readline().decode("utf-8").strip()
    assert line.startswith("meter on "), line
    return line.removeprefix("meter on ")


@pytest.fixture(scope="module")
def boxes() -> Iterator[tuple[ServedUnit, ServedUnit, str]]:
    """Channel A: a premium-4 in 22 °C water, no meter; channel B: an elite-6 (jet pump) in
    31 °C with an SDM120 on Modbus TCP (its URL is the third value)."""
    a = _serve(SPEED_A, "--profile", "premium-4", "--water", "22")
    try:
        b = _serve(SPEED_B, "--profile", "elite-6", "--water", "31", "--meter-tcp", "0")
    except BaseException:
        a.discard()
        raise
    yield a, b, meter_url(b)
    a.discard()
    b.discard()


@pytest.fixture(scope="module")
def dead_port() -> str:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"socket://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _private_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "default.sqlite3"))


def write_station(path: Path, a: str, b: str, c: str, meter: str = "tcp://127.0.0.1:1") -> Path:
    path.write_text(
        f"""name = "bench-7"

[[channel]]
name = "A"
port = "{a}"
profile = "premium-4"
unit = "SN-A"
speed = {SPEED_A}
simulated = true

[[channel]]
name = "B"
port = "{b}"
meter = "{meter}"
profile = "elite-6"
unit = "SN-B"
speed = {SPEED_B}
simulated = true

[[channel]]
name = "C"
port = "{c}"
unit = "SN-C"
simulated = true
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def station(tmp_path: Path, boxes: tuple[ServedUnit, ServedUnit, str], dead_port: str) -> Path:
    a, b, meter = boxes
    return write_station(tmp_path / "bench-7.toml", a.url, b.url, dead_port, meter)


def plan_file(path: Path, name: str, window: float) -> str:
    """A plan of its own (no prompt, no meter): the handshake, then reports counted for
    ``window`` simulated seconds — an hour is a plan still running whenever the test looks."""
    path.write_text(
        f"""name = "{name}"
title = "Link, then reports for {window:g} s"

[[step]]
name = "link"
title = "Link and handshake"
type = "link-up"

[[step]]
name = "reports"
title = "Temperature and flow reports"
type = "reports-present"
window = {window}
""",
        encoding="utf-8",
    )
    return str(path)


def console(tmp_path: Path, station: Path, *argv: str) -> ConsoleApp:
    """The console ``spabench console --station STATION --db ... ARGV`` would run."""
    parser = OneLineParser(prog="spabench console")
    COMMAND.configure(parser)
    db = str(tmp_path / "records.sqlite3")
    return console_app(parser.parse_args(["--station", str(station), "--db", db, *argv]))


async def settle(pilot: Pilot[int]) -> None:
    """Let the app handle what is pending. Not ``pilot.pause()``: that waits for the process
    to go idle, which a console on a unit that never stops talking is not (a second each)."""
    await pilot.pause(0)


KEY_CHARACTERS = {"escape": "\x1b", "enter": "\r"}


async def press(pilot: Pilot[int], key: str) -> None:
    """``key`` as the terminal driver delivers it, then what it set off. (``pilot.press``
    waits for the process to go idle after each key, as :func:`settle` explains.)"""
    event = events.Key(key, KEY_CHARACTERS.get(key, key))
    event.set_sender(pilot.app)
    pilot.app.post_message(event)
    await settle(pilot)


async def next_update(app: ConsoleApp) -> None:
    seen = app.updates.count
    await app.updates.until(lambda: app.updates.count > seen, WAIT)


async def until_screen(pilot: Pilot[int], holds: Callable[[str], bool]) -> str:
    """The screen's text once ``holds(text)``, looked at after each update of the console."""
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    async with asyncio.timeout(WAIT):
        while True:
            await settle(pilot)
            text = screen_text(app)
            if holds(text):
                return text
            await next_update(app)


async def until_text(pilot: Pilot[int], wanted: str | re.Pattern[str]) -> str:
    """The screen once it shows ``wanted`` (text, or a pattern it matches)."""
    if isinstance(wanted, str):
        return await until_screen(pilot, lambda text: wanted in text)
    return await until_screen(pilot, lambda text: wanted.search(text) is not None)


async def water_shown(pilot: Pilot[int], place: str) -> float:
    """The water temperature the console shows once it is connected to ``place``."""
    await until_text(pilot, f"connected  {place}")
    found = WATER.search(await until_text(pilot, WATER))
    assert found is not None
    return float(found.group(1))


async def pick_channel(pilot: Pilot[int], name: str) -> str:
    """``c``, then channel ``name`` in the picker; the picker's text as it was shown."""
    await press(pilot, "c")
    await settle(pilot)
    picker = pilot.app.screen
    assert isinstance(picker, Picker)
    listed = screen_text(pilot.app)
    options = picker.query_one(OptionList)
    options.highlighted = [option.id for option in options.options].index(name)
    await press(pilot, "enter")
    await settle(pilot)
    return listed


def dialog(screen: str) -> str:
    """The words inside the dialog box on ``screen`` (its lines between the box's sides)."""
    inside = [line.split("█")[1] for line in screen.splitlines() if line.count("█") >= 2]
    return " ".join(" ".join(inside).split())


def picker_line(listed: str, channel: str) -> str:
    (line,) = [row for row in listed.splitlines() if re.search(rf"\b{channel}  socket://", row)]
    return line


@in_event_loop
async def test_the_console_opens_the_first_channel_and_switches_between_units(
    tmp_path: Path, station: Path, boxes: tuple[ServedUnit, ServedUnit, str]
) -> None:
    a, b, _ = boxes
    app = console(tmp_path, station)
    async with app.run_test(size=BIG) as pilot:
        water_a = await water_shown(pilot, "bench-7 · channel A")
        text = screen_text(app)
        assert "SN-A premium-4" in text and "c channel" in text and "×10" in text
        assert "Meter none attached" in text  # channel A has no meter
        assert "j jets" not in text  # a premium-4 has no jet pump
        assert 20 <= water_a <= 23
        listed = await pick_channel(pilot, "B")
        assert "● open here, link connected" in picker_line(listed, "A")
        assert a.url in picker_line(listed, "A")
        assert f"{b.url}  SN-B  ○ not connected" in picker_line(listed, "B")
        assert "SN-C  ○ not connected" in picker_line(listed, "C")

        water_b = await water_shown(pilot, "bench-7 · channel B")
        text = screen_text(app)
        assert "SN-B elite-6" in text and "SN-A" not in text and "×20" in text
        text = await until_text(pilot, " V ")  # channel B's meter, read over Modbus TCP
        assert re.search(r"Meter +2\d\d\.\d V", text), text
        assert "j jets" in text  # the elite-6's plate: the console offers its jet pump
        assert water_b >= 29  # the other box's water, read off its wire
        listed = await pick_channel(pilot, "A")
        assert "● open here" in picker_line(listed, "B")
        assert "○ not connected" in picker_line(listed, "A")

        # Back on A: its server takes a new client only once the last one has gone, so the
        # switch to B closed A's link (as quitting would have).
        water_a = await water_shown(pilot, "bench-7 · channel A")
        assert 20 <= water_a <= 23
        await press(pilot, "q")
    assert app.return_value == 0


@in_event_loop
async def test_switching_during_a_plan_asks_first_and_runs_keep_their_channels_unit(
    tmp_path: Path, station: Path
) -> None:
    """``--unit`` with ``--channel`` replaces that channel's unit only; the plan aborted by
    the switch is filed on channel A's unit, the one run on B on B's."""
    app = console(tmp_path, station, "--channel", "A", "--unit", "SN-A2")
    async with app.run_test(size=BIG) as pilot:
        await until_text(pilot, "connected  bench-7 · channel A  SN-A2")
        app.start_plan(plan_file(tmp_path / "hold.toml", "station-hold", 3600))
        await until_text(pilot, "1/2 steps")  # the run screen: the plan is past its first step
        await press(pilot, "escape")  # from the run screen back to the main screen
        await pick_channel(pilot, "B")
        question = dialog(await until_text(pilot, "Switch to channel B while a plan is running?"))
        assert "A plan is running (station-hold, step" in question
        assert "Switching to channel B aborts it: every load is switched off" in question
        assert "y switch: abort the run and open channel B n keep the run going" in question
        await press(pilot, "n")
        await until_text(pilot, "connected  bench-7 · channel A  SN-A2 premium-4  bad frames")
        assert "▶ plan station-hold" in screen_text(app)  # still running, on channel A

        listed = await pick_channel(pilot, "B")
        assert "SN-A2" in picker_line(listed, "A") and "SN-B" in picker_line(listed, "B")
        await press(pilot, "y")
        await until_text(pilot, "connected  bench-7 · channel B  SN-B")
        with Store(tmp_path / "records.sqlite3") as store:
            (aborted,) = store.runs_for_unit("SN-A2")
            assert aborted.plan == "station-hold" and aborted.status == "error"
            assert store.runs_for_unit("SN-A") == []  # the file's unit: replaced by --unit

        app.start_plan(plan_file(tmp_path / "check.toml", "station-check", 5))
        text = await until_text(pilot, "filed as run 2")
        assert "SIMULATED UNIT" in text
        text = await until_screen(pilot, lambda text: "▶ plan" not in text)  # it has ended
        assert re.search(r" (PASS|FAIL) ", text), text
        await press(pilot, "q")
    with Store(tmp_path / "records.sqlite3") as store:
        (filed,) = store.runs_for_unit("SN-B")
        # run to a verdict, not aborted (how many reports a loaded test machine hears in
        # 5 s at 20× is not the point here)
        assert filed.plan == "station-check" and filed.status in ("pass", "fail")
        assert [run.plan for run in store.runs_for_unit("SN-A2")] == ["station-hold"]


@in_event_loop
async def test_a_channel_that_cannot_open_is_one_line_and_the_console_stays(
    tmp_path: Path, station: Path, dead_port: str
) -> None:
    app = console(tmp_path, station)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await until_text(pilot, "connected  bench-7 · channel A")
        await pick_channel(pilot, "C")
        text = await until_text(pilot, "channel C not opened")
        assert "bench-7 · channel A" in text  # still on the channel it was on
        first = await water_shown(pilot, "bench-7 · channel A")
        assert 20 <= first <= 23 and app.is_running
        listed = await pick_channel(pilot, "A")  # the picker says why C is not open
        assert "SN-C  ✗ could not open: link:" in picker_line(listed, "C")
        assert dead_port in picker_line(listed, "C")
        await press(pilot, "f")  # the bench keys still drive channel A's unit
        await until_text(pilot, "Filter   on")
        await press(pilot, "q")
    assert app.return_value == 0


def test_a_first_channel_that_cannot_open_is_an_error(
    station: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main(["console", "--station", str(station), "--channel", "C"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("spabench console: error: bench-7 · channel C: link:")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--port", "loop://"], "not allowed with argument"),
        (["--channel", "Z"], "no channel 'Z' (channels: A, B, C, D)"),
        (["--unit", "SN-X"], "--unit and --order belong to one channel: add --channel NAME"),
        (["--order", "4"], "--unit and --order belong to one channel"),
        (["--channel", "D", "--order", "4"], "--order needs --unit (or unit = SERIAL for"),
        (["--meter", "tcp://127.0.0.1:1"], "--meter comes from the station file"),
        (["--profile", "elite-6"], "--profile comes from the station file"),
        (["--speed", "5"], "--speed comes from the station file"),
        (["--no-multimeter"], "--no-multimeter comes from the station file"),
    ],
)
def test_station_usage_errors_are_one_line_exit_2(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    station = write_station(tmp_path / "s.toml", "loop://a", "loop://b", "loop://c")
    with station.open("a", encoding="utf-8") as more:
        more.write('\n[[channel]]\nname = "D"\nport = "loop://d"\n')
    with pytest.raises(SystemExit) as exit_info:
        bench_main(["console", "--station", str(station), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--virtual", "--channel", "A"], "--channel needs --station"),
        (["--station", "/nonexistent/bench.toml"], "/nonexistent/bench.toml"),
    ],
)
def test_channel_needs_a_station_and_a_station_file_must_exist(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_main(["console", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
