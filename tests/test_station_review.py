"""Review of station runs (issue 14): what a technician reads on the terminal, station-file
mistakes refused before anything runs, a stop that reaches a channel still identifying its
unit, and a run that would file one model's measurements under a unit of another model.

Terminal behaviour is judged as a person sees it: the bench runs on a real pseudo-terminal
and its output is played into a terminal emulator (pyte), so lines a redraw erased are gone
from the screen just as they are from the technician's.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import selectors
import signal
import socket
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyte
import pytest

from bench.station.display import StationDisplay
from bench.station.session import ChannelSession, News
from spasim.pytest_plugin import ServedUnit
from tests.cli_runner import one_line, spabench
from tests.test_station_run import ASK_PLAN, BENCH, SPEED, WAIT_S, _channel, _env, _register

ROWS, COLUMNS = 100, 200
"""The emulated terminal: tall enough that nothing a run prints scrolls off it."""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROMPT = re.compile(r"(?:\[channel (\w) · [^\]]+\] )?(Is the [^?]+\?) \[y/n\]")
ANSWERS = {
    ("A", "Is the rating label present?"): b"y\n",
    ("A", "Is the lid seal fitted?"): b"y\n",
    ("B", "Is the rating label present?"): b"y\n",
    ("B", "Is the lid seal fitted?"): b"n\n",
    ("", "Is the rating label present?"): b"y\n",
    ("", "Is the lid seal fitted?"): b"n\n",
}
"""What the technician types, by channel ("" for ``spabench run``) and question."""


def _at_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``argv`` on a pseudo-terminal (its input, output and errors), answering each
    yes/no prompt by :data:`ANSWERS`; the exit status and the screen's lines at the end."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**env, "COLUMNS": str(COLUMNS), "LINES": str(ROWS), "TERM": "xterm"}
    bench = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    shown = ""
    answered = 0
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(master, selectors.EVENT_READ)
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                if not selector.select(deadline - time.monotonic()):
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the last holder of the terminal closed it
                    break
                if not chunk:
                    break
                stream.feed(chunk)
                shown += chunk.decode("utf-8", "replace")
                asked = PROMPT.findall(ANSI.sub("", shown))
                while answered < len(asked):
                    os.write(master, ANSWERS[asked[answered]])
                    answered += 1
        code = bench.wait(WAIT_S)
    finally:
        os.close(master)
        if bench.poll() is None:
            bench.kill()
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return code, lines


def _ask_plan(tmp_path: Path) -> Path:
    plan = tmp_path / "ask.toml"
    plan.write_text(ASK_PLAN)
    return plan


# -- 1. answered prompts stay on the screen ----------------------------------------------------


def test_a_station_keeps_each_prompt_its_answer_and_every_verdict_on_the_screen(
    launch: Callable[..., ServedUnit], tmp_path: Path
) -> None:
    """Both channels ask at the terminal: every question stays readable with the channel
    that asked it and the answer typed, and so does each channel's verdict line."""
    first = launch("--pty", speed=SPEED)
    second = launch("--pty", speed=SPEED)
    station = tmp_path / "station.toml"
    station.write_text(_channel("A", first, None) + _channel("B", second, None))
    code, lines = _at_terminal(
        [*BENCH, "station", "run", str(station), "--plan", str(_ask_plan(tmp_path))],
        _env(tmp_path / "unused.sqlite3"),
    )
    text = "\n".join(lines)
    assert code == 1, text  # B failed on its seal, A passed
    for name, port in (("A", first.url), ("B", second.url)):
        for question in ("Is the rating label present?", "Is the lid seal fitted?"):
            answer = ANSWERS[(name, question)].decode().strip()
            wanted = f"[channel {name} · {port}] {question} [y/n]: {answer}"
            assert wanted in lines, text
    assert any(line.startswith("channel A: verdict PASS") for line in lines), text
    assert any(line.startswith("channel B: verdict FAIL") for line in lines), text


def test_spabench_run_keeps_each_prompt_and_its_answer_on_the_screen(
    launch: Callable[..., ServedUnit], tmp_path: Path
) -> None:
    served = launch("--pty", speed=SPEED)
    code, lines = _at_terminal(
        [*BENCH, "run", "--port", served.url, "--profile", "premium-4", "--speed", str(SPEED),
         "--plan", str(_ask_plan(tmp_path)), "--no-store"],
        _env(tmp_path / "unused.sqlite3"),
    )  # fmt: skip
    text = "\n".join(lines)
    assert code == 1, text
    assert "Is the rating label present? [y/n]: y" in lines, text
    assert "Is the lid seal fitted? [y/n]: n" in lines, text
    assert "verdict: FAIL" in lines, text


# -- 2, 3. station-file mistakes refused before anything runs ----------------------------------


@pytest.mark.parametrize(
    ("keys", "needles"),
    [
        (
            {"A": 'profile = "premium4"'},
            ("channel A", "unknown profile 'premium4'", "did you mean 'premium-4'?"),
        ),
        ({"B": 'operator = "control://nohost"'}, ("channel B", "control://nohost", "HOST:PORT")),
        ({"A": 'operator = "control://127.0.0.1:0"'}, ("channel A", "control port")),
        (
            {
                "A": 'operator = "control://127.0.0.1:7002"',
                "B": 'operator = "control://127.0.0.1:7002"',
            },
            ("channels A and B", "share the control channel 127.0.0.1:7002"),
        ),
    ],
)
def test_profiles_and_control_addresses_are_checked_before_anything_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, keys: dict[str, str], needles: tuple[str]
) -> None:
    """A typo in a profile or a control address, or two channels' prompts done on the same
    served box (channel A's PRCD test pressed on B's unit), is one line naming the channel,
    exit 2, and nothing is run."""
    plain = ("A", "B")
    station = tmp_path / "station.toml"
    station.write_text(
        "".join(
            f'[[channel]]\nname = "{name}"\nport = "/dev/nonexistent-{name}"\n'
            + (keys[name] + "\n" if name in keys else "")
            for name in plain
        )
    )
    result = spabench(capsys, "station", "run", str(station), "--plan", "verify-prcd")
    one_line(result, 2, "spabench station", *needles)
    assert "cannot open" not in result[1] + result[2]  # no channel was started


# -- 4. log lines are never wrapped ----------------------------------------------------------


def test_news_in_a_log_is_one_line_whatever_its_length(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without a terminal every event is one line starting with its channel (greppable),
    however long the port, the unit and the message."""
    from bench.cli.progress import make_console

    console = make_console()  # standard output is captured here: a log, not a terminal
    session = ChannelSession("B", "/dev/ttyUSB1")
    display = StationDisplay("station bench-2 · smoke", [session], console)
    long_news = "channel B: error: link: cannot open " + "/dev/serial/by-id/usb-FTDI_" * 8
    display.line(News(long_news))
    display.line(News("channel B:   error   reports — " + "no temperature report " * 9, True))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == long_news
    assert len(lines) == 2 and all(line.startswith("channel B: ") for line in lines), lines


# -- 5, 6. stopping a station ----------------------------------------------------------------


def _station_process(station: Path, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*BENCH, "station", "run", str(station), "--plan", "verify-prcd", *extra],
        env=_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_line(bench: subprocess.Popen[str], wanted: str) -> list[str]:
    assert bench.stdout is not None
    seen: list[str] = []
    for line in iter(bench.stdout.readline, ""):
        seen.append(line)
        if wanted in line:
            return seen
    raise AssertionError(f"the station ended before {wanted!r}: {''.join(seen)}")


def test_a_signal_stops_a_channel_still_identifying_its_unit_at_once(tmp_path: Path) -> None:
    """A silent line at real speed: the bench listens for ~13 s before it can tell the
    model. A SIGTERM meanwhile stops the channel within a moment, and says so."""
    station = tmp_path / "station.toml"
    station.write_text('[[channel]]\nname = "S"\nport = "loop://"\n')
    bench = _station_process(station, tmp_path / "unused.sqlite3")
    try:
        _wait_line(bench, "channel S: connecting to loop://")
        sent = time.monotonic()
        bench.send_signal(signal.SIGTERM)
        _, err = bench.communicate(timeout=WAIT_S)
        took = time.monotonic() - sent
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 143, err
    assert err == (
        "spabench station: interrupted: channel S: stopped before the run began: nothing was run\n"
    )
    assert took < 5.0, took  # the listen is cut, not waited out (it would take ~13 s)


@pytest.fixture
def mute_control() -> Iterator[tuple[str, socket.socket]]:
    """A control channel that takes connections and never answers: a rehearsal operator
    asked something waits on it (up to its timeout) and hears no stop meanwhile."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT_S)
        yield f"control://127.0.0.1:{server.getsockname()[1]}", server


@pytest.mark.parametrize("insists", ["after the stopping line", "at once"])
def test_a_second_interrupt_says_the_channel_was_stopped_again(
    tmp_path: Path, mute_control: tuple[str, socket.socket], insists: str
) -> None:
    """The first signal asks every channel to stop; one that cannot yet (its rehearsal
    operator waits on a control channel) is cut short by a second — and the last line says
    so, not that the 30 s wait ran out. Two signals at once are no crash either."""
    address, server = mute_control
    station = tmp_path / "station.toml"
    station.write_text(
        f'[[channel]]\nname = "S"\nport = "loop://"\nspeed = 100\noperator = "{address}"\n'
    )
    bench = _station_process(station, tmp_path / "unused.sqlite3")
    try:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(WAIT_S)
            asked = connection.recv(4096)  # the model plate asked: the channel waits on it
            assert asked, "the rehearsal operator asked nothing"
            bench.send_signal(signal.SIGINT)
            if insists == "after the stopping line":
                _wait_line(bench, "station: stopping — every channel leaves its unit safe")
            bench.send_signal(signal.SIGTERM)  # the technician insists
            _, err = bench.communicate(timeout=WAIT_S)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, err  # the first signal's status
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "channel S: stopped again (second interrupt) before it had stopped" in err, err
    assert "did not stop within" not in err


# -- 7. a unit's model comes from its registration -------------------------------------------


def _register_as(capsys: pytest.CaptureFixture[str], db: Path, serial: str, profile: str) -> None:
    code, _, err = spabench(
        capsys, "unit", "add", "--db", str(db), "--serial", serial, "--profile", profile,
        "--purchase-date", "2025-06-01",
    )  # fmt: skip
    assert code == 0, err


def _runs_of(capsys: pytest.CaptureFixture[str], db: Path, serial: str) -> str:
    code, out, err = spabench(capsys, "history", "--db", str(db), serial)
    assert code == 0, err
    return out


def test_spabench_run_refuses_a_model_plate_that_is_not_the_registered_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "records.sqlite3"
    _register_as(capsys, db, "SN-1", "premium-4")
    before = _runs_of(capsys, db, "SN-1")
    answers = tmp_path / "answers.toml"
    answers.write_text('model-plate = "elite-6"\n')
    result = spabench(
        capsys, "run", "--db", str(db), "--unit", "SN-1", "--port", "loop://", "--speed", "100",
        "--plan", "verify-prcd", "--answers", str(answers),
    )  # fmt: skip
    one_line(result, 2, "spabench run", "'SN-1'", "registered as premium-4", "elite-6")
    assert _runs_of(capsys, db, "SN-1") == before  # nothing filed under the unit


def test_spabench_run_refuses_a_wire_that_shows_another_model_than_the_registered_one(
    launch: Callable[..., ServedUnit], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    served = launch("--pty", "--profile", "super-camaro", speed=SPEED)
    db = tmp_path / "records.sqlite3"
    _register_as(capsys, db, "SN-2", "premium-4")
    result = spabench(
        capsys, "run", "--db", str(db), "--unit", "SN-2", "--port", served.url,
        "--speed", str(SPEED), "--plan", "verify-prcd",
    )  # fmt: skip
    one_line(result, 2, "spabench run", "registered as premium-4", "super-camaro")


def test_a_station_channel_refuses_a_model_plate_that_is_not_the_registered_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "records.sqlite3"
    _register(capsys, db, "SN-1")  # a premium-4
    before = _runs_of(capsys, db, "SN-1")
    (tmp_path / "answers.toml").write_text('model-plate = "elite-6"\n')
    station = tmp_path / "station.toml"
    station.write_text(
        '[[channel]]\nname = "A"\nport = "loop://"\nspeed = 100\nunit = "SN-1"\n'
        'answers = "answers.toml"\n'
    )
    done = subprocess.run(
        [*BENCH, "station", "run", str(station), "--plan", "verify-prcd"],
        env=_env(db), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT_S,
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith("channel A: error")]
    assert len(said) == 1, done.stdout
    assert "registered as premium-4" in said[0] and "elite-6" in said[0], said
    assert _runs_of(capsys, db, "SN-1") == before
