"""Proof (issue 12, deliverable 7): ``spabench run --port … --plan full`` against a served box,
the operator's prompts done through the control channel (``--operator control://…``).

A served box (``spasim serve`` in its own process, on a pty or TCP, with its virtual meter
and its control channel) is tested by the bench exactly as a returned box would be: the
plan's PRCD TEST/RESET, knob and "do you see bubbles?" prompts are done by the rehearsal
operator through the channel. Healthy boxes of every shipped model pass ``full`` over a pty;
a fault broken into the box through the channel before the run is named with its part (the
fault → part map of :mod:`protocols.mspa.parts`, SPEC §5); a fault broken in mid-run is
noticed by the steps after it. Wall times of the full runs are printed (``-s``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.testing.instruments.operator import RehearsalOperator
from bench.testing.plans import load_plan
from bench.testing.record import StepResult
from bench.testing.runner import NoHooks, Runner
from bench.testing.targets import real_target
from protocols.control import ControlClient
from protocols.mspa.models import available_models
from protocols.mspa.parts import parts_for_fault
from spasim.pytest_plugin import ServedUnit
from tests.cli_runner import spabench
from tests.test_control import announced

SPEED = 100.0
"""Fast enough for the full plan (~800–1400 simulated seconds) in ~10 wall seconds, well
inside what ``spasim serve`` keeps up with (SPEED_RANGE, benchmarks/flood.py). At 200× a
loaded machine (a full test run beside other work) stretched aurora-urban's 20-minute
auto-off to 1320 s: a meter read that stalls 0.5 s wall is 100 s simulated."""
FLOW_FAULT_SPEED = 40.0
"""A box without full flow goes through F1 and its reset: the box reports 08 03 for
``errors_f1_reset_report_s`` (2 s) after the 0B 00, which is 50 ms of wall time here — at
200× (10 ms) one scheduling hiccup put the reports outside the window the bench judges."""
FLOW_FAULTS = frozenset(
    ("filter-pump-dead", "flow-switch-stuck-open", "inlet-flow-switch-stuck-open",
     "outlet-flow-switch-stuck-open")
)  # fmt: skip


@dataclass
class Served:
    unit: ServedUnit
    meter: str
    control: str
    speed: float


TCP_SPEED = 20.0
"""A served box on TCP is read by the bench through pyserial's ``socket://``, which has no
descriptor to wait on: the bench polls it, and at 100× (measured; 20× is fine) the polling
splits frames into pieces the decoder drops (the link-quality step then fails on a healthy
box, with or without the control channel). The TCP proofs run short operator plans at this
speed."""


def serve_box(
    launch: Callable[..., ServedUnit],
    model: str,
    transport: str = "pty",
    speed: float = SPEED,
) -> Served:
    where = ["--pty"] if transport == "pty" else ["--tcp", "127.0.0.1:0"]
    unit = launch(
        *where, "--meter-tcp", "0", "--control", "127.0.0.1:0", "--profile", model,
        "--tank-litres", "20", transport=transport, speed=speed,
    )  # fmt: skip
    meter = announced(unit, "meter on ")
    control = announced(unit, "control on ")
    return Served(unit, meter, control, speed)


def run_bench(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    served: Served,
    model: str,
    plan: str = "full",
) -> tuple[int, dict[str, object]]:
    report = tmp_path / f"{model}-{plan}.json"
    code, out, err = spabench(
        capsys,
        "run", "--port", served.unit.url, "--meter", served.meter, "--speed", str(served.speed),
        "--operator", f"control://{served.control}", "--profile", model, "--plan", plan,
        "--no-store", "--json", str(report),
    )  # fmt: skip
    assert report.exists(), (code, out[-3000:], err)
    return code, json.loads(report.read_text())


def failed_steps(record: dict[str, object]) -> list[tuple[str, str]]:
    steps = record["steps"]
    assert isinstance(steps, list)
    return [(s["name"], s["message"]) for s in steps if s["outcome"] not in ("pass", "skipped")]


@pytest.mark.parametrize("model", available_models())
def test_full_plan_passes_on_a_healthy_served_box_over_a_pty(
    launch: Callable[..., ServedUnit],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model: str,
) -> None:
    served = serve_box(launch, model)
    started = time.monotonic()
    code, record = run_bench(capsys, tmp_path, served, model)
    took = time.monotonic() - started
    with capsys.disabled():
        print(f"\nfull plan, {model}, pty, speed {SPEED:g}: {took:.1f} s wall")
    assert (code, record["verdict"]) == (0, "pass"), failed_steps(record)
    assert record["operator"] == f"rehearsal control://{served.control}"
    asked = {step["name"] for step in record["steps"]}  # type: ignore[union-attr]
    assert {"prcd", "bubbles", "knob"} <= asked


@pytest.mark.parametrize("plan", ["verify-prcd", "verify-knob"])
def test_operator_plans_pass_over_tcp(
    launch: Callable[..., ServedUnit],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    plan: str,
) -> None:
    """PRCD TEST/RESET and the knob's bubbles, done through the channel, on a box on TCP."""
    served = serve_box(launch, "elite-6", "tcp", speed=TCP_SPEED)
    code, record = run_bench(capsys, tmp_path, served, "elite-6", plan)
    assert (code, record["verdict"]) == (0, "pass"), failed_steps(record)


FAULT_CASES = [
    # (fault injected through the channel, plan, model) — one line each.
    ("prcd-faulty", "full", "premium-4"),
    ("check-valve-leak", "full", "premium-4"),
    ("filter-pump-dead", "verify-filter-pump", "premium-4"),
    ("flow-switch-stuck-open", "verify-flow-switch", "premium-4"),
    ("inlet-flow-switch-stuck-open", "verify-flow-switch", "premium-4"),
    ("outlet-flow-switch-stuck-open", "verify-flow-switch", "super-camaro"),
    ("jet-pump-dead", "full", "elite-6"),
    ("heater-open", "verify-heater", "series-d"),
    ("uvc-dead", "verify-uvc", "series-d"),
    ("blower-dead", "verify-blower", "premium-4"),
    ("transformer-dead", "full", "premium-4"),
]


@pytest.mark.parametrize(("fault", "plan", "model"), FAULT_CASES)
def test_a_fault_injected_through_the_channel_is_named_with_its_part(
    launch: Callable[..., ServedUnit],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    fault: str,
    plan: str,
    model: str,
) -> None:
    served = serve_box(launch, model, speed=FLOW_FAULT_SPEED if fault in FLOW_FAULTS else SPEED)
    with ControlClient(served.control) as client:
        client.request(f"inject {fault}")
    code, record = run_bench(capsys, tmp_path, served, model, plan)
    assert (code, record["verdict"]) == (1, "fail"), record.get("error")
    suspects = record["suspected_parts"]
    assert isinstance(suspects, list)
    named = {(s["fault_id"], s["part_number"]) for s in suspects}
    expected = {(fault, part.number) for part in parts_for_fault(fault)}
    assert expected <= named, suspects


class InjectAfter(NoHooks):
    """A bridge's CI breaking the box mid-run: ``inject`` through the channel as soon as the
    bench has finished step ``after``."""

    def __init__(self, control: str, after: str, fault: str) -> None:
        self.control, self.after, self.fault = control, after, fault
        self.injected_at: str | None = None

    def on_step_finished(self, step: StepResult) -> None:
        if step.name == self.after:
            with ControlClient(self.control) as client:
                client.request(f"inject {self.fault}")
            self.injected_at = step.name


def test_a_fault_injected_mid_run_is_noticed(launch: Callable[..., ServedUnit]) -> None:
    """The filter pump dies after the bench has seen flow: the steps after it (heater,
    heater rise) fail and the diagnosis names the pump; the steps before it passed."""
    model = "premium-4"
    served = serve_box(launch, model)
    operator = RehearsalOperator(served.control)
    target = real_target(
        served.unit.url,
        operator=operator,
        meter_url=served.meter,
        profile=model,
        speed=SPEED,
    )
    target.closers.insert(0, operator.close)
    hook = InjectAfter(served.control, "flow", "filter-pump-dead")
    try:
        record = Runner(load_plan("full"), target, hooks=[hook]).run()
    finally:
        target.close()
    assert hook.injected_at == "flow"
    outcomes = {step.name: step.outcome for step in record.steps}
    assert outcomes["pump-draw"] == "pass" and outcomes["flow"] == "pass"
    assert outcomes["heater-draw"] == "fail"
    assert record.verdict == "fail"
    assert "filter-pump-dead" in {s.fault_id for s in record.suspected_parts}


def test_a_rehearsal_loads_no_simulator(launch: Callable[..., ServedUnit], tmp_path: Path) -> None:
    """``spabench run --operator control://…`` is the bench's real path: the rehearsal
    operator reaches the box through :mod:`protocols.control` only, so not one :mod:`spasim`
    module is loaded in the bench's interpreter (the rule of tests/test_architecture.py)."""
    from tests.test_architecture import _RUN_COMMANDS, _in_fresh_interpreter

    served = serve_box(launch, "premium-4", "pty")
    commands = [
        [
            "run", "--port", served.unit.url, "--meter", served.meter, "--speed", str(SPEED),
            "--operator", f"control://{served.control}", "--profile", "premium-4",
            "--plan", "verify-prcd", "--no-store",
        ],
        ["run", "--virtual", "--operator", f"control://{served.control}", "--no-store"],
    ]  # fmt: skip
    outcome = _in_fresh_interpreter(tmp_path, _RUN_COMMANDS, json.dumps(commands))
    assert outcome["codes"] == [0, 2], outcome["stdout"][-3000:]
    assert outcome["spasim"] == []


def test_a_rehearsal_without_its_channel_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = spabench(
        capsys, "run", "--port", "loop://", "--operator", f"control://127.0.0.1:{port}",
        "--plan", "verify-prcd", "--no-store",
    )  # fmt: skip
    assert code == 3 and "operator: control channel 127.0.0.1" in err, err
    code, _, err = spabench(
        capsys, "run", "--port", "loop://", "--operator", "control://127.0.0.1:1",
        "--answers", str(tmp_path / "a.toml"), "--no-store",
    )  # fmt: skip
    assert code == 2 and "--answers and --operator control://" in err, err
