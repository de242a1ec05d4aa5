"""``spabench run`` / ``spabench plans`` from the command line: exit codes, JSON, records,
and a real pseudo-terminal (a box served in real time, unplugged mid-run)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bench.cli import main
from bench.records.store import Store
from protocols.clock import Scheduler
from protocols.driver import RealTimeDriver
from protocols.links import PtyPair
from protocols.ports import LinkPort
from protocols.sdm120 import MeterReading
from spasim.board import VirtualBox
from spasim.meter_server import MeterServer

SPEED = 20.0
"""Time scale of the pty tests: the served box and the bench agree on it."""


def run(*argv: str) -> int:
    return main(["run", *argv])


def test_virtual_pass_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.json"
    assert run("--virtual", "--plan", "smoke", "--json", str(out), "--no-store") == 0
    data = json.loads(out.read_text())
    assert data["verdict"] == "pass"
    assert data["suspected_parts"] == []
    assert [s["outcome"] for s in data["steps"]] == ["pass"] * len(data["steps"])
    assert data["summary"] == "unit OK"
    printed = capsys.readouterr().out
    assert "verdict: PASS" in printed and "unit OK" in printed


def test_virtual_fault_exit_1_names_the_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run.json"
    code = run(
        "--virtual", "--profile", "elite-6", "--fault", "filter-pump-dead",
        "--ambient", "8", "--seed", "4", "--json", str(out), "--no-store",
    )  # fmt: skip
    assert code == 1
    data = json.loads(out.read_text())
    assert data["verdict"] == "fail"
    assert [(p["part_number"], p["name"]) for p in data["suspected_parts"]] == [
        ("B9300929", "filter pump")
    ]
    assert data["unit"]["profile"] == "elite-6"
    assert "replace: B9300929 filter pump" in capsys.readouterr().out


def test_virtual_panel(tmp_path: Path) -> None:
    assert run("--virtual", "--plan", "panel", "--no-store") == 0
    assert run("--virtual", "--plan", "panel", "--fault", "panel-dead", "--no-store") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--virtual", "--fault", "gremlins"], "unknown fault 'gremlins'"),
        (["--virtual", "--plan", "nope"], "unknown plan 'nope'"),
        (["--port", "/dev/null", "--fault", "heater-open"], "--fault needs --virtual"),
        (["--virtual", "--profile", "no-such-profile"], "no-such-profile"),
        (["--virtual", "--meter", "tcp://127.0.0.1:1"], "--meter needs --port"),
        (["--virtual", "--ambient", "99"], "--ambient must be"),
        (["--virtual", "--plan", "panel", "--fault", "heater-open"], "applies to a box"),
        (["--virtual", "--order", "3"], "--order needs --unit"),
        (["--virtual", "--answers", "/nonexistent/answers.toml"], "cannot read answers file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(*argv, "--no-store") if "--order" not in argv else run(*argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_port_and_virtual_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("--virtual", "--port", "/dev/ttyUSB9")
    assert exit_info.value.code == 2


def test_missing_port_is_an_error_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--port", "/dev/no-such-adapter", "--no-store", "--answers", "/dev/null") == 3
    assert "cannot open /dev/no-such-adapter" in capsys.readouterr().err


def test_missing_meter_is_an_error_exit_3_with_the_record_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listening at the meter's address is an instrument error like any other: the
    run is recorded (verdict error, the reason on the step), exit 3, no part named."""
    plan = tmp_path / "idle.toml"
    plan.write_text('name = "idle"\n[[step]]\nname = "standby"\ntype = "idle-power"\n')
    out = tmp_path / "run.json"
    with PtyPair() as pty:
        code = run(
            "--port",
            pty.path,
            "--meter",
            "tcp://127.0.0.1:1",
            "--speed",
            "50",
            "--profile",
            "premium-4",
            "--plan",
            str(plan),
            "--no-store",
            "--answers",
            "/dev/null",
            "--json",
            str(out),
        )
    assert code == 3
    record = json.loads(out.read_text())
    assert record["verdict"] == "error" and record["suspected_parts"] == []
    assert "meter" in record["steps"][0]["message"]
    assert "cannot open" in capsys.readouterr().out


def test_answers_file_answers_a_virtual_units_plan_prompts_the_person_the_rest(
    tmp_path: Path,
) -> None:
    """With ``--virtual`` the file answers the plan's own questions (a lid the simulation has
    no idea of) and the virtual person does the knob and looks for bubbles; a question the
    file leaves open errors its step, naming the id."""
    plan = tmp_path / "lid.toml"
    plan.write_text(
        'name = "lid"\n[[step]]\nname = "link"\ntype = "link-up"\n'
        '[[step]]\nname = "bubbles"\ntype = "bubbles"\nknob = "off"\n'
        '[[step]]\nname = "lid"\ntype = "operator-confirm"\nprompt = "lid-closed"\n'
    )
    answers = tmp_path / "answers.toml"
    answers.write_text("lid-closed = false\n")
    out = tmp_path / "run.json"
    run_it = ("--virtual", "--plan", str(plan), "--answers", str(answers), "--json", str(out))
    assert run(*run_it, "--no-store") == 1
    data = json.loads(out.read_text())
    assert data["operator"] == "virtual"
    assert [s["outcome"] for s in data["steps"]] == ["pass", "pass", "fail"]
    answers.write_text("")
    assert run(*run_it, "--no-store") == 3
    data = json.loads(out.read_text())
    assert "no answer for prompt 'lid-closed'" in data["steps"][-1]["message"]


def test_run_is_filed_in_the_records(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    with Store(db) as store:  # issue 13: a run's serial must be registered
        store.add_unit("SN-42", "premium-4", date(2026, 1, 5))
    assert (
        run(
            "--virtual",
            "--plan",
            "verify-ozone",
            "--unit",
            "SN-42",
            "--db",
            str(db),
            "--operator",
            "ana",
        )
        == 0
    )
    with Store(db) as store:
        runs = store.runs_for_unit("SN-42")
        assert len(runs) == 1
        record = store.run_record(runs[0].id)
        assert record.verdict == "pass"
        assert record.operator == "ana"
        assert [s.name for s in store.run_steps(runs[0].id)] == ["link", "ozone"]


def test_run_is_attached_to_an_order(tmp_path: Path) -> None:
    db = tmp_path / "records.sqlite3"
    with Store(db) as store:
        store.add_unit("SN-7", "premium-4", date(2026, 1, 5))
        order_id = store.open_order("SN-7", "no bubbles")
    code = run(
        "--virtual", "--fault", "blower-dead", "--plan", "verify-blower",
        "--unit", "SN-7", "--db", str(db), "--order", str(order_id), "--simulated",
    )  # fmt: skip
    assert code == 1
    with Store(db) as store:
        (info,) = store.runs_for_order(order_id)
        record = store.run_record(info.id)
    assert record.verdict == "fail"
    assert [p.part_number for p in record.suspected_parts] == ["blower"]


def test_order_of_another_unit_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "records.sqlite3"
    with Store(db) as store:
        store.add_unit("SN-7", "premium-4", date(2026, 1, 5))
        order_id = store.open_order("SN-7", "no bubbles")
    with pytest.raises(SystemExit) as exit_info:
        run(
            "--virtual", "--unit", "SN-8", "--db", str(db), "--order", str(order_id),
            "--simulated",
        )  # fmt: skip
    assert exit_info.value.code == 2
    assert "is for unit 'SN-7'" in capsys.readouterr().err


def test_unknown_order_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(
            "--virtual", "--unit", "SN-1", "--db", str(tmp_path / "r.sqlite3"), "--order", "99",
            "--simulated",
        )  # fmt: skip
    assert exit_info.value.code == 2


def test_plans_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plans"]) == 0
    listing = capsys.readouterr().out
    for name in ("full", "smoke", "panel", "verify-heater"):
        assert name in listing
    assert main(["plans", "verify-heater"]) == 0
    shown = capsys.readouterr().out
    assert "heater-draw" in shown and "1000–2600 W" in shown
    with pytest.raises(SystemExit) as exit_info:
        main(["plans", "nope"])
    assert exit_info.value.code == 2


# -- a real pseudo-terminal ---------------------------------------------------------------


class ServedBox:
    """A virtual box served on a pty under a real-time driver in a thread (what ``spasim
    serve`` does), optionally unplugged — its pty closed — at a simulated time."""

    def __init__(
        self, *, unplug_at: float | None = None, meter: bool = False, meter_delay: float = 0.0
    ) -> None:
        self.pty = PtyPair()
        self.scheduler = Scheduler()
        self.driver = RealTimeDriver(self.scheduler, speed=SPEED)
        self.port = LinkPort(self.driver, self.pty.link)
        self.box = VirtualBox(self.scheduler, self.port, "premium-4", seed=1, tank_litres=20)
        self.port.on_lost = lambda error: self.box.detach()  # as spasim serve does
        self.done = False
        self.meter: MeterServer | None = None
        if meter:
            box = self.box

            def reading() -> MeterReading:
                if meter_delay:
                    time.sleep(meter_delay)  # a meter that stalls (wall time is the point)
                return box.meter()

            self.meter = MeterServer(reading)
            self.meter.start()
        if unplug_at is not None:
            self.scheduler.call_at(unplug_at, self._unplug)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _unplug(self) -> None:
        self.driver.remove_reader(self.pty.link)
        self.pty.close()

    def _serve(self) -> None:
        self.driver.wait_until(lambda: self.done, None)

    def close(self) -> None:
        self.driver.call_soon_threadsafe(setattr, self, "done", True)
        self.thread.join(10)
        if self.meter is not None:
            self.meter.stop()
        self.pty.close()
        self.driver.close()


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    path = tmp_path / "answers.toml"
    # A served premium-4 looks like every model without variant signs on the wire: the bench
    # asks for the model plate before the run (issue 12), and the file answers it.
    path.write_text(
        'bubbles-visible = true\n"pump-running" = true\n"blower-running" = true\n'
        '"model-plate" = "premium-4"\n'
    )
    return path


@pytest.fixture
def served() -> Iterator[ServedBox]:
    box = ServedBox(meter=True)
    yield box
    box.close()


def test_smoke_over_a_pty_with_a_modbus_meter(
    served: ServedBox, answers: Path, tmp_path: Path
) -> None:
    """The lead's end-to-end shape: ``--port /dev/pts/N --meter tcp://… --plan smoke --answers``."""
    assert served.meter is not None
    out = tmp_path / "run.json"
    code = run(
        "--port", served.pty.path, "--meter", served.meter.url, "--plan", "smoke",
        "--answers", str(answers), "--speed", str(SPEED), "--json", str(out), "--no-store",
    )  # fmt: skip
    data = json.loads(out.read_text())
    assert code == 0, [(s["name"], s["message"]) for s in data["steps"] if s["outcome"] != "pass"]
    assert data["link"] == served.pty.path
    assert data["meter"] == served.meter.url
    assert any(sample["power_w"] for sample in data["trace"])


def test_a_stalling_meter_is_an_instrument_error_not_a_dead_power_board(
    answers: Path, tmp_path: Path
) -> None:
    """Issue 10: at --speed 20 a meter taking 0.25 s per reading froze the bench for 5 s of
    the unit's time; reports seemed missing and the power board was named. A stall is an
    instrument error: exit 3, the record kept, no part named."""
    box = ServedBox(meter=True, meter_delay=0.25)
    try:
        assert box.meter is not None
        out = tmp_path / "run.json"
        code = run(
            "--port", box.pty.path, "--meter", box.meter.url, "--plan", "smoke",
            "--answers", str(answers), "--speed", str(SPEED), "--json", str(out), "--no-store",
        )  # fmt: skip
    finally:
        box.close()
    data = json.loads(out.read_text())
    assert code == 3
    assert data["verdict"] == "error" and data["suspected_parts"] == []
    assert any("stalled" in step["message"] for step in data["steps"])


def test_unplugging_the_pty_mid_run_exits_3_with_steps_so_far(
    answers: Path, tmp_path: Path
) -> None:
    served = ServedBox(unplug_at=30.0)
    out = tmp_path / "run.json"
    try:
        code = run(
            "--port", served.pty.path, "--plan", "smoke", "--answers", str(answers),
            "--speed", str(SPEED), "--json", str(out), "--no-store",
        )  # fmt: skip
    finally:
        served.close()
    assert code == 3
    data = json.loads(out.read_text())
    assert data["verdict"] == "error"
    assert data["error"] == "link lost"
    outcomes = [s["outcome"] for s in data["steps"]]
    assert outcomes[0] == "pass"
    assert "error" in outcomes
    assert all(o == "skipped" for o in outcomes[outcomes.index("error") + 1 :])
