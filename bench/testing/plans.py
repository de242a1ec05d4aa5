"""Test plans as data: TOML files of ordered steps, validated before anything runs.

A plan file names its steps' *types* from the step library (:mod:`bench.testing.steps`) and gives
their parameters; every key is checked (unknown keys, wrong kinds, out-of-range values,
unknown fault ids), and the error names the file and the step, so a service partner can
write plans without being able to run code through them. A step's limits default to the
bench's one table (:mod:`bench.testing.limits`, which the console's checks judge by too); a
plan writes a number only to judge differently from it.

Shipped plans live in ``bench/testing/plans/*.toml``; a user plan is loaded by path the same way::

    name = "verify-heater"
    title = "Heater replaced"
    role = "remote"            # the bench plays the remote ("box": it plays the box, for a panel)

    [[step]]
    name = "link"
    type = "link-up"
    stop_on_fail = "no link: nothing else can run"

    [[step]]
    name = "heater-draw"
    type = "load-power"
    load = "heater"
    low = 1000.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bench.testing.instruments.specs import DEFAULT_INSTRUMENTS, Instruments
from bench.testing.steps import OPTIONAL_PARTS, STEP_TYPES, Declared, StepType
from bench.testing.steps.base import REQUIRED
from protocols.files import InputFileError, parse_toml, read_text_file
from protocols.mspa.parts import FAULT_PARTS

PLAN_KEYS = ("name", "title", "description", "role", "verifies", "step")
STEP_KEYS = ("name", "type", "title", "stop_on_fail", "suspects", "requires")
ROLES = ("remote", "box")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class PlanError(ValueError):
    """A plan that cannot be loaded; the message names the file and the step."""


@dataclass(frozen=True)
class StepSpec:
    """One step of a plan as the file gives it, validated."""

    name: str
    type: StepType
    title: str
    params: dict[str, Any]
    stop_on_fail: str | None = None
    suspects: tuple[str, ...] | None = None
    requires: str | None = None

    @property
    def kind(self) -> str:
        return self.type.kind

    def needs(self) -> str | None:
        """The optional part this step needs (the plan's ``requires`` or the type's)."""
        return self.requires or self.type.requires(self.params)

    def declared(self, instruments: Instruments = DEFAULT_INSTRUMENTS) -> list[Declared]:
        return self.type.declare(self.params, instruments)

    def unmeasurable(self, instruments: Instruments) -> str | None:
        """What this step needs that the bench lacks (it is then skipped), or None."""
        return self.type.unmeasurable(self.params, instruments)

    def describe(self) -> str:
        return self.type.describe(self.params)


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    description: str
    role: str
    steps: tuple[StepSpec, ...]
    source: str = ""
    verifies: tuple[str, ...] = ()
    """Faults this plan exists to rule out (a part's verification): on a bench that cannot
    check one of them the plan refuses to run instead of passing without checking."""

    def step(self, name: str) -> StepSpec:
        for spec in self.steps:
            if spec.name == name:
                return spec
        raise KeyError(f"plan {self.name!r} has no step {name!r}")

    def check_instruments(self, instruments: Instruments) -> None:
        """Refuse what this bench cannot honestly run (:class:`PlanError` names the plan,
        the step and why): watt limits the plan wrote that are tighter than the declared
        meter resolves (they would fail good units or pass bad ones by chance), and a
        verification whose part the bench cannot check at all. Default limits are not
        refused: a step then judges another way (a person, the water) or is skipped."""
        for fault in self.verifies:
            checks = [step for step in self.steps if fault in step.type.clears(step.params)]
            if checks and all(step.unmeasurable(instruments) for step in checks):
                need = checks[0].unmeasurable(instruments)
                raise PlanError(
                    f"plan {self.name} cannot verify {fault} on this bench "
                    f"({instruments.describe()}): every check of it needs {need}"
                )
        spec = instruments.meter
        if spec is None:
            return
        for index, step in enumerate(self.steps, start=1):
            written = step.type.written_limits(step.params)
            if written is None:
                continue
            name, low, high, change = written
            problem = spec.limit_problem(low, high, change=change)
            if problem is not None:
                raise PlanError(
                    f"plan {self.source or self.name}: step {index} ({step.name}): {name} {problem}"
                )

    def blind_to(self, instruments: Instruments) -> dict[str, str]:
        """Faults this plan declares it cannot find on a bench with ``instruments``, each with
        the instrument that would find it."""
        blind: dict[str, str] = {}
        for step in self.steps:
            for fault, need in step.type.blind_to(step.params, instruments).items():
                blind.setdefault(fault, need)
        return blind


def _plans_dir() -> Any:
    return resources.files("bench.testing") / "plans"


def available_plans() -> list[str]:
    """Names of the shipped plans."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _plans_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def load_plan(name_or_path: str | Path) -> Plan:
    """A shipped plan by name, or a plan file by path; :class:`PlanError` says what is wrong.

    A plan file may not take a shipped plan's name unless it is that plan word for word: runs
    are filed under their plan's name, and a repair is verified by the shipped plan of that
    name (:mod:`bench.records.verification`), so a one-step file called ``full`` would
    otherwise count as the full test.
    """
    text_name = str(name_or_path)
    path = Path(text_name)
    if text_name.endswith(".toml") or "/" in text_name or path.exists():
        try:
            text = read_text_file(path, "plan file")
        except InputFileError as error:
            raise PlanError(str(error)) from None
        plan = parse_plan(text, str(path))
        shipped = _plans_dir() / f"{plan.name}.toml"
        if shipped.is_file() and shipped.read_text(encoding="utf-8") != text:
            raise PlanError(
                f"plan file {path}: {plan.name!r} is the name of a shipped plan; give your plan "
                "a name of its own (runs are filed, and repairs verified, by a plan's name)"
            )
        return plan
    resource = _plans_dir() / f"{text_name}.toml"
    if not resource.is_file():
        raise PlanError(
            f"unknown plan {text_name!r}: shipped plans are {', '.join(available_plans())} "
            "(or give a path to a .toml file)"
        )
    return parse_plan(resource.read_text(encoding="utf-8"), f"bench/testing/plans/{text_name}.toml")


def parse_plan(text: str, source: str) -> Plan:
    try:
        data = parse_toml(text, f"plan file {source}")
    except InputFileError as error:
        raise PlanError(str(error)) from None
    unknown = sorted(set(data) - set(PLAN_KEYS))
    if unknown:
        raise PlanError(
            f"plan file {source}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(PLAN_KEYS)})"
        )
    name = _text(data, "name", source, "plan")
    if not _NAME.match(name):
        raise PlanError(f"plan file {source}: name {name!r} must be lower-case letters, digits, -")
    role = data.get("role", "remote")
    if role not in ROLES:
        raise PlanError(f"plan file {source}: role must be one of {', '.join(ROLES)}, got {role!r}")
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PlanError(f"plan file {source}: a plan needs at least one [[step]]")
    steps: list[StepSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_steps, start=1):
        spec = _parse_step(raw, index, source, role)
        if spec.name in seen:
            raise PlanError(f"plan file {source}: step {index}: duplicate step name {spec.name!r}")
        seen.add(spec.name)
        steps.append(spec)
    verifies = _fault_ids(data.get("verifies", []), f"plan file {source}", "verifies")
    return Plan(
        name=name,
        title=_text(data, "title", source, "plan", default=name),
        description=_text(data, "description", source, "plan", default=""),
        role=role,
        steps=tuple(steps),
        source=source,
        verifies=tuple(verifies),
    )


def _text(
    data: dict[str, Any], key: str, source: str, where: str, default: str | None = None
) -> str:
    value = data.get(key, default)
    if value is None:
        raise PlanError(f'plan file {source}: {where} needs {key} = "..."')
    if not isinstance(value, str):
        raise PlanError(f"plan file {source}: {where} {key} must be text, got {value!r}")
    return value


def _fault_ids(value: Any, prefix: str, key: str) -> list[str]:
    """``value`` as a list of catalogue fault ids; :class:`PlanError` says what is wrong."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PlanError(f"{prefix}: {key} must be a list of fault ids")
    bad = [item for item in value if item not in FAULT_PARTS]
    if bad:
        raise PlanError(f"{prefix}: unknown fault id(s) {', '.join(bad)} in {key}")
    return value


def _parse_step(raw: Any, index: int, source: str, role: str) -> StepSpec:
    where = f"step {index}"
    if not isinstance(raw, dict):
        raise PlanError(f"plan file {source}: {where} must be a table ([[step]])")
    name = raw.get("name")
    if isinstance(name, str):
        where = f"step {index} ({name})"
    prefix = f"plan file {source}: {where}"
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise PlanError(f'{prefix}: needs type = "..." (one of {", ".join(STEP_TYPES)})')
    step_type = STEP_TYPES.get(kind)
    if step_type is None:
        raise PlanError(f"{prefix}: unknown step type {kind!r} (known: {', '.join(STEP_TYPES)})")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PlanError(f'{prefix}: needs name = "..." (lower-case letters, digits, -)')
    if step_type.role not in ("any", role):
        raise PlanError(f"{prefix}: step type {kind!r} needs a plan with role = {step_type.role!r}")
    allowed = step_type.param_map()
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in STEP_KEYS:
            continue
        param = allowed.get(key)
        if param is None:
            known = ", ".join([*STEP_KEYS, *allowed]) or "none"
            raise PlanError(f"{prefix}: unknown key {key!r} for type {kind!r} (allowed: {known})")
        try:
            params[key] = param.check(value)
        except ValueError as error:
            raise PlanError(f"{prefix}: {key} {error}") from None
    for key, param in allowed.items():
        if key not in params:
            if param.default is REQUIRED:
                raise PlanError(f"{prefix}: type {kind!r} needs {key} ({param.doc})")
            params[key] = param.default
    low, high = params.get("low"), params.get("high")
    if isinstance(low, int | float) and isinstance(high, int | float) and low >= high:
        raise PlanError(f"{prefix}: low ({low:g}) must be below high ({high:g})")
    try:
        step_type.validate(params)
    except ValueError as error:
        raise PlanError(f"{prefix}: {error}") from None
    title = raw.get("title", name)
    stop = raw.get("stop_on_fail")
    suspects = raw.get("suspects")
    requires = raw.get("requires")
    if not isinstance(title, str):
        raise PlanError(f"{prefix}: title must be text")
    if stop is not None and (not isinstance(stop, str) or not stop):
        raise PlanError(f"{prefix}: stop_on_fail must be the reason, as text")
    if suspects is not None:
        suspects = _fault_ids(suspects, prefix, "suspects")
    if requires is not None and requires not in OPTIONAL_PARTS:
        raise PlanError(f"{prefix}: requires must be one of {', '.join(OPTIONAL_PARTS)}")
    return StepSpec(
        name=name,
        type=step_type,
        title=title,
        params=params,
        stop_on_fail=stop,
        suspects=None if suspects is None else tuple(suspects),
        requires=requires,
    )
