"""Steps that take time: heating, the bubble auto-off, the remote-silence fail-safe.

On a real bench these are the long minutes of a test; on a virtual box the simulated driver
jumps through them. They wait only through :meth:`StepContext.wait`/``wait_for``, so the
live display can draw a progress bar either way.
"""

from __future__ import annotations

import statistics

from bench.testing.instruments.specs import Instruments
from bench.testing.limits import (
    AUTO_OFF_PERSON_MARGIN_S,
    AUTO_OFF_S,
    AUTO_OFF_TIMEOUT_MARGIN_S,
    FAIL_SAFE_SILENCE_S,
    FLOW_TIMEOUT_S,
    HEATER_RISE_C,
    HEATER_RISE_TIMEOUT_S,
    IDLE_HIGH_W,
    PUMP_SETTLE_S,
    SETTLE_S,
    flow_complete,
    heater_live_w,
    load_runs,
    meter_tells_running,
)
from bench.testing.steps.base import Declared, Param, Params, StepRun, StepType, limits
from bench.testing.steps.link_steps import read_temperatures
from bench.testing.steps.load_steps import (
    FLOW_OPEN_FAULTS,
    PERCEIVED,
    RUNNING,
    check_running,
    heater_suspects,
    running_loads_heard,
)


class HeaterRise(StepType):
    kind = "heater-rise"
    summary = "with the pump and heater on, the reported water temperature rises"
    params = (
        Param("rise", "float", HEATER_RISE_C, "°C the report must rise", minimum=0.5, maximum=20),
        Param(
            "timeout", "float", HEATER_RISE_TIMEOUT_S, "seconds allowed", minimum=10, maximum=7200
        ),
    )
    suspects = ("heater-open", "temp-sensor-open", "temp-sensor-short")

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared("start_c", "°C", "water before heating"),
            Declared("rise_c", "°C", "rise while heating", limits(low=params["rise"])),
            Declared("rise_s", "s", "time to the rise"),
        ]

    def clears(self, params: Params) -> list[str]:
        return ["heater-open", "temp-sensor-open", "temp-sensor-short", *FLOW_OPEN_FAULTS]

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        pump_before = link.state.filter
        if not pump_before:
            link.set_loads(filter=True)
            ctx.wait_for(lambda: flow_complete(link.flow), PUMP_SETTLE_S, "pump settling")
        start = statistics.mean(read_temperatures(run, 3))
        run.measure("start_c", round(start, 2))
        metered = ctx.meter is not None and meter_tells_running("heater", ctx.instruments)
        baseline = ctx.power_w() if metered else None
        link.set_loads(heater=True)
        began = ctx.now()
        target = start + run.params["rise"]
        try:
            ctx.wait_for(
                lambda: link.water_c is not None and link.water_c >= target,
                run.params["timeout"],
                "heating",
            )
            water = link.water_c if link.water_c is not None else start
            if run.measure("rise_c", round(water - start, 2)):
                run.measure("rise_s", round(ctx.now() - began, 1))
                return
            # Why no rise: the heater is not drawing (sensor lock-out, no flow, open element,
            # welded relay already heating), or it draws and the sensor does not follow.
            # Without a meter nobody can tell whether the element draws: judge by the wire.
            heating = baseline is not None and load_runs("heater", ctx.power_w() - baseline)
            if heating:
                run.suspect("temp-sensor-open", "temp-sensor-short")
            else:
                run.suspect(*heater_suspects(link, baseline))
        finally:
            if link.alive():
                link.set_loads(heater=False, filter=pump_before)
                ctx.wait(1.0, "switching off")


class AutoOffStep(StepType):
    kind = "auto-off"
    summary = "the bubbles stop by themselves after the auto-off time (10 or 20 min)"
    params = (
        Param("level", "int", 1, "bubble level", minimum=1, maximum=3),
        Param("low", "float", AUTO_OFF_S[0], "s, earliest allowed stop", minimum=0, maximum=7200),
        Param("high", "float", AUTO_OFF_S[1], "s, latest allowed stop", minimum=1, maximum=7200),
        Param("poll", "float", 2.0, "s between meter readings", minimum=0.5, maximum=60),
    )
    suspects = ("power-board-dead",)

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        started = Declared(
            "blower_started", description="the blower ran", limits=limits(expected=True)
        )
        if meter_tells_running("blower", instruments):
            return [
                RUNNING,
                started,
                Declared(
                    "auto_off_s",
                    "s",
                    "time until the blower stopped",
                    limits(params["low"], params["high"]),
                ),
            ]
        return [
            RUNNING,
            started,
            Declared(
                "running_before",
                description="operator: blower still heard before the earliest stop",
                limits=limits(expected=True),
            ),
            Declared(
                "stopped_after",
                description="operator: blower silent after the latest stop",
                limits=limits(expected=True),
            ),
        ]

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        if link.plate.auto_off_by == "remote":
            # The box of such a model runs the bubbles until its remote sends the off (the
            # bench, playing the remote, does so itself): there is no box auto-off to test,
            # and a blower still running is no fault of the power board.
            raise run.skip("this model's remote times the bubbles (auto_off_by = remote)")
        low, high = run.params["low"], run.params["high"]
        metered = ctx.meter is not None and meter_tells_running("blower", ctx.instruments)
        baseline = ctx.power_w() if metered else None
        link.set_loads(bubbles=run.params["level"])
        began = ctx.now()
        try:
            ctx.wait(SETTLE_S, "blower starting")
            if not check_running(run, "blower"):
                raise run.fail(run.halt or "unit stopped")
            if baseline is not None:
                started = load_runs("blower", ctx.power_w() - baseline)
            else:
                started = ctx.confirm(PERCEIVED["blower"])
            if not run.measure("blower_started", started):
                run.suspect("blower-dead")
                raise run.fail("the blower did not start")
            if baseline is None:
                ctx.wait(
                    max(0.0, low - AUTO_OFF_PERSON_MARGIN_S - (ctx.now() - began)),
                    "waiting for auto-off",
                )
                run.measure("running_before", ctx.confirm(PERCEIVED["blower"]))
                ctx.wait(
                    max(0.0, high + AUTO_OFF_PERSON_MARGIN_S - (ctx.now() - began)),
                    "waiting for auto-off",
                )
                run.measure("stopped_after", not ctx.confirm(PERCEIVED["blower"]))
                return
            timeout = high + AUTO_OFF_TIMEOUT_MARGIN_S
            stopped_at: float | None = None
            while ctx.now() - began < timeout:
                ctx.wait(run.params["poll"])  # progress is reported against the whole wait
                progress = ctx.now() - began
                if ctx.on_progress is not None:
                    ctx.on_progress("waiting for auto-off", min(progress, timeout), timeout)
                if not load_runs("blower", ctx.power_w(reads=1) - baseline):
                    stopped_at = progress
                    break
            run.measure(
                "auto_off_s", round(stopped_at if stopped_at is not None else ctx.now() - began, 1)
            )
        finally:
            if link.alive():
                link.set_loads(bubbles=0)
                ctx.wait(1.0, "switching off")


class FailSafe(StepType):
    watt_limits = ("after_silence_w", False)
    kind = "fail-safe"
    summary = "when the remote goes silent for 30 s the box switches every load off"
    params = (
        Param(
            "silence",
            "float",
            FAIL_SAFE_SILENCE_S,
            "seconds the bench stays silent",
            minimum=31,
            maximum=600,
        ),
        Param(
            "high", "float", IDLE_HIGH_W, "W, most draw after the silence", minimum=0, maximum=10000
        ),
    )
    suspects = ("power-board-dead",)

    def default_suspects(self, params: Params) -> list[str]:
        return ["power-board-dead", "heater-relay-welded"]

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        declared = [
            Declared(
                "flow_before",
                description="flow reported before the silence (the pump ran)",
            ),
            Declared(
                "reports_during_silence",
                description="the box kept reporting",
                limits=limits(expected=True),
            ),
        ]
        if instruments.meter_judges(None, params["high"], change=False):
            declared.append(
                Declared(
                    "after_silence_w", "W", "draw after the silence", limits(high=params["high"])
                )
            )
        else:
            declared.append(
                Declared(
                    "loads_off",
                    description="operator: no pump or blower heard after the silence",
                    limits=limits(expected=True),
                )
            )
        return declared

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        link.set_loads(filter=True)
        ran = ctx.wait_for(
            lambda: bool(link.flow and link.flow.flowing), FLOW_TIMEOUT_S, "pump starting"
        )
        run.measure("flow_before", ran)
        heard = link.frames_heard()
        link.go_silent()
        try:
            ctx.wait(run.params["silence"], "bench silent")
            # Judge while still silent: once the bench talks again its state cycle would
            # command the pump back on.
            run.measure(
                "reports_during_silence", link.frames_heard() - heard >= run.params["silence"] / 2
            )
            if ctx.meter is not None and ctx.instruments.meter_judges(
                None, run.params["high"], change=False
            ):
                after = ctx.power_w()
                if not run.measure("after_silence_w", round(after, 2)):
                    run.suspect(
                        "heater-relay-welded" if heater_live_w(after) else "power-board-dead"
                    )
            else:
                if not run.measure("loads_off", not running_loads_heard(ctx)):
                    run.suspect("power-board-dead")
            link.all_off()  # the remote's state, so the cycle does not restart the pump
        finally:
            link.resume()
        link.all_off()
        ctx.wait(2.0, "switching off")


class Wait(StepType):
    kind = "wait"
    summary = "let time pass (settle the water, cool down)"
    params = (Param("seconds", "float", doc="how long", minimum=0, maximum=86400),)

    def describe(self, params: Params) -> str:
        return f"wait {params['seconds']:g} s"

    def run(self, run: StepRun) -> None:
        run.ctx.wait(run.params["seconds"], "waiting")


STEP_TYPES: tuple[StepType, ...] = (HeaterRise(), AutoOffStep(), FailSafe(), Wait())
