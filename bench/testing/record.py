"""The test record: one per bench run, everything a service centre needs to keep.

OpenHTF's idea: a run produces exactly one record; output callbacks (JSON file, the records
store, the customer report) turn it into what each reader needs. The record is plain data —
dataclasses that round-trip through JSON (:meth:`TestRecord.to_dict` /
:meth:`TestRecord.from_dict`) — so a stored run can be re-rendered years later without the
code that produced it.

Outcomes
    measurement: ``pass`` | ``marginal`` (inside the limits but in the marginal band: flagged,
    not failed) | ``fail`` | ``unset`` (never measured, e.g. its step errored).
    step: ``pass`` | ``fail`` | ``error`` | ``skipped``.
    run verdict: ``pass`` | ``fail`` | ``error``; the records store adds ``interrupted`` for a
    run whose process died before it finished.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 2

MeasurementOutcome = Literal["pass", "marginal", "fail", "unset"]
StepOutcome = Literal["pass", "fail", "error", "skipped"]
Verdict = Literal["pass", "fail", "error", "interrupted", "running"]

MEASUREMENT_OUTCOMES: tuple[str, ...] = ("pass", "marginal", "fail", "unset")
STEP_OUTCOMES: tuple[str, ...] = ("pass", "fail", "error", "skipped")
VERDICTS: tuple[str, ...] = ("pass", "fail", "error", "interrupted", "running")


@dataclass
class Limits:
    """What a measurement must be: ``low``..``high`` (inclusive; either may be open) or
    ``expected`` exactly; values within ``marginal`` of a limit are flagged as marginal."""

    low: float | None = None
    high: float | None = None
    expected: float | str | bool | None = None
    marginal: float | None = None

    def judge(self, value: float | str | bool | None) -> MeasurementOutcome:
        if value is None:
            return "unset"
        if self.expected is not None:
            return "pass" if value == self.expected else "fail"
        if isinstance(value, str):
            return "fail"
        number = float(value)
        if math.isnan(number):
            return "fail"
        if self.low is not None and number < self.low:
            return "fail"
        if self.high is not None and number > self.high:
            return "fail"
        if self.marginal:
            if self.low is not None and number < self.low + self.marginal:
                return "marginal"
            if self.high is not None and number > self.high - self.marginal:
                return "marginal"
        return "pass"

    def text(self, unit: str = "") -> str:
        """``"1400–2100 W"``, ``"≥ 0.5 °C"``, ``"= True"``: limits as a technician reads them."""
        suffix = f" {unit}" if unit else ""
        if self.expected is not None:
            return f"= {self.expected}{suffix}"
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}{suffix}"
        if self.low is not None:
            return f"≥ {self.low:g}{suffix}"
        if self.high is not None:
            return f"≤ {self.high:g}{suffix}"
        return "recorded only"


@dataclass
class Measurement:
    """One declared measurement of a step, with its limits and what was measured."""

    name: str
    unit: str = ""
    description: str = ""
    limits: Limits = field(default_factory=Limits)
    value: float | str | bool | None = None
    outcome: MeasurementOutcome = "unset"
    at: float | None = None
    """Simulated/run clock seconds when it was taken."""

    def set(self, value: float | str | bool | None, at: float | None = None) -> MeasurementOutcome:
        self.value = value
        self.at = at
        self.outcome = self.limits.judge(value)
        return self.outcome


@dataclass
class StepResult:
    """One step of a plan as it ran."""

    name: str
    title: str
    kind: str
    outcome: StepOutcome = "skipped"
    message: str = ""
    started: float | None = None
    finished: float | None = None
    measurements: list[Measurement] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)
    """Fault ids this step's failure points to (see the fault catalogue)."""
    needs: str = ""
    """The instrument the bench lacked to judge this step ("a meter"), if that is why it was
    skipped or could not name a part."""

    def measurement(self, name: str) -> Measurement:
        for item in self.measurements:
            if item.name == name:
                return item
        raise KeyError(f"step {self.name!r} has no measurement {name!r}")


@dataclass
class SuspectedPart:
    part_number: str
    name: str
    fault_id: str = ""
    reason: str = ""


@dataclass
class FrameEntry:
    """One frame on the wire: run-clock seconds, who sent it, the 4 bytes in hex."""

    t: float
    sender: Literal["box", "remote"]
    hex: str


@dataclass
class TraceSample:
    """A point of the charts in the customer report."""

    t: float
    water_c: float | None = None
    power_w: float | None = None


@dataclass
class UnitInfo:
    serial: str = ""
    profile: str = ""
    model: str = ""


@dataclass
class TestRecord:
    """Everything about one bench run; see the README's "Test record (JSON)" section."""

    __test__ = False  # not a pytest test class despite the name

    record_id: str
    plan: str
    unit: UnitInfo = field(default_factory=UnitInfo)
    operator: str = ""
    station: str = ""
    simulated: bool = False
    """True when the unit under test is a simulation (``--virtual``, a served virtual box
    under a rehearsal operator): such a run is never evidence about a customer's box, and
    every record, history line, console view and report marks it "SIMULATED UNIT"."""
    link: str = ""
    meter: str | None = None
    instruments: str = ""
    """The bench's declared instruments (meter spec, multimeter), e.g. "sdm120: meter
    sdm120, multimeter, person"."""
    software: str = ""
    started_at: str = ""
    """Wall-clock start, ISO 8601 UTC."""
    finished_at: str | None = None
    verdict: Verdict = "running"
    error: str | None = None
    summary: str = ""
    """One line for a technician: "replace: B9300929 filter pump" or "unit OK"."""
    suspected_parts: list[SuspectedPart] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    frames: list[FrameEntry] = field(default_factory=list)
    trace: list[TraceSample] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestRecord:
        version = data.get("schema_version", SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"record schema {version} is newer than this spabench understands "
                f"({SCHEMA_VERSION}); upgrade spabench"
            )
        steps = [
            StepResult(
                **{
                    **step,
                    "measurements": [
                        Measurement(**{**m, "limits": Limits(**m.get("limits", {}))})
                        for m in step.get("measurements", [])
                    ],
                }
            )
            for step in data.get("steps", [])
        ]
        return cls(
            **{
                **data,
                "unit": UnitInfo(**data.get("unit", {})),
                "suspected_parts": [SuspectedPart(**p) for p in data.get("suspected_parts", [])],
                "steps": steps,
                "frames": [FrameEntry(**f) for f in data.get("frames", [])],
                "trace": [TraceSample(**t) for t in data.get("trace", [])],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TestRecord:
        return cls.from_dict(json.loads(text))
