"""``spabench station run``: several served boxes tested at once by one bench process.

The boxes are ``spasim serve`` processes on real pseudo-terminals, each with its Modbus
meter, so every channel is reached exactly as a returned box would be: one with a fault is
failed with its part named, one whose server dies mid-run ends "error: link lost" with the
steps it measured filed, a healthy one passes — all three filed, none disturbing another.
Prompts of channels without answers go to the one terminal, one at a time, each saying
which channel asks; without a terminal they error that channel's step (never a hang).
"""

from __future__ import annotations

import json
import os
import pty
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.station.display import live_table
from bench.station.prompts import ChannelOperator, Prompt, PromptDesk
from bench.station.session import ChannelSession, ChannelStopped, ChannelView, News
from bench.testing.instruments.operator import OperatorError
from protocols.driver import RealTimeDriver
from spasim.pytest_plugin import ServedUnit
from tests.cli_runner import one_line, spabench
from tests.test_control import announced

BENCH = [sys.executable, "-m", "bench"]
SPEED = 40.0
"""Served boxes and the bench agree on it: the smoke plan in a few wall seconds, with room
for a loaded machine (the pty proofs of ``spabench run`` use 20–100)."""
WAIT_S = 90.0
"""Wall seconds any station subprocess may take (never reached when healthy)."""

ASK_PLAN = """
name = "ask"
title = "A link and two questions only a person can answer"
[[step]]
name = "link"
title = "Link and handshake"
type = "link-up"
stop_on_fail = "no link"
[[step]]
name = "label"
title = "Rating label present"
type = "operator-confirm"
prompt = "label-present"
question = "Is the rating label present?"
[[step]]
name = "seal"
title = "Lid seal fitted"
type = "operator-confirm"
prompt = "seal-fitted"
question = "Is the lid seal fitted?"
"""


def _serve(launch: Callable[..., ServedUnit], *faults: str) -> tuple[ServedUnit, str]:
    extra = [arg for fault in faults for arg in ("--fault", fault)]
    served = launch(
        "--pty", "--meter-tcp", "0", "--tank-litres", "20", *extra, speed=SPEED
    )  # fmt: skip
    return served, announced(served, "meter on ")


def _channel(name: str, served: ServedUnit, meter: str | None, **keys: str) -> str:
    lines = [
        "[[channel]]",
        f'name = "{name}"',
        f'port = "{served.url}"',
        'profile = "premium-4"',
        f"speed = {SPEED}",
        "simulated = true",
    ]
    if meter is not None:
        lines.append(f'meter = "{meter}"')
    lines += [f'{key} = "{value}"' for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "SPABENCH_DB": str(db), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def _register(capsys: pytest.CaptureFixture[str], db: Path, *serials: str) -> None:
    for serial in serials:
        code, _, err = spabench(
            capsys, "unit", "add", "--db", str(db), "--serial", serial,
            "--profile", "premium-4", "--purchase-date", "2025-06-01",
        )  # fmt: skip
        assert code == 0, err


def _lines_until(stream: Iterator[str], wanted: str, seen: list[str]) -> None:
    for line in stream:
        seen.append(line)
        if line.rstrip("\n").endswith(wanted) or wanted in line:
            return
    raise AssertionError(f"the station ended before {wanted!r}: {''.join(seen)}")


def _row(out: str, channel: str) -> str:
    """The summary table's row of ``channel``."""
    rows = [line for line in out.splitlines() if re.match(rf"│ {re.escape(channel)}\s+│", line)]
    assert rows, out
    return rows[-1]


def _report(capsys: pytest.CaptureFixture[str], db: Path, run_id: str) -> dict[str, Any]:
    """``spabench report --run N --json -``: the run as the records give it back."""
    code, out, err = spabench(capsys, "report", "--db", str(db), "--run", run_id, "--json", "-")
    assert code == 0, err
    exported: dict[str, Any] = json.loads(out)
    return exported


def test_a_fault_a_lost_link_a_dead_port_and_a_healthy_unit_end_apart_and_are_filed(
    launch: Callable[..., ServedUnit], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    healthy, healthy_meter = _serve(launch)
    faulty, faulty_meter = _serve(launch, "heater-open")
    doomed, doomed_meter = _serve(launch)
    answers = tmp_path / "answers.toml"
    answers.write_text('bubbles-visible = true\n"blower-running" = true\n"pump-running" = true\n')
    station = tmp_path / "bench-2.toml"
    station.write_text(
        'name = "bench-2"\n'
        + _channel("A", healthy, healthy_meter, answers="answers.toml", unit="SN-A")
        + _channel("B", faulty, faulty_meter, answers="answers.toml", unit="SN-B")
        + _channel("C", doomed, doomed_meter, answers="answers.toml")
        + '[[channel]]\nname = "D"\nport = "/dev/nonexistent-adapter"\n'  # unplugged
    )
    db = tmp_path / "records.sqlite3"
    _register(capsys, db, "SN-A", "SN-B", "SN-C")
    json_dir = tmp_path / "records"
    json_dir.mkdir()
    bench = subprocess.Popen(
        [*BENCH, "station", "run", str(station), "--plan", "smoke", "--unit", "C=SN-C",
         "--json-dir", str(json_dir)],
        env=_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert bench.stdout is not None
        seen: list[str] = []
        _lines_until(iter(bench.stdout.readline, ""), "channel C:   pass    link", seen)
        doomed.process.kill()  # the box on channel C is gone mid-run (a cable pulled)
        out, err = bench.communicate(timeout=WAIT_S)
    finally:
        if bench.poll() is None:
            bench.kill()
    out = "".join(seen) + out
    assert bench.returncode == 3, (out, err)  # an error on any channel wins over a fail
    assert "Traceback" not in out + err, err

    # One line per event, each naming its channel; the summary: verdict, part, run id.
    assert "channel B: verdict FAIL — replace: PTC heater" in out
    assert "channel A: verdict PASS — unit OK" in out
    assert re.search(r"channel C:   error   \S+ — link lost", out), out
    assert "ERROR: link: cannot open" in _row(out, "D")
    assert "channel D: error: link: cannot open /dev/nonexistent-adapter" in out
    assert "channel D: not filed in the records: no unit serial" in out
    rows = {name: _row(out, name) for name in "ABC"}
    assert "PASS" in rows["A"] and "SN-A" in rows["A"]
    assert "FAIL" in rows["B"] and "PTC heater" in rows["B"]
    assert "ERROR: link lost" in rows["C"]
    run_ids = {name: re.findall(r"run (\d+)", row)[0] for name, row in rows.items()}
    assert len(set(run_ids.values())) == 3

    # The records: three runs, each with its unit, its verdict and the steps it ran.
    reports = {name: _report(capsys, db, run_id) for name, run_id in run_ids.items()}
    assert {name: r["status"] for name, r in reports.items()} == {
        "A": "pass",
        "B": "fail",
        "C": "error",
    }
    records = {name: r["record"] for name, r in reports.items()}
    assert {name: r["unit"]["serial"] for name, r in records.items()} == {
        "A": "SN-A",
        "B": "SN-B",
        "C": "SN-C",
    }
    steps_c = records["C"]["steps"]
    outcomes_c = [step["outcome"] for step in steps_c]
    assert outcomes_c[0] == "pass" and "error" in outcomes_c, outcomes_c
    assert records["C"]["error"] == "link lost"
    assert records["C"]["frames"]
    assert len(records["A"]["steps"]) == len(records["B"]["steps"]) == 11
    assert all(s["outcome"] == "pass" for s in records["A"]["steps"])
    assert [p["name"] for p in records["B"]["suspected_parts"]] == ["PTC heater"]
    assert "channel B" in str(records["B"]["station"])

    # --json-dir: one file per channel, named by channel and record id.
    written = sorted(path.name for path in json_dir.iterdir())
    assert [name[0] for name in written] == ["A", "B", "C"]  # D never began a run
    for path in json_dir.iterdir():
        record = json.loads(path.read_text())
        assert path.name == f"{path.name[0]}-{record['record_id']}.json"


def _ask_station(
    launch: Callable[..., ServedUnit], tmp_path: Path
) -> tuple[Path, Path, ServedUnit, ServedUnit]:
    plan = tmp_path / "ask.toml"
    plan.write_text(ASK_PLAN)
    (tmp_path / "answers-a.toml").write_text('"label-present" = true\n"seal-fitted" = true\n')
    first = launch("--pty", speed=SPEED)
    second = launch("--pty", speed=SPEED)
    station = tmp_path / "station.toml"
    station.write_text(
        _channel("A", first, None, answers="answers-a.toml") + _channel("B", second, None)
    )
    return station, plan, first, second


def test_prompts_go_to_the_terminal_one_at_a_time_saying_which_channel_asks(
    launch: Callable[..., ServedUnit], tmp_path: Path
) -> None:
    """Channel A's answers file answers A; channel B asks at the terminal, each prompt
    starting with the channel and its port; the answer typed goes to B's unit only."""
    station, plan, _, second = _ask_station(launch, tmp_path)
    master, slave = pty.openpty()
    bench = subprocess.Popen(
        [*BENCH, "station", "run", str(station), "--plan", str(plan),
         "--db", str(tmp_path / "unused.sqlite3")],
        env=_env(tmp_path / "unused.sqlite3"), stdin=slave, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(slave)
    shown = b""
    typed = [b"y\n", b"n\n"]  # label: yes; seal: no, so B fails on the seal
    asked = 0
    try:
        assert bench.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(bench.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                if not selector.select(deadline - time.monotonic()):
                    continue
                chunk = os.read(bench.stdout.fileno(), 4096)
                if not chunk:
                    break
                shown += chunk
                while asked < len(typed) and shown.count(b"[y/n]") > asked:
                    os.write(master, typed[asked])
                    asked += 1
        bench.wait(WAIT_S)
    finally:
        os.close(master)
        if bench.poll() is None:
            bench.kill()
    out = shown.decode("utf-8", "replace")
    assert bench.returncode == 1, out  # B failed (its seal), A passed
    prompts = re.findall(r"\[channel (\w) · ([^\]]+)\] (.+?\?) \[y/n\]", out)
    assert prompts == [
        ("B", second.url, "Is the rating label present?"),
        ("B", second.url, "Is the lid seal fitted?"),
    ], out
    assert "PASS" in _row(out, "A") and "not filed (no unit serial)" in _row(out, "A")
    assert "FAIL" in _row(out, "B")
    assert "channel B:   fail    seal" in out and "channel A:   pass    seal" in out


def test_without_a_terminal_an_unanswered_prompt_errors_its_channel_alone(
    launch: Callable[..., ServedUnit], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    station, plan, _, _ = _ask_station(launch, tmp_path)
    done = subprocess.run(
        [*BENCH, "station", "run", str(station), "--plan", str(plan)],
        env=_env(tmp_path / "unused.sqlite3"), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=WAIT_S,
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert "channel B:   error   label — operator needed: Is the rating label present?" in (
        done.stdout
    )
    assert "ERROR: label: operator needed" in _row(done.stdout, "B")
    assert "PASS" in _row(done.stdout, "A")
    assert not (tmp_path / "unused.sqlite3").exists()  # nothing to file: no records made


def test_a_signal_stops_every_channel_and_each_keeps_what_it_measured(
    launch: Callable[..., ServedUnit], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first, first_meter = _serve(launch)
    second, second_meter = _serve(launch)
    answers = tmp_path / "answers.toml"
    answers.write_text("bubbles-visible = true\n")
    station = tmp_path / "station.toml"
    station.write_text(
        _channel("A", first, first_meter, answers="answers.toml", unit="SN-A")
        + _channel("B", second, second_meter, answers="answers.toml", unit="SN-B")
    )
    db = tmp_path / "records.sqlite3"
    _register(capsys, db, "SN-A", "SN-B")
    bench = subprocess.Popen(
        [*BENCH, "station", "run", str(station), "--plan", "smoke"],
        env=_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert bench.stdout is not None
        seen: list[str] = []
        stream = iter(bench.stdout.readline, "")
        for name in ("A", "B"):  # both have kept steps (B may be a little behind A)
            if not any(f"channel {name}:   pass    reports" in line for line in seen):
                _lines_until(stream, f"channel {name}:   pass    reports", seen)
        bench.send_signal(signal.SIGINT)
        _, err = bench.communicate(timeout=WAIT_S)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("spabench station: interrupted: channel A: run "), err
    kept = re.findall(r"channel (\w): run (\d+) kept — (\d+) of 11 steps", err)
    assert [name for name, _, _ in kept] == ["A", "B"], err
    for _, run_id, steps in kept:
        exported = _report(capsys, db, run_id)
        assert exported["status"] == "interrupted"
        assert len(exported["record"]["steps"]) == int(steps) >= 2


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--unit", "Z=SN-1"], ("--unit Z=SN-1", "no channel 'Z' (channels: A, B)")),
        (["--unit", "A"], ("--unit takes CHANNEL=SERIAL",)),
        (["--unit", "A=SN-1", "--unit", "A=SN-2"], ("channel A given twice",)),
        (["--unit", "A=SN-1", "--unit", "B=SN-1"], ("unit 'SN-1' is on two channels, A and B",)),
        (["--order", "B=3"], ("channel B has no unit serial",)),
        (["--order", "A=x"], ("--order A=x",)),
        (["--unit", "A=SN-1"], ("channel A: unit 'SN-1' is not registered", "unit add")),
        (["--plan", "nope"], ("unknown plan 'nope'",)),
        (["--json-dir", "/nonexistent/dir"], ("--json-dir", "does not exist")),
    ],
)
def test_usage_errors_are_one_line_and_run_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], needles: tuple[str, ...]
) -> None:
    station = tmp_path / "station.toml"
    station.write_text(
        '[[channel]]\nname = "A"\nport = "/dev/nonexistent-a"\n'
        '[[channel]]\nname = "B"\nport = "/dev/nonexistent-b"\n'
    )
    db = tmp_path / "records.sqlite3"
    result = spabench(capsys, "station", "run", str(station), "--db", str(db), *extra)
    one_line(result, 2, "spabench station", *needles)
    assert not db.exists()


def test_station_file_and_answers_mistakes_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = spabench(capsys, "station", "run", str(tmp_path / "none.toml"))
    one_line(missing, 2, "station file")
    station = tmp_path / "station.toml"
    (tmp_path / "a.toml").write_text('"bubbles-visibel" = true\n')
    station.write_text('[[channel]]\nname = "A"\nport = "/dev/x"\nanswers = "a.toml"\n')
    typo = spabench(capsys, "station", "run", str(station), "--plan", "smoke")
    one_line(typo, 2, "channel A: answers file", "bubbles-visible")
    station.write_text('[[channel]]\nname = "A"\nport = "/dev/x"\nsimulated = true\n')
    db = tmp_path / "records.sqlite3"
    _register(capsys, db, "SN-1")
    order = spabench(
        capsys, "station", "run", str(station), "--db", str(db), "--unit", "A=SN-1",
        "--order", "A=1",
    )  # fmt: skip
    one_line(order, 2, "channel A is a SIMULATED UNIT", "needs --simulated")


# -- the pieces, without a station -----------------------------------------------------------


def _answering(desk: PromptDesk, answers: dict[str, object], count: int) -> list[Prompt]:
    """The main thread's part: take ``count`` prompts off the desk, one at a time, and
    answer each by what it asks."""
    asked: list[Prompt] = []
    while len(asked) < count:
        item = desk.next(WAIT_S)
        assert isinstance(item, Prompt), item
        assert not any(not p.done for p in asked), "a prompt asked before the last was answered"
        asked.append(item)
        desk.answered(item, answers.get(item.text))
        assert item.text in answers, item.text
    return asked


def test_the_desk_hands_each_channels_prompt_back_to_that_channel() -> None:
    desk = PromptDesk()
    operators = {
        name: ChannelOperator("sam", f"channel {name} · /dev/ttyUSB{i}", desk, interactive=True)
        for i, name in enumerate("AB")
    }
    got: dict[str, bool] = {}
    asked_a = threading.Event()

    def channel(name: str) -> None:
        if name == "B":
            asked_a.wait(WAIT_S)  # B asks second
        got[name] = operators[name].confirm("blower-running", "Is the air blower running?")

    threads = [threading.Thread(target=channel, args=(name,), daemon=True) for name in "AB"]
    for thread in threads:
        thread.start()
    first = desk.next(WAIT_S)
    assert isinstance(first, Prompt)
    assert first.text == "[channel A · /dev/ttyUSB0] Is the air blower running?"
    asked_a.set()
    desk.answered(first, True)
    rest = _answering(desk, {"[channel B · /dev/ttyUSB1] Is the air blower running?": False}, 1)
    for thread in threads:
        thread.join(WAIT_S)
    assert [p.asker for p in rest] == ["channel B · /dev/ttyUSB1"]
    assert got == {"A": True, "B": False}


def test_a_channel_waiting_for_an_answer_keeps_its_unit_served() -> None:
    """The wait goes through the channel's driver: what is due on its clock (reports,
    keep-alives) runs while the technician reads the question."""
    desk = PromptDesk()
    driver = RealTimeDriver(speed=100.0)
    ticks: list[float] = []
    served = threading.Event()

    def tick() -> None:
        ticks.append(driver.now())
        if len(ticks) >= 5:
            served.set()
        driver.scheduler.call_later(1.0, tick)

    driver.scheduler.call_later(1.0, tick)
    person = ChannelOperator("sam", "channel A · /dev/ttyUSB0", desk, interactive=True)
    person.bind(driver)
    answer: list[float] = []
    thread = threading.Thread(
        target=lambda: answer.append(person.number("clamp-a", "Clamp amps?", "A")), daemon=True
    )
    thread.start()
    prompt = desk.next(WAIT_S)
    assert isinstance(prompt, Prompt) and prompt.kind == "number"
    assert served.wait(WAIT_S)  # the unit's clock ran on while the question waited
    desk.answered(prompt, 6.5)
    thread.join(WAIT_S)
    driver.close()
    assert answer == [6.5] and len(ticks) >= 5


def test_a_stopped_channel_gives_up_its_prompt_and_a_closed_desk_refuses() -> None:
    desk = PromptDesk()
    session = ChannelSession("A", "/dev/ttyUSB0")
    person = ChannelOperator(
        "sam", "channel A · /dev/ttyUSB0", desk, interactive=True, stopping=session.check_stop
    )
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            person.act("prcd-test", "Press TEST on the PRCD.")
        except BaseException as error:  # what the channel's thread sees
            outcome.append(error)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    prompt = desk.next(WAIT_S)
    assert isinstance(prompt, Prompt)
    session.stop(signal.SIGTERM)
    thread.join(WAIT_S)
    assert len(outcome) == 1 and isinstance(outcome[0], ChannelStopped)
    assert outcome[0].signum == signal.SIGTERM
    assert desk.next(0.0) is None  # the withdrawn prompt is never asked

    desk.close("the station is stopping")
    with pytest.raises(OperatorError, match="the station is stopping"):
        ChannelOperator("sam", "channel B", desk, interactive=True).confirm("x", "Q?")
    with pytest.raises(OperatorError, match="operator needed: Q\\?"):
        ChannelOperator("sam", "channel C", PromptDesk(), interactive=False).confirm("x", "Q?")


def test_the_live_table_shows_each_channels_step_reading_status_and_run() -> None:
    from rich.console import Console

    views = [
        ChannelView("A", "/dev/ttyUSB0", "SN-A", "premium-4", "running", 3, 11,
                    "Temperature plausible", "36.5 °C · 12.0 W", run_id=7),
        ChannelView("B", "/dev/ttyUSB1", "SN-B", "elite-6", "fail", 11, 11, "Link quality",
                    replace="B9300929 filter pump", run_id=8, simulated=True),
        ChannelView("C", "/dev/ttyUSB2", state="error", note="link lost",
                    not_filed="no unit serial"),
    ]  # fmt: skip
    console = Console(record=True, width=200)
    console.print(live_table("station bench-2 · full", views))
    text = console.export_text()
    assert re.search(r"A .* /dev/ttyUSB0 .* SN-A .* premium-4 .* 3/11 Temperature plausible "
                     r".* 36.5 °C · 12.0 W .* running .* run 7", text), text  # fmt: skip
    assert "fail — replace: B9300929 filter pump" in text and "SN-B *" in text
    assert "error: link lost" in text and "not filed (no unit serial)" in text
    assert "* SIMULATED UNIT" in text


def test_the_live_table_is_drawn_again_only_when_a_channel_moved() -> None:
    """Sixteen channels waiting cost nothing: the main thread redraws only on news."""
    import io

    from rich.console import Console

    from bench.station.display import StationDisplay

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    sessions = [ChannelSession(name, f"/dev/ttyUSB{i}", steps=11) for i, name in enumerate("AB")]
    display = StationDisplay("station bench-2 · smoke", sessions, console)
    display.start()
    drawn = len(screen.getvalue())
    display.refresh()
    assert len(screen.getvalue()) == drawn  # nothing moved: nothing written
    sessions[1].update(state="running", step=2, step_title="Temperature and flow reports")
    display.refresh()
    assert "2/11 Temperature and flow reports" in screen.getvalue()[drawn:]
    # News above the table: a verdict is printed, a step's outcome is the table's to show.
    moved = len(screen.getvalue())
    display.line(News("channel B:   pass    reports", detail=True))
    assert len(screen.getvalue()) == moved
    display.line(News("channel B: verdict FAIL — replace: PTC heater"))
    assert "channel B: verdict FAIL — replace: PTC heater" in screen.getvalue()[moved:]
    display.pause()  # a prompt: the table steps aside, and comes back after
    paused = len(screen.getvalue())
    display.refresh()
    display.resume()
    assert "2/11 Temperature" in screen.getvalue()[paused:]
    display.stop()
