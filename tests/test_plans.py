"""Plans are data: every shipped plan loads, and every mistake in a plan file is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.testing.instruments.specs import INSTRUMENT_SETS
from bench.testing.plans import PlanError, available_plans, load_plan, parse_plan
from bench.testing.steps import STEP_TYPES
from protocols.mspa.parts import FAULT_PARTS

VERIFY_PLANS = {
    "verify-heater",
    "verify-filter-pump",
    "verify-flow-switch",
    "verify-blower",
    "verify-check-valve",
    "verify-knob",
    "verify-ozone",
    "verify-uvc",
    "verify-temp-sensor",
    "verify-power-board",
    "verify-transformer",
    "verify-prcd",
    "verify-cable",
}

GOOD_STEP = """
[[step]]
name = "link"
type = "link-up"
"""


def plan_text(step: str, header: str = 'name = "mine"\n') -> str:
    return header + GOOD_STEP + step


def test_shipped_plans_are_there() -> None:
    names = set(available_plans())
    assert {"full", "smoke", "panel"} | VERIFY_PLANS <= names


@pytest.mark.parametrize("name", available_plans())
def test_every_shipped_plan_loads_and_declares_limits(name: str) -> None:
    plan = load_plan(name)
    assert plan.name == name
    assert plan.title and plan.description
    for spec in plan.steps:
        for instruments in INSTRUMENT_SETS.values():
            declared = spec.declared(instruments)
            assert len({d.name for d in declared}) == len(declared)
        assert spec.describe()


def test_full_plan_covers_what_the_issue_lists() -> None:
    kinds = [spec.kind for spec in load_plan("full").steps]
    for kind in (
        "link-up",
        "temperature-plausible",
        "flow",
        "load-power",
        "heater-rise",
        "auto-off",
        "bubbles",
        "prcd-test",
        "fail-safe",
        "link-quality",
    ):
        assert kind in kinds
    loads = {spec.params["load"] for spec in load_plan("full").steps if spec.kind == "load-power"}
    assert loads == {"heater", "filter", "blower", "ozone", "uvc", "jets"}


def test_plan_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        plan_text('[[step]]\nname = "t"\ntype = "temperature-plausible"\nhigh = 45.0\n')
    )
    plan = load_plan(str(path))
    assert [s.name for s in plan.steps] == ["link", "t"]
    assert plan.step("t").params["high"] == 45.0
    assert plan.step("t").params["low"] == 1.0  # default filled in


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('[[step]]\nname = "x"\ntype = "rm-rf"\n', "step 2 (x): unknown step type 'rm-rf'"),
        (
            '[[step]]\nname = "x"\ntype = "flow"\nfilter = true\ncommand = "ls"\n',
            "step 2 (x): unknown key 'command' for type 'flow'",
        ),
        ('[[step]]\nname = "x"\ntype = "flow"\n', "step 2 (x): type 'flow' needs filter"),
        (
            '[[step]]\nname = "x"\ntype = "flow"\nfilter = "yes"\n',
            "step 2 (x): filter must be true or false",
        ),
        (
            '[[step]]\nname = "x"\ntype = "load-power"\nload = "toaster"\n',
            "step 2 (x): load must be one of",
        ),
        (
            '[[step]]\nname = "x"\ntype = "load-power"\nload = "blower"\nlevel = 7\n',
            "step 2 (x): level must be ≤ 3",
        ),
        ('[[step]]\nname = "link"\ntype = "wait"\nseconds = 1\n', "duplicate step name 'link'"),
        (
            '[[step]]\nname = "x"\ntype = "wait"\nseconds = 1\nsuspects = ["gremlins"]\n',
            "unknown fault id(s) gremlins",
        ),
        (
            '[[step]]\nname = "x"\ntype = "wait"\nseconds = 1\nrequires = "jacuzzi"\n',
            "requires must be one of",
        ),
        ('[[step]]\nname = "x"\ntype = "panel-key"\n', "needs a plan with role = 'box'"),
        ('[[step]]\nname = "X Y"\ntype = "wait"\nseconds = 1\n', "needs name"),
        ('[[step]]\nname = "x"\ntype = "set-loads"\n', "needs at least one load"),
        (
            '[[step]]\nname = "x"\ntype = "auto-off"\nlow = 900.0\nhigh = 600.0\n',
            "low (900) must be below high (600)",
        ),
    ],
)
def test_step_errors_name_file_and_step(step: str, message: str) -> None:
    with pytest.raises(PlanError) as error:
        parse_plan(plan_text(step), "plans/mine.toml")
    assert "plans/mine.toml" in str(error.value)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "mine"\nexec = "x"\n' + GOOD_STEP, "unknown key(s) exec"),
        ('title = "no name"\n' + GOOD_STEP, "needs name"),
        ('name = "mine"\n', "at least one [[step]]"),
        ('name = "mine"\nrole = "toaster"\n' + GOOD_STEP, "role must be one of"),
        ('name = "mine"\n[[step\n', "plans/mine.toml"),
    ],
)
def test_plan_errors(text: str, message: str) -> None:
    with pytest.raises(PlanError) as error:
        parse_plan(text, "plans/mine.toml")
    assert message in str(error.value)


def test_unknown_plan_lists_the_shipped_ones() -> None:
    with pytest.raises(PlanError, match=r"shipped plans are .*full"):
        load_plan("no-such-plan")


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(str(tmp_path / "absent.toml"))


def test_plan_suspects_must_be_catalogue_ids() -> None:
    spec = parse_plan(
        plan_text('[[step]]\nname = "x"\ntype = "wait"\nseconds = 1\nsuspects = ["heater-open"]\n'),
        "p",
    ).step("x")
    assert spec.suspects == ("heater-open",)
    assert "heater-open" in FAULT_PARTS


def test_every_step_type_documents_itself() -> None:
    for kind, step_type in STEP_TYPES.items():
        assert step_type.kind == kind
        assert step_type.summary
        for suspect in step_type.suspects:
            assert suspect in FAULT_PARTS
