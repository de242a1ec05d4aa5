"""Issue 4's proof on virtual units: healthy units pass every plan, every fault is found with
the right part, and each part's verification plan tells a repaired unit from a broken one."""

from __future__ import annotations

import time

import pytest

from bench.coverage import fault_cases_ids
from bench.plans import available_plans, load_plan
from bench.runner import Runner
from bench.target import virtual_box_target, virtual_panel_target
from spasim.profiles import available_profiles

BOX_PLANS = [name for name in available_plans() if load_plan(name).role == "remote"]
BOX_FAULTS = [spelling for spelling, role in fault_cases_ids() if role == "box"]

VERIFY_PLAN = {
    "prcd-faulty": "verify-prcd",
    "prcd-faulty:stuck-open": "verify-prcd",
    "transformer-dead": "verify-transformer",
    "power-board-dead": "verify-power-board",
    "filter-pump-dead": "verify-filter-pump",
    "flow-switch-stuck-open": "verify-flow-switch",
    "flow-switch-stuck-closed": "verify-flow-switch",
    "heater-open": "verify-heater",
    "heater-relay-welded": "verify-power-board",
    "temp-sensor-open": "verify-temp-sensor",
    "temp-sensor-short": "verify-temp-sensor",
    "blower-dead": "verify-blower",
    "check-valve-leak": "verify-check-valve",
    "knob-reed-switch-stuck": "verify-knob",
    "ozone-dead": "verify-ozone",
    "uvc-dead": "verify-uvc",
    "link-noisy": "verify-cable",
}
"""The part each fault's repair replaces → the plan that verifies it (SPEC §6)."""


def expected_parts(fault: str) -> list[str]:
    from protocols.mspa.parts import parts_for_fault

    return sorted(part.number for part in parts_for_fault(fault.partition(":")[0]))


@pytest.mark.parametrize("profile", available_profiles())
@pytest.mark.parametrize("plan_name", BOX_PLANS)
def test_healthy_box_passes_every_plan(plan_name: str, profile: str) -> None:
    target = virtual_box_target(profile, seed=len(plan_name) * 7 + len(profile))
    record = Runner(load_plan(plan_name), target).run()
    failed = [
        (s.name, s.outcome, s.message) for s in record.steps if s.outcome in ("fail", "error")
    ]
    assert record.verdict == "pass", failed
    assert record.summary == "unit OK"
    skipped = [s for s in record.steps if s.outcome == "skipped"]
    for step in skipped:  # only a part the profile lacks may be skipped
        assert step.message.startswith("no ") and step.message.endswith("fitted to this unit")


def test_concept_has_no_uvc_and_skips_it() -> None:
    record = Runner(load_plan("full"), virtual_box_target("concept-4")).run()
    uvc = next(s for s in record.steps if s.name == "uvc")
    assert uvc.outcome == "skipped"
    assert record.verdict == "pass"


@pytest.mark.parametrize("ambient", [5.0, 35.0])
@pytest.mark.parametrize("seed", [11, 12])
def test_healthy_box_passes_full_at_ambient_extremes(ambient: float, seed: int) -> None:
    record = Runner(load_plan("full"), virtual_box_target(seed=seed, ambient_c=ambient)).run()
    assert record.verdict == "pass", [s.message for s in record.steps if s.outcome != "pass"]


def test_healthy_panel_passes_and_dead_panel_fails() -> None:
    assert Runner(load_plan("panel"), virtual_panel_target()).run().verdict == "pass"
    record = Runner(load_plan("panel"), virtual_panel_target(faults=["panel-dead"])).run()
    assert record.verdict == "fail"
    assert sorted(p.part_number for p in record.suspected_parts) == expected_parts("panel-dead")


@pytest.mark.parametrize("fault", BOX_FAULTS)
def test_every_fault_fails_full_with_the_right_part(fault: str) -> None:
    record = Runner(load_plan("full"), virtual_box_target(faults=[fault], seed=3)).run()
    assert record.verdict == "fail"
    assert sorted({p.part_number for p in record.suspected_parts}) == expected_parts(fault)
    if fault == "prcd-tripped":
        assert "reset the PRCD" in record.summary
    else:
        assert record.summary.startswith("replace: ")


@pytest.mark.parametrize("fault", BOX_FAULTS)
def test_every_fault_is_found_without_a_meter(fault: str) -> None:
    """Without a meter the steps ask the (virtual) operator; the verdict must not change."""
    record = Runner(
        load_plan("full"), virtual_box_target(faults=[fault], seed=4, meter=False)
    ).run()
    assert record.verdict == "fail"
    assert sorted({p.part_number for p in record.suspected_parts}) == expected_parts(fault)


def test_healthy_box_passes_full_without_a_meter() -> None:
    record = Runner(load_plan("full"), virtual_box_target(seed=9, meter=False)).run()
    assert record.verdict == "pass"
    assert record.meter is None
    standby = next(s for s in record.steps if s.name == "standby")
    assert [m.name for m in standby.measurements] == ["loads_idle"]


@pytest.mark.parametrize("fault", sorted(VERIFY_PLAN))
def test_verify_plan_fails_with_the_fault_and_passes_once_repaired(fault: str) -> None:
    plan = load_plan(VERIFY_PLAN[fault])
    broken = Runner(plan, virtual_box_target(faults=[fault], seed=6)).run()
    assert broken.verdict == "fail"
    assert sorted({p.part_number for p in broken.suspected_parts}) == expected_parts(fault)

    target = virtual_box_target(faults=[fault], seed=6)
    box = target.world
    box.clear(fault)  # the part is replaced
    if box.prcd_tripped:
        box.press_prcd_reset()  # a new PRCD is fitted switched on
    repaired = Runner(plan, target).run()
    assert repaired.verdict == "pass", [s.message for s in repaired.steps if s.outcome != "pass"]


def test_full_plan_on_a_virtual_box_takes_seconds() -> None:
    began = time.perf_counter()
    record = Runner(load_plan("full"), virtual_box_target("aurora-urban", seed=1)).run()
    assert record.verdict == "pass"
    auto_off = next(s for s in record.steps if s.name == "auto-off")
    assert 1140 <= float(auto_off.measurement("auto_off_s").value or 0) <= 1260  # 20-min profile
    assert time.perf_counter() - began < 3.0
