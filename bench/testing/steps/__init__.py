"""The library of step types a plan may use, by the name plans call them (``type = "..."``).

Plans are data: a plan file can only pick types from this registry and give them validated
parameters, so nothing in a plan file is ever executed.
"""

from __future__ import annotations

from bench.testing.steps import link_steps, load_steps, operator_steps, panel_steps, timed_steps
from bench.testing.steps.base import (
    OPTIONAL_PARTS,
    Declared,
    Param,
    StepContext,
    StepError,
    StepFailure,
    StepRun,
    StepSkipped,
    StepType,
)

STEP_TYPES: dict[str, StepType] = {
    step.kind: step
    for module in (link_steps, load_steps, timed_steps, operator_steps, panel_steps)
    for step in module.STEP_TYPES
}

__all__ = [
    "OPTIONAL_PARTS",
    "STEP_TYPES",
    "Declared",
    "Param",
    "StepContext",
    "StepError",
    "StepFailure",
    "StepRun",
    "StepSkipped",
    "StepType",
]
