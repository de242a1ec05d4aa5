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
    """``spabench unit add`` then ``spabench run --port socket://… --profile elite-6 --plan
    smoke`` against a served box (a separate process), filed in the records: it passes, and
    not one :mod:`spasim` module is loaded in the bench's interpreter."""
    served = launch(
        "--tcp", "127.0.0.1:0", "--meter-tcp", "0", "--profile", "elite-6",
        "--tank-litres", "20", transport="tcp", speed=20,
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


def test_the_console_on_a_real_unit_loads_no_simulator(
    launch: Callable[..., ServedUnit], tmp_path: Path
) -> None:
    """The console's real path — its target on a port and the auto-off times of the model
    plate — loads no :mod:`spasim` module either."""
    served = launch("--tcp", "127.0.0.1:0", "--profile", "aurora-urban", transport="tcp")
    script = """\
from bench.console.targets import auto_off_for, port_target

target = port_target(sys.argv[4], profile="aurora-urban")
try:
    outcome["unit"] = [target.unit.profile, target.unit.model]
    outcome["uvc"] = int(target.link.duty.uvc_command)
    outcome["fitted"] = [target.fitted(part) for part in ("ozone", "uvc", "jet")]
finally:
    target.close()
times = auto_off_for("aurora-urban")
outcome["auto_off"] = [times.bubbles, times.ozone, times.uvc]
"""
    outcome = _in_fresh_interpreter(tmp_path, script, served.url)
    assert outcome["unit"] == ["aurora-urban", "MSpa Urban Aurora 4-person (2021+)"]
    assert outcome["uvc"] == 0x10
    assert outcome["fitted"] == [True, True, False]
    assert outcome["auto_off"] == [1200.0, 7200.0, 7200.0]
    assert outcome["spasim"] == []
