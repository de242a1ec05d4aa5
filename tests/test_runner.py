"""The runner's rules, the operator plugs and the diagnosis, on virtual boxes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.testing.diagnosis import diagnose, explain
from bench.testing.instruments.operator import (
    AnswersOperator,
    OperatorError,
    TerminalOperator,
    answerable_prompts,
)
from bench.testing.plans import load_plan, parse_plan
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks, Runner, resolve_suspects
from bench.testing.steps import StepRun
from bench.testing.targets import virtual_box_target
from protocols.links import LinkLost

LINK = """
[[step]]
name = "link"
type = "link-up"
stop_on_fail = "no link: nothing else can run"
"""


def user_plan(body: str) -> str:
    return 'name = "mine"\n' + LINK + body


class Recorder(NoHooks):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_started(self, record: TestRecord) -> None:
        self.events.append("started")

    def on_step_finished(self, step: StepResult) -> None:
        self.events.append(f"{step.name}:{step.outcome}")

    def on_finished(self, record: TestRecord) -> None:
        self.events.append(f"finished:{record.verdict}")


def test_hooks_see_every_step_and_the_end() -> None:
    plan = load_plan("verify-ozone")
    hooks = Recorder()
    record = Runner(plan, virtual_box_target(seed=2), hooks=[hooks]).run()
    assert record.verdict == "pass"
    assert hooks.events == ["started", "link:pass", "ozone:pass", "finished:pass"]
    assert record.summary == "unit OK"
    assert record.frames and {f.sender for f in record.frames} == {"box", "remote"}
    assert record.trace and any(sample.power_w for sample in record.trace)
    assert TestRecord.from_json(record.to_json()) == record


def test_stop_on_fail_skips_the_rest_with_the_reason() -> None:
    plan = parse_plan(
        user_plan(
            """
[[step]]
name = "too-hot"
type = "temperature-plausible"
high = 2.0
stop_on_fail = "cannot trust the sensor"

[[step]]
name = "pump"
type = "load-power"
load = "filter"
"""
        ),
        "mine.toml",
    )
    record = Runner(plan, virtual_box_target(ambient_c=20.0)).run()
    outcomes = [(s.name, s.outcome) for s in record.steps]
    assert outcomes == [("link", "pass"), ("too-hot", "fail"), ("pump", "skipped")]
    assert record.steps[2].message == "cannot trust the sensor"
    assert record.verdict == "fail"


def test_a_failing_step_without_stop_on_fail_does_not_stop_the_plan() -> None:
    plan = parse_plan(
        user_plan(
            """
[[step]]
name = "too-hot"
type = "temperature-plausible"
high = 2.0

[[step]]
name = "pump"
type = "load-power"
load = "filter"
"""
        ),
        "mine.toml",
    )
    record = Runner(plan, virtual_box_target()).run()
    assert [s.outcome for s in record.steps] == ["pass", "fail", "pass"]


def test_link_lost_mid_run_keeps_what_was_measured() -> None:
    target = virtual_box_target(seed=5)
    assert target.cable is not None
    cable = target.cable

    def unplug(data: bytes) -> bytes:
        raise LinkLost("adapter unplugged")

    # Unplug 40 s into the run: the bench's next frame finds no adapter.
    target.driver.scheduler.call_at(40.0, lambda: setattr(cable.remote, "hook", unplug))
    record = Runner(load_plan("full"), target).run()
    outcomes = [s.outcome for s in record.steps]
    lost = outcomes.index("error")
    assert all(o == "pass" for o in outcomes[:lost])
    assert lost >= 1
    assert all(o == "skipped" for o in outcomes[lost + 1 :])
    assert record.verdict == "error"
    assert record.error == "link lost"
    assert "link lost" in record.steps[lost].message
    assert record.steps[0].measurement("handshake").value is True
    assert record.frames


def _lost_quietly(target_seed: int, at: float) -> tuple[TestRecord, list[LinkLost]]:
    """Run ``full`` on a port that reports its loss to a callback instead of raising (what
    the console sets up so a lost adapter never crashes it)."""
    target = virtual_box_target(seed=target_seed)
    assert target.cable is not None
    port = target.cable.remote
    reported: list[LinkLost] = []
    port.on_lost = reported.append
    target.driver.scheduler.call_at(at, port._lose, LinkLost("adapter unplugged"))
    return Runner(load_plan("full"), target).run(), reported


def test_a_quietly_lost_port_still_ends_the_run_as_link_lost() -> None:
    record, reported = _lost_quietly(6, 40.0)
    assert reported, "the port told its callback"
    outcomes = [s.outcome for s in record.steps]
    lost = outcomes.index("error")
    assert all(o == "skipped" for o in outcomes[lost + 1 :])
    assert record.verdict == "error" and record.error == "link lost"


def test_link_up_does_not_pass_on_a_port_lost_before_the_plan() -> None:
    """A handshake done before the loss proves nothing about the unit now."""
    record, _ = _lost_quietly(7, 0.0)
    assert record.steps[0].outcome != "pass"
    assert record.verdict == "error"
    assert not any(s.outcome == "pass" for s in record.steps)


def test_required_part_missing_skips_the_step() -> None:
    record = Runner(load_plan("verify-uvc"), virtual_box_target("concept-4")).run()
    assert [s.outcome for s in record.steps] == ["pass", "skipped"]
    assert record.steps[1].message == "no uvc fitted to this unit"
    assert record.verdict == "pass"


def test_answers_file_operator(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    path.write_text('bubbles-visible = true\n"prcd-test" = "done"\nwatts = 12.5\n')
    # "watts" is a prompt of the plan's own (the file is checked against the prompts a run
    # can ask: the bench's and the plan's)
    operator = AnswersOperator.from_file(path, prompts=answerable_prompts({"watts": "number"}))
    assert operator.confirm("bubbles-visible", "?") is True
    operator.act("prcd-test", "press it")
    assert operator.number("watts", "?", "W") == 12.5
    with pytest.raises(OperatorError, match="no answer for prompt 'prcd-light'"):
        operator.confirm("prcd-light", "?")
    with pytest.raises(OperatorError, match="must be true or false"):
        operator.confirm("watts", "?")
    with pytest.raises(OperatorError, match="must be a number"):
        operator.number("bubbles-visible", "?", "W")


def test_answers_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read answers file"):
        AnswersOperator.from_file(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [1, 2]\n")
    with pytest.raises(ValueError, match="answer 'x' must be"):
        AnswersOperator.from_file(bad)


def test_missing_answer_errors_the_step_and_names_the_prompt() -> None:
    operator = AnswersOperator({}, source="answers.toml")
    record = Runner(load_plan("verify-knob"), virtual_box_target(operator=operator)).run()
    assert [s.outcome for s in record.steps] == ["pass", "error", "error"]
    assert "no answer for prompt 'knob-off' in answers.toml" in record.steps[1].message
    assert record.verdict == "error"


def test_answers_operator_drives_a_plan() -> None:
    operator = AnswersOperator({"knob-off": True, "bubbles-visible": True})
    record = Runner(load_plan("verify-blower"), virtual_box_target(operator=operator)).run()
    assert record.verdict == "pass"
    assert operator.asked == ["knob-off", "bubbles-visible"]


def test_terminal_operator_without_a_terminal_errors() -> None:
    operator = TerminalOperator(interactive=False)
    with pytest.raises(OperatorError, match="operator needed: Is the light on"):
        operator.confirm("prcd-light", "Is the light on?")


def _step(name: str, suspects: list[str]) -> StepResult:
    return StepResult(name, name, "x", outcome="fail", message="m", suspects=suspects)


def test_explain_prefers_the_fault_that_explains_most() -> None:
    failed = [
        _step("pump", ["filter-pump-dead"]),
        _step("heater", ["filter-pump-dead", "flow-switch-stuck-open"]),
        _step("rise", ["filter-pump-dead", "flow-switch-stuck-open"]),
    ]
    assert [fault for fault, _ in explain(failed, set())] == ["filter-pump-dead"]


def test_explain_drops_cleared_suspects_and_keeps_unexplained_failures() -> None:
    failed = [
        _step("heater", ["filter-pump-dead", "flow-switch-stuck-open"]),
        _step("ozone", ["ozone-dead"]),
    ]
    chosen = explain(failed, {"filter-pump-dead"})
    assert [fault for fault, _ in chosen] == ["flow-switch-stuck-open", "ozone-dead"]
    # Evidence that clears every suspect does not hide the failure.
    assert [f for f, _ in explain([_step("a", ["heater-open"])], {"heater-open"})] == [
        "heater-open"
    ]


def test_diagnosis_summary_lines() -> None:
    record = TestRecord("r", "full", verdict="fail", steps=[_step("pump", ["filter-pump-dead"])])
    assert diagnose(record).summary == "replace: B9300929 filter pump"
    record = TestRecord("r", "full", verdict="fail", steps=[_step("link", ["prcd-tripped"])])
    finding = diagnose(record)
    assert finding.parts == [] and finding.faults == ["prcd-tripped"]
    assert "reset the PRCD" in finding.summary
    record = TestRecord("r", "full", verdict="pass")
    assert diagnose(record).summary == "unit OK"
    record = TestRecord("r", "full", verdict="error", error="link lost")
    assert diagnose(record).summary == "error: link lost — no verdict, no part named"
    # An ERROR verdict names no part even when a step failed before the error.
    record = TestRecord(
        "r", "full", verdict="error", error="x", steps=[_step("pump", ["filter-pump-dead"])]
    )
    assert diagnose(record).parts == []


def test_plan_suspects_refine_the_step_type() -> None:
    plan = parse_plan(
        user_plan(
            '[[step]]\nname = "h"\ntype = "load-power"\nload = "heater"\n'
            'suspects = ["heater-open", "power-board-dead"]\n'
        ),
        "p",
    )
    spec = plan.step("h")
    target = virtual_box_target()
    run = StepRun(StepResult("h", "h", "load-power"), spec.params, None)  # type: ignore[arg-type]
    assert resolve_suspects(spec, run) == ["heater-open", "power-board-dead"]
    run.suspect("heater-open")
    assert resolve_suspects(spec, run) == ["heater-open"]
    run.suspect("filter-pump-dead")
    assert resolve_suspects(spec, run) == ["filter-pump-dead"]
    target.close()
