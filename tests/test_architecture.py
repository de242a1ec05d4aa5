"""The architecture, proven from outside: what a path of the program loads, seen in a fresh
interpreter.

Why a subprocess: ``sys.modules`` of the test session already holds :mod:`spasim` (the
fixtures serve boxes with it), so only a new interpreter can tell whether the bench's
real-hardware path needs the simulator. The box it tests is ``spasim serve`` in its own
process — a real box as far as the bench can tell.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spasim.pytest_plugin import ServedUnit

_REAL_PATH_MODULES = (
    "bench.cli",
    "bench.cli.run",
    "bench.cli.unit",
    "bench.cli.order",
    "bench.cli.history",
    "bench.cli.report",
    "bench.cli.console",
    "bench.testing.targets",
    "bench.testing.runner",
    "bench.testing.plans",
    "bench.records.store",
    "bench.console.app",
    "bench.console.session",
    "bench.console.targets",
)
"""What the bench loads to test, file and show a real unit (the CLI loads every subcommand)."""

_CHILD = """\
import importlib, json, sys

modules, script, result = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
for name in modules:
    importlib.import_module(name)
outcome = {}
exec(script)
outcome["spasim"] = sorted(m for m in sys.modules if m.split(".")[0] == "spasim")
with open(result, "w", encoding="utf-8") as stream:
    json.dump(outcome, stream)
"""
"""The fresh interpreter: import the real path's modules, run ``script`` (which fills
``outcome``), then list every :mod:`spasim` module that got loaded."""

_RUN_COMMANDS = """\
from bench.cli import main

codes = []
for argv in json.loads(sys.argv[4]):
    try:
        codes.append(main(argv))
    except SystemExit as stop:
        codes.append(stop.code)
outcome["codes"] = codes
"""


def _in_fresh_interpreter(tmp_path: Path, script: str, *arguments: str) -> dict[str, Any]:
    """Run ``script`` in a new interpreter after importing the real path; its ``outcome``."""
    result = tmp_path / "outcome.json"
    child = [sys.executable, "-c", _CHILD, json.dumps(_REAL_PATH_MODULES), script, str(result)]
    finished = subprocess.run(
        [*child, *arguments], cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    outcome["stdout"] = finished.stdout
    return outcome


def _meter_url(served: ServedUnit) -> str:
    """The ``meter on URL`` line ``spasim serve --meter-tcp`` prints after ``listening on``."""
    assert served.process.stdout is not None
    line = served.process.stdout.readline().decode("utf-8").strip()
    assert line.startswith("meter on "), line
    return line.removeprefix("meter on ")


def test_a_real_run_and_its_record_load_no_simulator(
    launch: Callable[..., ServedUnit], tmp_path: Path
) -> None:
    """``spabench unit add`` then ``spabench run --port /dev/pts/N --profile elite-6 --plan
    smoke`` against a served box (a separate process), filed in the records: it passes, and
    not one :mod:`spasim` module is loaded in the bench's interpreter. A pty, as a USB
    adapter is: pyserial's ``socket://`` must be polled, and at 20× on a busy machine the
    polling split frames and failed the link-quality step now and then."""
    served = launch(
        "--pty", "--meter-tcp", "0", "--profile", "elite-6",
        "--tank-litres", "20", transport="pty", speed=20,
    )  # fmt: skip
    meter = _meter_url(served)
    answers = tmp_path / "answers.toml"
    answers.write_text('bubbles-visible = true\n"pump-running" = true\n"blower-running" = true\n')
    db = str(tmp_path / "records.db")
    commands = [
        [
            "unit", "add", "--serial", "SN-ARCH", "--profile", "elite-6",
            "--purchase-date", "2024-05-01", "--db", db,
        ],
        [
            "run", "--port", served.url, "--meter", meter, "--plan", "smoke",
            "--profile", "elite-6", "--answers", str(answers), "--speed", "20",
            "--unit", "SN-ARCH", "--db", db, "--json", str(tmp_path / "run.json"),
        ],
    ]  # fmt: skip
    outcome = _in_fresh_interpreter(tmp_path, _RUN_COMMANDS, json.dumps(commands))
    assert outcome["codes"] == [0, 0], outcome["stdout"][-3000:]
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["verdict"] == "pass"
    assert (record["unit"]["profile"], record["unit"]["model"]) == (
        "elite-6",
        "MSpa Elite 6-person (2019+)",
    )
    assert outcome["spasim"] == []


def test_registering_a_unit_loads_no_simulator(tmp_path: Path) -> None:
    """The records path checks ``--profile`` against the model files, not the simulator —
    an unknown model is still refused."""
    db = str(tmp_path / "records.db")
    commands = [
        [
            "unit", "add", "--serial", "SN-1", "--profile", "aurora-urban",
            "--purchase-date", "2024-05-01", "--db", db,
        ],
        [
            "unit", "add", "--serial", "SN-2", "--profile", "jacuzzi-9",
            "--purchase-date", "2024-05-01", "--db", db,
        ],
        ["unit", "show", "SN-1", "--db", db],
    ]  # fmt: skip
    outcome = _in_fresh_interpreter(tmp_path, _RUN_COMMANDS, json.dumps(commands))
    assert outcome["codes"] == [0, 2, 0]
    assert "unit SN-1 registered: aurora-urban" in outcome["stdout"]
    assert outcome["spasim"] == []


_CONSOLE_SESSION = """\
import asyncio
import threading
import time

from bench.console.app import ConsoleApp
from bench.console.session import Session
from bench.console.targets import auto_off_for, port_target

url, meter_url, speed = sys.argv[4], sys.argv[5], float(sys.argv[6])
target = port_target(
    url, meter_url=meter_url, profile="aurora-urban", speed=speed, serial="SN-CONSOLE"
)
outcome["unit"] = [target.unit.profile, target.unit.model]
outcome["uvc"] = int(target.link.duty.uvc_command)
outcome["fitted"] = [target.fitted(part) for part in ("ozone", "uvc", "jet")]
times = auto_off_for("aurora-urban")
outcome["auto_off"] = [times.bubbles, times.ozone, times.uvc]

session = Session(target, auto_off=times)
changed = threading.Event()
session.mailbox.notify = changed.set  # what the app's message does, without the app
heard = []


def until(predicate, what, wall_s=60.0):
    # A live unit in real time: the wall clock bounds the wait, the mailbox wakes it.
    deadline = time.monotonic() + wall_s
    while True:
        snapshot, frames = session.take()
        heard.extend(frames)
        if predicate(snapshot):
            return snapshot
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: last snapshot {snapshot}")
        changed.wait(0.5)
        changed.clear()


worker = threading.Thread(target=session.run, name="console-driver", daemon=True)
worker.start()
try:
    first = until(
        lambda s: s.link.state == "connected" and s.water_c is not None and s.meter is not None,
        "connected, a temperature and a meter reading",
    )
    outcome["connected"] = [first.serial, first.profile, first.where.startswith("socket://")]
    session.toggle("filter")
    flowing = until(lambda s: s.flow is not None and s.flow.flowing, "flow with the filter on")
    outcome["filter"] = flowing.state.filter
    checks = {}
    for check in ("frames-arriving", "flow-with-filter", "filter-draw"):
        checks[check] = session.run_check(check).result(timeout=60).answer
    outcome["checks"] = checks
finally:
    session.stop()
    outcome["finished"] = session.finished.wait(30)
    worker.join(30)
last, frames = session.take()
heard.extend(frames)
outcome["error"] = last.error
outcome["lost"] = target.link.lost is not None
outcome["box_frames"] = sorted({entry.command for entry in heard if entry.sender == "box"})


# The same unit again, now under the Textual app itself (headless, Textual's test harness).
async def on_screen():
    again = port_target(url, meter_url=meter_url, profile="aurora-urban", speed=speed)
    app = ConsoleApp(Session(again, auto_off=times), speed=speed)
    async with app.run_test(size=(100, 32)) as pilot:
        await app.updates.until(lambda: app.snapshot.link.state == "connected", 60)
        await pilot.press("f")
        await app.updates.until(
            lambda: app.snapshot.flow is not None and app.snapshot.flow.flowing, 60
        )
        outcome["app"] = [app.snapshot.state.filter, app.snapshot.error]
        await pilot.press("q")
    outcome["app_closed"] = app.session.finished.wait(30)


asyncio.run(on_screen())
"""
"""The console's real path in a fresh interpreter: its target on a port and the auto-off times
of the model plate; then its :class:`~bench.console.session.Session` on that target in its
own driver thread (the mailbox's wake-up standing in for the app's message) until the unit
shows connected, through a load key and three troubleshooting checks, and closed; then the
same unit under the Textual app itself (``run_test``: no terminal), a key pressed, quit."""


def test_the_console_on_a_real_unit_loads_no_simulator(
    launch: Callable[..., ServedUnit], tmp_path: Path
) -> None:
    """The console's real path — its target on a port, the auto-off times of the model
    plate, its session driving the unit (frames, meter, a load key, checks, shutdown) and
    the app on top of it — loads no :mod:`spasim` module either: a simulator import hidden
    in the driver thread or a screen shows only when the console runs, not on import."""
    served = launch(
        "--tcp", "127.0.0.1:0", "--meter-tcp", "0", "--profile", "aurora-urban",
        "--tank-litres", "20", transport="tcp", speed=20,
    )  # fmt: skip
    meter = _meter_url(served)
    outcome = _in_fresh_interpreter(tmp_path, _CONSOLE_SESSION, served.url, meter, "20")
    assert outcome["unit"] == ["aurora-urban", "MSpa Urban Aurora 4-person (2021+)"]
    assert outcome["uvc"] == 0x15  # the capture and MW's shipped configuration
    assert outcome["fitted"] == [True, True, False]
    assert outcome["auto_off"] == [1200.0, 7200.0, 7200.0]
    assert outcome["connected"] == ["SN-CONSOLE", "aurora-urban", True]
    assert outcome["filter"] is True
    assert outcome["checks"] == {
        "frames-arriving": True,
        "flow-with-filter": True,
        "filter-draw": True,
    }
    assert outcome["finished"] is True
    assert outcome["error"] is None and outcome["lost"] is False
    assert {0x06, 0x08} <= set(outcome["box_frames"])  # temperature and flow reports heard
    assert outcome["app"] == [True, None] and outcome["app_closed"] is True
    assert outcome["spasim"] == []
