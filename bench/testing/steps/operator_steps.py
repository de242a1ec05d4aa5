"""Steps that need the person at the bench: PRCD TEST/RESET, the knob, looking for bubbles.

What only a person can do or see goes through the operator instrument by prompt id, so the
same step runs with a technician, an answers file or the virtual operator.
"""

from __future__ import annotations

from bench.testing.instruments.specs import Instruments
from bench.testing.limits import (
    PRCD_RESTART_S,
    PRCD_STOP_WITHIN_S,
    SETTLE_S,
    STOPPED_QUIET_S,
    load_runs,
    meter_tells_running,
    unit_stopped,
)
from bench.testing.steps.base import Declared, Param, Params, StepRun, StepType, limits
from bench.testing.steps.load_steps import PERCEIVED, RUNNING, check_running


class PrcdTest(StepType):
    kind = "prcd-test"
    summary = "PRCD TEST stops the unit and RESET brings it back"
    params = (
        Param(
            "stop_within",
            "float",
            PRCD_STOP_WITHIN_S,
            "seconds for the unit to fall silent",
            minimum=0.5,
            maximum=60,
        ),
        Param(
            "restart_timeout",
            "float",
            PRCD_RESTART_S,
            "seconds for the handshake after RESET",
            minimum=5,
            maximum=600,
        ),
    )
    suspects = ("prcd-faulty",)

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared(
                "unit_stopped", description="TEST stopped the unit", limits=limits(expected=True)
            ),
            Declared(
                "unit_restarted", description="RESET brought it back", limits=limits(expected=True)
            ),
        ]

    def clears(self, params: Params) -> list[str]:
        return ["prcd-faulty", "prcd-tripped"]

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        link.all_off()
        ctx.wait(1.0, "switching off")
        ctx.act("prcd-test")
        silent = ctx.wait_for(
            lambda: not link.alive(STOPPED_QUIET_S),
            run.params["stop_within"] + STOPPED_QUIET_S,
            "TEST",
        )
        watts = ctx.power_w(reads=1) if silent and ctx.meter is not None else None
        if not run.measure("unit_stopped", unit_stopped(silent, watts, ctx.instruments)):
            raise run.fail("PRCD TEST did not stop the unit")
        link.power_cycle()
        ctx.act("prcd-reset")
        back = ctx.wait_for(lambda: link.handshake_done, run.params["restart_timeout"], "RESET")
        if not run.measure("unit_restarted", back):
            run.halt = "the unit did not come back after PRCD RESET"
            raise run.fail("PRCD RESET did not restore the unit")


class Bubbles(StepType):
    kind = "bubbles"
    summary = "bubbles appear in the tank when the blower runs (knob at OFF), not when inflating"
    params = (
        Param("level", "int", 1, "bubble level", minimum=1, maximum=3),
        Param(
            "knob",
            "str",
            "",
            "set the knob first: off or inflate (empty: leave it)",
            choices=("", "off", "inflate"),
        ),
        Param("visible", "bool", True, "bubbles expected"),
        Param("settle", "float", SETTLE_S, "seconds after switching on", minimum=0.5, maximum=600),
    )

    def default_suspects(self, params: Params) -> list[str]:
        if params["visible"]:
            return ["knob-reed-switch-stuck", "blower-dead"]
        return ["knob-reed-switch-stuck"]

    def clears(self, params: Params) -> list[str]:
        if params["visible"]:
            return ["knob-reed-switch-stuck", "blower-dead", "check-valve-leak"]
        return []

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            RUNNING,
            Declared(
                "bubbles_visible",
                description="operator: bubbles seen",
                limits=limits(expected=params["visible"]),
            ),
            Declared("blower_running", description="the blower runs (meter, or heard)"),
        ]

    def describe(self, params: Params) -> str:
        knob = f"knob {params['knob']}, " if params["knob"] else ""
        seen = "bubbles seen" if params["visible"] else "no bubbles seen"
        return f"{knob}bubbles level {params['level']}: {seen}"

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        knob = run.params["knob"]
        if knob:
            ctx.act(f"knob-{knob}")
        metered = ctx.meter is not None and meter_tells_running("blower", ctx.instruments)
        baseline = ctx.power_w() if metered else None
        link.set_loads(bubbles=run.params["level"])
        try:
            ctx.wait(run.params["settle"], "blower starting")
            if not check_running(run, "blower"):
                raise run.fail(run.halt or "unit stopped")
            if baseline is not None:
                drawing = load_runs("blower", ctx.power_w() - baseline)
            else:
                drawing = ctx.confirm(PERCEIVED["blower"])
            run.measure("blower_running", drawing)
            if run.measure("bubbles_visible", ctx.confirm("bubbles-visible")):
                return
            if run.params["visible"]:
                run.suspect("knob-reed-switch-stuck" if drawing else "blower-dead")
                raise run.fail("no bubbles" + (" although the blower runs" if drawing else ""))
            run.suspect("knob-reed-switch-stuck")
            raise run.fail("bubbles with the knob in the inflation position")
        finally:
            if link.alive():
                link.set_loads(bubbles=0)
                ctx.wait(1.0, "switching off")
            if knob == "inflate":
                ctx.act("knob-off")


class OperatorConfirm(StepType):
    kind = "operator-confirm"
    summary = "ask the operator a yes/no question about the unit"
    role = "any"
    params = (
        Param("prompt", "str", doc="prompt id (answers files are keyed by it)"),
        Param("question", "str", "", "wording (default: the prompt id's)"),
        Param("expected", "bool", True, "the answer a good unit gives"),
    )

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared(
                "answer",
                description=params["question"] or params["prompt"],
                limits=limits(expected=params["expected"]),
            )
        ]

    def describe(self, params: Params) -> str:
        return f"ask: {params['question'] or params['prompt']}"

    def run(self, run: StepRun) -> None:
        run.measure("answer", run.ctx.confirm(run.params["prompt"], run.params["question"] or None))


class OperatorAction(StepType):
    kind = "operator-action"
    summary = "ask the operator to do something"
    role = "any"
    params = (
        Param("prompt", "str", doc="prompt id (answers files are keyed by it)"),
        Param("instruction", "str", "", "wording (default: the prompt id's)"),
        Param("settle", "float", 1.0, "seconds to wait afterwards", minimum=0, maximum=600),
    )

    def describe(self, params: Params) -> str:
        return f"operator: {params['instruction'] or params['prompt']}"

    def run(self, run: StepRun) -> None:
        run.ctx.act(run.params["prompt"], run.params["instruction"] or None)
        run.ctx.wait(run.params["settle"], "")


STEP_TYPES: tuple[StepType, ...] = (PrcdTest(), Bubbles(), OperatorConfirm(), OperatorAction())
