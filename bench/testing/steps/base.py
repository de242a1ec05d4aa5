"""What every step type is made of: declared parameters, declared measurements, a run.

A plan file names a step *type* and gives it parameters; the type checks them (nothing in a
plan is executed, only validated data), declares the measurements the step will take with
their limits (so ``spabench plans NAME`` can show limits before anything runs), and runs
against a :class:`StepContext` — the instruments and the clock, nothing else.

Each type also knows what its result means for diagnosis: which fault ids a failure points to
(``suspects``; a step may narrow them from what it measured) and which faults a *pass* rules
out (``clears``). :mod:`bench.testing.diagnosis` combines both over the whole run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bench.testing.instruments.link import BoxRoleLink, RemoteLink
from bench.testing.instruments.meter import Meter
from bench.testing.instruments.operator import PROMPTS, Operator
from bench.testing.instruments.specs import DEFAULT_INSTRUMENTS, Instruments
from bench.testing.limits import POWER_READ_SPACING_S, POWER_READS
from bench.testing.record import Limits, Measurement, StepResult
from protocols.driver import Driver
from protocols.links import LinkLost

REQUIRED: Any = object()
"""Default of a parameter the plan must give."""

OPTIONAL_PARTS: tuple[str, ...] = ("ozone", "uvc", "jet")
"""Parts a profile may lack; steps that need one declare ``requires``."""


class StepFailure(Exception):
    """Internal to a step: stop measuring here, the step has failed (message says why)."""


class StepError(Exception):
    """The step could not be carried out (an instrument or the operator was missing)."""


class StepSkipped(Exception):
    """Internal to a step: the check does not apply to this unit (message says why); the
    step is ``skipped``, neither passed nor failed. Raised before the step changes
    anything on the unit."""


@dataclass(frozen=True)
class Param:
    """One parameter a plan may (or must) give a step type."""

    name: str
    kind: str
    """``bool`` | ``int`` | ``float`` | ``str`` | ``str-list``."""
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.kind in ("int", "float") and self.maximum is None:
            # A plan is user input: every number has a documented range (issue 10), or a
            # "wait 1e9 s" runs for ever.
            raise AssertionError(f"numeric parameter {self.name!r} needs a maximum")

    def check(self, value: Any) -> Any:
        """The value converted to the parameter's kind; ``ValueError`` says what is wrong."""
        kind = self.kind
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"must be true or false, got {value!r}")
        elif kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"must be a number, got {value!r}")
            if kind == "int" and not isinstance(value, int):
                raise ValueError(f"must be a whole number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"must be finite, got {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be ≥ {self.minimum:g}, got {value!r}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"must be ≤ {self.maximum:g}, got {value!r}")
            value = float(value) if kind == "float" else int(value)
        elif kind == "str":
            if not isinstance(value, str):
                raise ValueError(f"must be text, got {value!r}")
        elif kind == "str-list":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"must be a list of text, got {value!r}")
            value = list(value)
        else:  # pragma: no cover - a programming error in a step type
            raise AssertionError(f"unknown parameter kind {kind}")
        if self.choices and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise ValueError(f"must be one of {allowed}, got {value!r}")
        return value


Params = Mapping[str, Any]


@dataclass(frozen=True)
class Declared:
    """A measurement a step will take, as shown before the run."""

    name: str
    unit: str = ""
    description: str = ""
    limits: Limits = field(default_factory=Limits)
    change: bool = False
    """A difference of two meter readings (a load against its baseline), not one reading."""

    def new(self) -> Measurement:
        return Measurement(
            self.name,
            self.unit,
            self.description,
            Limits(self.limits.low, self.limits.high, self.limits.expected, self.limits.marginal),
        )


class StepContext:
    """What a running step may use: the clock (through the driver) and the instruments.

    ``link`` is set when the bench plays the remote of a box, ``box`` when it plays the box
    for a panel. Waits go through :meth:`wait`/:meth:`wait_for`, which move in one-second
    slices so the live display can show progress and the run's trace gets its samples.
    """

    def __init__(
        self,
        driver: Driver,
        *,
        link: RemoteLink | None = None,
        box_role: BoxRoleLink | None = None,
        meter: Meter | None = None,
        operator: Operator,
        instruments: Instruments | None = None,
        fitted: Callable[[str], bool | None] | None = None,
        on_progress: Callable[[str, float, float], None] | None = None,
        on_sample: Callable[[], None] | None = None,
        start: float | None = None,
    ) -> None:
        self.driver = driver
        self.link_or_none = link
        self.box_role_or_none = box_role
        self.meter = meter
        self.operator = operator
        self.instruments = instruments or (
            DEFAULT_INSTRUMENTS if meter is not None else DEFAULT_INSTRUMENTS.with_meter(None)
        )
        self._fitted = fitted
        self.on_progress = on_progress
        self.on_sample = on_sample
        self.start = driver.now() if start is None else start
        self.sample_every = 5.0
        self._last_sample: float | None = None

    # -- instruments ------------------------------------------------------------------------

    @property
    def link(self) -> RemoteLink:
        if self.link_or_none is None:
            raise StepError("this step needs the bench to play the remote of a control box")
        return self.link_or_none

    @property
    def box_role(self) -> BoxRoleLink:
        if self.box_role_or_none is None:
            raise StepError("this step needs the bench to play the box for a control panel")
        return self.box_role_or_none

    def fitted(self, part: str) -> bool | None:
        """Is an optional part fitted? None when nobody can tell (then ask the operator)."""
        return None if self._fitted is None else self._fitted(part)

    def question(self, prompt_id: str) -> str:
        return PROMPTS.get(prompt_id, prompt_id)

    def confirm(self, prompt_id: str, question: str | None = None) -> bool:
        return self.operator.confirm(prompt_id, question or self.question(prompt_id))

    def act(self, prompt_id: str, instruction: str | None = None) -> None:
        self.operator.act(prompt_id, instruction or self.question(prompt_id))

    # -- time -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.driver.now()

    def run_time(self) -> float:
        """Seconds since the run started (what records show)."""
        return self.driver.now() - self.start

    def sample(self, force: bool = False) -> None:
        """Add a trace point (water °C, meter W) at most every ``sample_every`` seconds."""
        now = self.now()
        if self.on_sample is None:
            return
        if force or self._last_sample is None or now - self._last_sample >= self.sample_every:
            self._last_sample = now
            self.on_sample()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, label: str = "") -> bool:
        """Run until ``predicate()`` holds or ``timeout`` seconds pass; True if it held."""
        begin = self.now()
        end = begin + timeout
        while True:
            self.raise_if_lost()
            if self.driver.wait_until(predicate, min(1.0, max(0.0, end - self.now()))):
                self.raise_if_lost()
                self._progress(label, self.now() - begin, timeout)
                return True
            self.sample()
            self._progress(label, self.now() - begin, timeout)
            if self.now() >= end - 1e-9:
                return predicate()

    def raise_if_lost(self) -> None:
        """End the step (and the run) with ``LinkLost`` once the unit's link is gone, even
        when the port reported the loss to a callback instead of raising it."""
        for plug in (self.link_or_none, self.box_role_or_none):
            lost = None if plug is None else plug.lost
            if lost is not None:
                raise lost if isinstance(lost, LinkLost) else LinkLost(str(lost))

    def wait(self, seconds: float, label: str = "") -> None:
        """Let ``seconds`` pass (everything due meanwhile runs)."""
        self.wait_for(lambda: False, seconds, label)

    def _progress(self, label: str, done: float, total: float) -> None:
        if self.on_progress is not None and label:
            self.on_progress(label, min(done, total), total)

    # -- power ------------------------------------------------------------------------------

    def number(self, prompt_id: str, unit: str, question: str | None = None) -> float:
        return self.operator.number(prompt_id, question or self.question(prompt_id), unit)

    def power_w(self, reads: int = POWER_READS, spacing: float = POWER_READ_SPACING_S) -> float:
        """Mean of ``reads`` meter readings ``spacing`` s apart (meter noise averages out)."""
        if self.meter is None:
            raise StepError("no meter attached")
        return mean_power_w(self.meter, self.driver, self.instruments, reads, spacing)


def mean_power_w(
    meter: Meter,
    driver: Driver,
    instruments: Instruments,
    reads: int = POWER_READS,
    spacing: float = POWER_READ_SPACING_S,
) -> float:
    """Mean of ``reads`` meter readings ``spacing`` s apart (meter noise averages out), as a
    step and the console's checks read the supply; ``InstrumentError`` passes through."""
    spec = instruments.meter
    if spec is not None and spec.current_only:
        reads = 1  # a clamp meter is read by the technician: one reading, not three
    total = 0.0
    for index in range(reads):
        if index:
            driver.sleep(spacing)
        total += float(meter.read().power_w)
    return total / reads


class StepRun:
    """One step while it runs: its parameters, its measurements, its findings."""

    def __init__(self, result: StepResult, params: Params, ctx: StepContext) -> None:
        self.result = result
        self.params = params
        self.ctx = ctx
        self.suspects: list[str] | None = None
        """Fault ids the step narrowed its failure to (None: the type's defaults)."""
        self.halt: str | None = None
        """Set when the rest of the plan cannot run (the unit stopped, unsafe)."""
        self.failed: str | None = None

    def add(self, declared: Declared) -> None:
        """Declare a measurement only some runs of the step take (e.g. triage evidence)."""
        if all(item.name != declared.name for item in self.result.measurements):
            self.result.measurements.append(declared.new())

    def measure(self, name: str, value: float | str | bool | None) -> bool:
        """Record a measurement; True when it is within its limits (pass or marginal)."""
        item = self.result.measurement(name)
        item.set(value, self.ctx.run_time())
        return item.outcome in ("pass", "marginal")

    def outcome(self, name: str) -> str:
        return self.result.measurement(name).outcome

    def suspect(self, *fault_ids: str) -> None:
        self.suspects = list(fault_ids)

    def skip(self, reason: str) -> StepSkipped:
        """``raise run.skip("why")``: the check does not apply to this unit."""
        return StepSkipped(reason)

    def fail(self, message: str) -> StepFailure:
        """``raise run.fail("why")``: end the step as failed."""
        self.failed = message
        return StepFailure(message)


class StepType:
    """Base of every step type; subclasses set the class attributes and :meth:`run`."""

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    """What the step checks, in a technician's words (``spabench plans`` shows it)."""
    role: ClassVar[str] = "remote"
    """``remote``: needs the box link; ``box``: the bench plays the box for a panel."""
    params: ClassVar[tuple[Param, ...]] = ()
    suspects: ClassVar[tuple[str, ...]] = ()
    """Fault ids a failure points to unless the step narrows them."""

    def validate(self, params: Params) -> None:
        """Cross-parameter checks; ``ValueError`` says what is wrong."""

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        """The measurements this step takes on a bench with ``instruments``, with their
        limits (without a meter some become what a person or a multimeter observes)."""
        return []

    def unmeasurable(self, params: Params, instruments: Instruments) -> str | None:
        """What the step needs that the bench lacks (``"a meter"``), or None: such a step is
        skipped with that reason instead of guessing."""
        return None

    def written_limits(self, params: Params) -> tuple[str, float | None, float | None, bool] | None:
        """``(measurement, low, high, change)`` of the watt limits the plan wrote itself (not
        the defaults, which adapt to the bench): a bench whose meter cannot resolve them must
        refuse the plan rather than quietly judge another way."""
        written = {
            name: params[name]
            for name in ("low", "high")
            if name in params and params[name] != self.param_map()[name].default
        }
        if not written or not self.watt_limits:
            return None
        measurement, change = self.watt_limits
        return measurement, params.get("low"), params.get("high"), change

    watt_limits: ClassVar[tuple[str, bool] | None] = None
    """``(measurement, change)`` when the step's ``low``/``high`` parameters are watts."""

    def blind_to(self, params: Params, instruments: Instruments) -> dict[str, str]:
        """Faults this step would find but cannot on this bench, each with what it needs.
        The plan's union of these is what the bench declares it cannot see."""
        return {}

    def requires(self, params: Params) -> str | None:
        """An optional part (:data:`OPTIONAL_PARTS`) the step needs; without it it is skipped."""
        return None

    def default_suspects(self, params: Params) -> list[str]:
        return list(self.suspects)

    def clears(self, params: Params) -> list[str]:
        """Fault ids a pass of this step rules out."""
        return []

    def run(self, run: StepRun) -> None:
        raise NotImplementedError

    def describe(self, params: Params) -> str:
        """One line for ``spabench plans NAME``."""
        return self.summary

    def param_map(self) -> dict[str, Param]:
        return {param.name: param for param in self.params}


def limits(
    low: float | None = None,
    high: float | None = None,
    *,
    marginal: float | None = None,
    expected: float | str | bool | None = None,
) -> Limits:
    return Limits(low=low, high=high, expected=expected, marginal=marginal)
