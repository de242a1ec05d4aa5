"""The runner: executes a plan's steps in order against a target and fills one TestRecord.

OpenHTF's model: a run yields exactly one record, and whatever wants to follow the run (the
live display, the records store, a JSON file) hangs on output callbacks — ``on_started``,
``on_step_started``, ``on_progress``, ``on_step_finished``, ``on_finished`` (or
``on_interrupted`` when Ctrl-C/SIGTERM stops it) — rather than being called by the runner by
name.

Rules a technician relies on:

* a failing step does not stop the plan, unless its plan entry says ``stop_on_fail = "why"``
  or the step finds the unit stopped (it then sets a halt reason); the remaining steps are
  ``skipped`` with that reason, so the record says why they did not run;
* a step whose optional part is not fitted (UVC on a Concept) is ``skipped``, not failed, and
  so is a check that does not apply to the model (the box's own bubble auto-off on a model
  whose remote times it);
* :class:`~protocols.links.LinkLost` ends the run at once: that step ``error``, the rest
  ``skipped``, verdict ``error``, error "link lost", everything measured so far kept;
* an instrument or operator that cannot deliver errors only its step — unless the step is a
  gate (``stop_on_fail``, like the link): a gate that errors stops the plan as a failed one;
* a step the bench's instruments cannot judge (no meter for an ozone draw) is ``skipped``
  with what it needs, never guessed;
* at the end every load is switched off again (a bench never leaves a heater running).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from bench import __version__
from bench.testing.diagnosis import diagnose
from bench.testing.instruments.meter import InstrumentError, MeterStalled
from bench.testing.instruments.operator import OperatorError
from bench.testing.plans import Plan, StepSpec
from bench.testing.record import FrameEntry, StepResult, TestRecord, TraceSample, UnitInfo
from bench.testing.steps import StepContext, StepError, StepFailure, StepRun, StepSkipped
from bench.testing.targets import Target
from protocols.links import LinkLost
from protocols.mspa import Frame

LINK_LOST = "link lost"


class RunHooks(Protocol):
    """Output callbacks; implement any subset by subclassing :class:`NoHooks`."""

    def on_started(self, record: TestRecord) -> None: ...

    def on_step_started(self, step: StepResult) -> None: ...

    def on_progress(self, label: str, done: float, total: float) -> None: ...

    def on_step_finished(self, step: StepResult) -> None: ...

    def on_finished(self, record: TestRecord) -> None: ...

    def on_interrupted(self, record: TestRecord) -> None: ...


class NoHooks:
    """Every hook, doing nothing: subclass and override what you need."""

    def on_started(self, record: TestRecord) -> None:
        return None

    def on_step_started(self, step: StepResult) -> None:
        return None

    def on_progress(self, label: str, done: float, total: float) -> None:
        return None

    def on_step_finished(self, step: StepResult) -> None:
        return None

    def on_finished(self, record: TestRecord) -> None:
        return None

    def on_interrupted(self, record: TestRecord) -> None:
        """The run was stopped (Ctrl-C, SIGTERM) before it finished; ``record`` holds what it
        did. ``on_finished`` is not called for it."""
        return None


def utc_now() -> str:
    """ISO 8601 UTC to the microsecond: the order rules tell a diagnosis run begun a moment
    before a part was fitted from a check begun a moment after it."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Runner:
    """Runs one plan on one target; :meth:`run` returns the finished record."""

    def __init__(
        self,
        plan: Plan,
        target: Target,
        *,
        unit: UnitInfo | None = None,
        hooks: Sequence[RunHooks] = (),
        station: str | None = None,
        keep_log: bool = True,
    ) -> None:
        if plan.role == "box" and target.box_role is None:
            raise ValueError(f"plan {plan.name!r} tests a panel: it needs a box-role target")
        if plan.role == "remote" and target.link is None:
            raise ValueError(f"plan {plan.name!r} tests a box: it needs a remote-role target")
        self.plan = plan
        self.target = target
        self.hooks = list(hooks)
        self.unit = unit or target.unit
        self.station = socket.gethostname() if station is None else station
        self.keep_log = keep_log
        """Keep every frame and the trace samples in the record (off only where nobody reads
        them: the coverage matrix judges verdicts, and the log is a fifth of a run's cost)."""
        self._stalled: str | None = None
        """Set when a meter reading stalled during the current step (see MeterStalled)."""

    # -- recording ----------------------------------------------------------------------

    def _frame(self, time: float, sender: str, frame: Frame) -> None:
        self.record.frames.append(
            FrameEntry(
                round(time - self.start, 4), "box" if sender == "box" else "remote", frame.hex()
            )
        )

    def _sample(self) -> None:
        target = self.target
        water = target.link.water_c if target.link is not None else None
        power: float | None = None
        if target.meter is not None:
            try:
                power = round(float(target.meter.read().power_w), 2)
            except MeterStalled as error:
                self._stalled = str(error)  # the step it happened in cannot be trusted
                power = None
            except InstrumentError:
                power = None
        self.record.trace.append(
            TraceSample(round(target.driver.now() - self.start, 2), water, power)
        )

    def _progress(self, label: str, done: float, total: float) -> None:
        for hook in self.hooks:
            hook.on_progress(label, done, total)

    # -- the run --------------------------------------------------------------------------

    def run(self) -> TestRecord:
        target = self.target
        self.start = target.driver.now()
        self.record = record = TestRecord(
            record_id=uuid.uuid4().hex,
            plan=self.plan.name,
            unit=self.unit,
            operator=target.operator.name,
            station=self.station,
            simulated=target.simulated,
            link=target.link_description,
            meter=target.meter_description,
            instruments=target.instruments.describe(),
            software=f"spabench {__version__}",
            started_at=utc_now(),
        )
        listeners = (target.link or target.box_role).listeners  # type: ignore[union-attr]
        if self.keep_log:
            listeners.append(self._frame)
        ctx = StepContext(
            target.driver,
            link=target.link,
            box_role=target.box_role,
            meter=target.meter,
            operator=target.operator,
            instruments=target.instruments,
            fitted=target.fitted,
            on_progress=self._progress,
            on_sample=self._sample if self.keep_log else None,
            start=self.start,
        )
        for hook in self.hooks:
            hook.on_started(record)
        halted: str | None = None
        lost = False
        try:
            target.start()
        except LinkLost as error:
            lost, halted = True, f"{LINK_LOST}: {error}"
        try:
            lost = self._run_steps(ctx, halted, lost)
        except KeyboardInterrupt:
            # The technician stopped the bench: never leave a heater or blower running, and
            # let the hooks keep what was done (the records store the frames seen so far).
            self._leave_safe(target)
            if self.keep_log:
                listeners.remove(self._frame)
            for hook in self.hooks:
                hook.on_interrupted(record)
            raise
        if not lost:
            self._leave_safe(target)
        if self.keep_log:
            listeners.remove(self._frame)
        record.finished_at = utc_now()
        errors = [step for step in record.steps if step.outcome == "error"]
        if lost:
            record.verdict, record.error = "error", LINK_LOST
        elif errors:
            record.verdict, record.error = "error", f"{errors[0].name}: {errors[0].message}"
        elif any(step.outcome == "fail" for step in record.steps):
            record.verdict = "fail"
        else:
            record.verdict = "pass"
        finding = diagnose(record, self.plan)
        record.suspected_parts = finding.parts
        record.summary = finding.summary
        for hook in self.hooks:
            hook.on_finished(record)
        return record

    def _run_steps(self, ctx: StepContext, halted: str | None, lost: bool) -> bool:
        """Every step in order (skipping once halted); returns whether the link was lost."""
        record = self.record
        instruments = self.target.instruments
        for spec in self.plan.steps:
            result = StepResult(
                name=spec.name,
                title=spec.title,
                kind=spec.kind,
                measurements=[d.new() for d in spec.declared(instruments)],
            )
            record.steps.append(result)
            if halted is not None:
                result.outcome = "skipped"
                result.message = halted
            else:
                for hook in self.hooks:
                    hook.on_step_started(result)
                halt = self._run_step(spec, result, ctx)
                if result.outcome == "error" and halt == LINK_LOST:
                    lost = True
                if halt is not None:
                    halted = halt
                ctx.sample(force=True)
            for hook in self.hooks:
                hook.on_step_finished(result)
        return lost

    def _run_step(self, spec: StepSpec, result: StepResult, ctx: StepContext) -> str | None:
        """Run one step into ``result``; returns why the rest of the plan cannot run, if so."""
        result.started = round(ctx.run_time(), 3)
        self._stalled = None
        run = StepRun(result, spec.params, ctx)
        lacking = spec.unmeasurable(ctx.instruments)
        if lacking is not None:
            result.outcome = "skipped"
            result.needs = lacking
            result.message = f"needs {lacking}: this bench cannot judge it"
            result.finished = result.started
            return None
        try:
            part = spec.needs()
            if part is not None:
                fitted = ctx.fitted(part)
                if fitted is None:
                    fitted = ctx.confirm(f"fitted-{part}")
                if not fitted:
                    result.outcome = "skipped"
                    result.message = f"no {part} fitted to this unit"
                    result.finished = result.started
                    return None
            spec.type.run(run)
            if self._stalled is not None:
                raise MeterStalled(self._stalled)
        except StepSkipped as skipped:
            result.outcome = "skipped"
            result.message = str(skipped)
            result.finished = round(ctx.run_time(), 3)
            return None
        except StepFailure:
            if self._stalled is not None:
                return self._error(result, ctx, spec, MeterStalled(self._stalled))
        except LinkLost as error:
            result.outcome = "error"
            result.message = f"{LINK_LOST}: {error}"
            result.finished = round(ctx.run_time(), 3)
            return LINK_LOST
        except (OperatorError, InstrumentError, StepError) as error:
            return self._error(result, ctx, spec, error)
        result.finished = round(ctx.run_time(), 3)
        failed = [m for m in result.measurements if m.outcome == "fail"]
        if run.failed is None and not failed:
            result.outcome = "pass"
            marginal = [m.name for m in result.measurements if m.outcome == "marginal"]
            result.message = f"marginal: {', '.join(marginal)}" if marginal else ""
            return None
        result.outcome = "fail"
        result.message = run.failed or "; ".join(
            f"{m.name} = {m.value} (limits {m.limits.text(m.unit)})" for m in failed
        )
        result.suspects = resolve_suspects(spec, run)
        return spec.stop_on_fail or run.halt

    @staticmethod
    def _error(
        result: StepResult, ctx: StepContext, spec: StepSpec, error: Exception
    ) -> str | None:
        result.outcome = "error"
        result.message = str(error)
        result.finished = round(ctx.run_time(), 3)
        # A gate that could not be judged is as closed as one that failed: after a link
        # step that errored nothing else can be trusted to run.
        return spec.stop_on_fail

    @staticmethod
    def _leave_safe(target: Target) -> None:
        """Switch every load off and let the burst go out (the bench never leaves loads on)."""
        if target.link is None:
            return
        try:
            target.link.resume()
            target.link.all_off()
            target.driver.sleep(1.0)
        except LinkLost:
            return


def resolve_suspects(spec: StepSpec, run: StepRun) -> list[str]:
    """The fault ids a failed step points to: what the step narrowed them to from its own
    measurements, refined by the plan's ``suspects`` where the two agree; otherwise the plan's
    list, otherwise the step type's defaults."""
    planned = list(spec.suspects) if spec.suspects is not None else None
    if run.suspects is not None:
        if planned:
            both = [fault for fault in run.suspects if fault in planned]
            return both or list(run.suspects)
        return list(run.suspects)
    if planned is not None:
        return planned
    return spec.type.default_suspects(spec.params)
