"""Steps that switch loads and check what the unit draws and reports.

The wire never says whether a load really runs (SPEC §3), so a load is judged by the *change*
in mains draw when it is switched on (the meter), or by the operator when no meter is attached.
Measuring the change rather than the total makes the limits independent of standby and of
loads already running, and halves the meter's calibration error's effect on small loads.
The limits and the judgments ("does it draw as it should?", "does it run at all?") are
:mod:`bench.testing.limits`, which the console's troubleshooting checks use too.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.testing.instruments.link import RemoteLink
from bench.testing.instruments.specs import Instruments
from bench.testing.limits import (
    F1_MARGIN_S,
    F1_OFF_LOADS,
    FLOW_TIMEOUT_S,
    IDLE_HIGH_W,
    JETS,
    PUMP_SETTLE_S,
    SETTLE_S,
    STEP_LOADS,
    UNHEATED_RISE_C,
    WATER_WATCH_S,
    draw_band,
    draw_change_w,
    f1_reset_window_s,
    flow_complete,
    flow_settled,
    heater_live_w,
    load_runs,
    meter_judges_draw,
    meter_tells_running,
)
from bench.testing.record import Limits
from bench.testing.steps.base import (
    Declared,
    Param,
    Params,
    StepContext,
    StepRun,
    StepType,
    limits,
)
from bench.testing.steps.link_steps import read_temperatures
from protocols.mspa import TEMPERATURE_MAX, FlowSwitches

LOW_SUSPECTS: dict[str, tuple[str, ...]] = {
    "filter": ("filter-pump-dead",),
    "heater": ("heater-open",),
    "blower": ("blower-dead",),
    "ozone": ("ozone-dead",),
    "uvc": ("uvc-dead",),
    JETS: ("jet-pump-dead",),
}
NO_FLOW_SUSPECTS = ("filter-pump-dead", "flow-switch-stuck-open")
"""A heater that does not run because no flow is reported points at the flow, not the heater."""
ONE_SWITCH_OPEN: dict[tuple[bool, bool], str] = {
    (False, True): "inlet-flow-switch-stuck-open",
    (True, False): "outlet-flow-switch-stuck-open",
}
"""08 02 (inlet open, outlet closed) and 08 01 (outlet open) with the pump on: the switch
that stayed open (``FlowSwitches(inlet, outlet)`` → fault)."""
FLOW_OPEN_FAULTS = (*NO_FLOW_SUSPECTS, *ONE_SWITCH_OPEN.values())
"""Every fault that keeps water from being reported flowing with the pump on; a pass that
proves flow (both switches closed) rules them all out."""


def flow_suspects(flow: FlowSwitches | None, pump_drawing: bool | None) -> tuple[str, ...]:
    """What keeps the flow from being reported with the pump on, from the last report: one
    switch open names that switch; both open name the pump (not running) or the switches
    (running; None: nobody could tell)."""
    if flow is not None:
        one = ONE_SWITCH_OPEN.get((flow.inlet, flow.outlet))
        if one is not None:
            return (one,)
    if pump_drawing is None:
        return NO_FLOW_SUSPECTS
    return ("flow-switch-stuck-open",) if pump_drawing else ("filter-pump-dead",)


def f1_latched(link: RemoteLink) -> bool:
    """Would the panel show F1 now? The pump is commanded and no trusted flow report since
    the pump went on said both switches closed — the box then switches heater, ozone and UVC
    off after ``errors_f1_after_s``. A load F1 switched off is no evidence against the load."""
    return bool(link.state.filter) and not flow_complete(link.flow)


def heater_suspects(link: RemoteLink, baseline_w: float | None) -> tuple[str, ...]:
    """Why a heater switched on does not draw (or heat), from what the bench can see.

    The firmware refuses to heat on a sensor that reads open (0.0 °C) or shorted (127.5 °C)
    and without flow; a welded relay makes the element draw before it is switched on.
    """
    water = link.water_c
    if water is not None and water <= 0.0:
        return ("temp-sensor-open",)
    if water is not None and water >= TEMPERATURE_MAX:
        return ("temp-sensor-short",)
    if baseline_w is not None and heater_live_w(baseline_w):
        return ("heater-relay-welded",)
    if not flow_complete(link.flow):
        return flow_suspects(link.flow, None)
    return ("heater-open",)


def switch(ctx: StepContext, load: str, on: bool, level: int = 1) -> None:
    """Switch one load through the remote (the blower through its bubble level)."""
    if load == "blower":
        ctx.link.set_loads(bubbles=level if on else 0)
    elif load == JETS:
        ctx.link.set_loads(jets=on)
    else:
        ctx.link.set_loads(**{load: on})


PERCEIVED: dict[str, str] = {
    "filter": "pump-running",
    "blower": "blower-running",
    JETS: "jets-running",
}
"""Loads a person perceives running without an instrument (heard, seen), by prompt id. The
heater, ozone generator and UVC lamp make no sign a person can be asked about."""
SIGNLESS = ("ozone", "uvc")
"""Loads whose failure nothing but a meter shows (the heater shows in the water)."""
NEEDS_METER = "a meter"


def running_loads_heard(ctx: StepContext) -> bool:
    """The person hears the pump or the blower (the loads a person can perceive)."""
    return any(ctx.confirm(prompt) for prompt in PERCEIVED.values())


def check_running(run: StepRun, load: str) -> bool:
    """Measure ``unit_running``; a unit that went silent ends the plan (nothing else can run)."""
    alive = run.ctx.link.alive()
    run.measure("unit_running", alive)
    if not alive:
        run.suspect("check-valve-leak" if load == "blower" else "power-board-dead")
        run.halt = f"the unit stopped after the {load} was switched on (PRCD tripped?)"
    return alive


RUNNING = Declared(
    "unit_running",
    description="the box still reports after the switch",
    limits=limits(expected=True),
)


class SetLoads(StepType):
    kind = "set-loads"
    summary = "switch loads as a key press would (no check beyond the unit still running)"
    params = (
        Param("heater", "bool", None),
        Param("filter", "bool", None),
        Param("bubbles", "int", None, minimum=0, maximum=3),
        Param("ozone", "bool", None),
        Param("uvc", "bool", None),
        Param("all_off", "bool", False, "switch every load off first"),
        Param("settle", "float", 2.0, "seconds to wait afterwards", minimum=0, maximum=600),
    )

    def validate(self, params: Params) -> None:
        if not params["all_off"] and not self._changes(params):
            raise ValueError("set-loads needs at least one load or all_off = true")

    @staticmethod
    def _changes(params: Params) -> dict[str, Any]:
        return {
            k: params[k]
            for k in ("heater", "filter", "bubbles", "ozone", "uvc")
            if params[k] is not None
        }

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [RUNNING]

    def describe(self, params: Params) -> str:
        changes = ", ".join(f"{k}={v}" for k, v in self._changes(params).items())
        return ("all off; " if params["all_off"] else "") + (changes or "")

    def run(self, run: StepRun) -> None:
        link = run.ctx.link
        if run.params["all_off"]:
            link.all_off()
        changes = self._changes(run.params)
        if changes:
            link.set_loads(**changes)
        run.ctx.wait(run.params["settle"], "settling")
        check_running(run, "blower" if changes.get("bubbles") else "load")


class IdlePower(StepType):
    watt_limits = ("idle_w", False)
    kind = "idle-power"
    summary = "with every load off nothing runs: the meter sees only standby (or, without one, \
nothing is heard and the water does not warm)"
    params = (
        Param(
            "low",
            "float",
            None,
            "W, least standby draw (only for a meter that reads it)",
            minimum=0,
            maximum=10000,
        ),
        Param("high", "float", IDLE_HIGH_W, "W, most standby draw", minimum=0, maximum=10000),
        Param(
            "settle",
            "float",
            SETTLE_S,
            "seconds after switching everything off",
            minimum=0,
            maximum=600,
        ),
        Param(
            "watch",
            "float",
            WATER_WATCH_S,
            "s to watch the water for a live heater without a meter (0: do not)",
            minimum=0,
            maximum=3600,
        ),
        Param(
            "warming",
            "float",
            UNHEATED_RISE_C,
            "°C the water may rise unheated without a meter",
            minimum=1,
            maximum=20,
        ),
    )
    suspects = ("heater-relay-welded", "power-board-dead")

    def validate(self, params: Params) -> None:
        if params["watch"] and params["watch"] < 60:
            raise ValueError("watch must be 0 (no water watch) or at least 60 s")

    @staticmethod
    def _metered(params: Params, instruments: Instruments) -> bool:
        return instruments.meter_judges(params["low"], params["high"], change=False)

    def blind_to(self, params: Params, instruments: Instruments) -> dict[str, str]:
        if self._metered(params, instruments) or params["watch"]:
            return {}
        return {"heater-relay-welded": NEEDS_METER + " (or a water watch: watch > 0)"}

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        if self._metered(params, instruments):
            return [
                Declared(
                    "idle_w", "W", "draw with all loads off", limits(params["low"], params["high"])
                )
            ]
        declared = [
            Declared(
                "loads_idle",
                description="operator: no pump or blower heard",
                limits=limits(expected=True),
            )
        ]
        if params["watch"]:
            declared.append(
                Declared(
                    "unheated_rise_c",
                    "°C",
                    f"water rise over {params['watch']:g} s with every load off "
                    "(a live heater warms it)",
                    limits(high=params["warming"]),
                )
            )
        return declared

    def clears(self, params: Params) -> list[str]:
        return ["heater-relay-welded"]

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        ctx.link.all_off()
        ctx.wait(run.params["settle"], "settling")
        if ctx.meter is not None and self._metered(run.params, ctx.instruments):
            idle = ctx.power_w()
            if not run.measure("idle_w", round(idle, 2)) and heater_live_w(idle):
                run.suspect("heater-relay-welded")
            return
        if not run.measure("loads_idle", not running_loads_heard(ctx)):
            run.suspect("power-board-dead")
        if not run.params["watch"]:
            return
        start = statistics.mean(read_temperatures(run, 3))
        ctx.wait(run.params["watch"], "watching the water")
        rise = statistics.mean(read_temperatures(run, 3)) - start
        if not run.measure("unheated_rise_c", round(rise, 2)):
            run.suspect("heater-relay-welded")


class LoadPower(StepType):
    watt_limits = ("draw_w", True)
    kind = "load-power"
    summary = "switching a load changes the draw as it should (or not at all, for a lock-out)"
    params = (
        Param("load", "str", doc="load to switch", choices=STEP_LOADS),
        Param("level", "int", 1, "bubble level for the blower", minimum=1, maximum=3),
        Param("expect", "str", "on", "on: it must draw; off: it must not", choices=("on", "off")),
        Param("filter", "bool", None, "filter pump during the test (default: as the load needs)"),
        Param("low", "float", None, "W, least draw change", minimum=0, maximum=10000),
        Param("high", "float", None, "W, most draw change", minimum=0, maximum=10000),
        Param(
            "marginal",
            "float",
            None,
            "W, band inside the limits flagged as marginal",
            minimum=0,
            maximum=10000,
        ),
        Param(
            "settle",
            "float",
            SETTLE_S,
            "seconds after switching before reading",
            minimum=0.5,
            maximum=600,
        ),
        Param("leave_on", "bool", False, "leave the load (and pump) running afterwards"),
    )

    def default_suspects(self, params: Params) -> list[str]:
        if params["expect"] == "off":
            return (
                ["flow-switch-stuck-closed", "heater-relay-welded"]
                if params["load"] == "heater"
                else ["power-board-dead"]
            )
        return list(LOW_SUSPECTS[params["load"]])

    def clears(self, params: Params) -> list[str]:
        load = params["load"]
        if params["expect"] == "off":
            return ["flow-switch-stuck-closed", "heater-relay-welded"] if load == "heater" else []
        cleared = list(LOW_SUSPECTS[load])
        if load == "heater":
            cleared += FLOW_OPEN_FAULTS
        if load == "blower":
            cleared.append("check-valve-leak")
        return cleared

    @staticmethod
    def _band(params: Params) -> Limits:
        """What the draw change is judged against (the console's draw checks use the same)."""
        return draw_band(
            params["load"],
            level=params["level"],
            expect=params["expect"],
            low=params["low"],
            high=params["high"],
            marginal=params["marginal"],
        )

    def requires(self, params: Params) -> str | None:
        if params["load"] == JETS:
            return "jet"
        return params["load"] if params["load"] in ("ozone", "uvc") else None

    def _filter(self, params: Params) -> bool | None:
        if params["filter"] is not None:
            return bool(params["filter"])
        load = params["load"]
        if load == "heater":
            return bool(params["expect"] == "on")
        if load in ("ozone", "uvc") and params["expect"] == "on":
            return True
        return None

    def _metered(self, params: Params, instruments: Instruments) -> bool:
        return meter_judges_draw(self._band(params), instruments)

    def unmeasurable(self, params: Params, instruments: Instruments) -> str | None:
        if self._metered(params, instruments) or params["load"] in PERCEIVED:
            return None
        return NEEDS_METER

    def blind_to(self, params: Params, instruments: Instruments) -> dict[str, str]:
        # A heater is judged from the wire by heater-rise, a welded relay by idle-power; an
        # ozone generator or UVC lamp that draws nothing shows no other sign at all.
        load = params["load"]
        if load not in SIGNLESS or params["expect"] != "on":
            return {}
        if self.unmeasurable(params, instruments) is None:
            return {}
        return dict.fromkeys(LOW_SUSPECTS[load], NEEDS_METER)

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        declared = [RUNNING]
        on = params["expect"] == "on"
        if self._metered(params, instruments):
            declared.append(
                Declared("draw_w", "W", "change in draw", self._band(params), change=True)
            )
        else:
            declared.append(
                Declared(
                    "running",
                    description=f"operator: the {params['load']} is heard running",
                    limits=limits(expected=on),
                )
            )
        if params["load"] == "heater":
            declared.append(Declared("flow", description="flow reported during the test"))
        return declared

    def describe(self, params: Params) -> str:
        load = params["load"]
        name = f"blower level {params['level']}" if load == "blower" else load
        if params["expect"] == "off":
            return f"{name} on, filter {'on' if self._filter(params) else 'off'}: no draw"
        return f"{name} on: draws"

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        params = run.params
        load, level, on = params["load"], params["level"], params["expect"] == "on"
        pump_before = link.state.filter
        pump = self._filter(params)
        if pump is not None and pump != pump_before:
            link.set_loads(filter=pump)
            switched_at = ctx.now()
            ctx.wait_for(
                lambda: flow_settled(link, switched_at, pump),
                PUMP_SETTLE_S,
                "pump settling",
            )
            ctx.wait(1.0, "pump settling")
        metered = ctx.meter is not None and self._metered(params, ctx.instruments)
        baseline = ctx.power_w() if metered else None
        switch(ctx, load, True, level)
        ctx.wait(params["settle"], f"{load} settling")
        try:
            if not check_running(run, load):
                raise run.fail(run.halt or "unit stopped")
            if load == "heater":
                run.measure("flow", flow_complete(link.flow))
            if baseline is not None:
                ok = run.measure("draw_w", draw_change_w(baseline, ctx.power_w()))
            else:
                ok = run.measure("running", ctx.confirm(PERCEIVED[load]))
            if not ok:
                self._narrow(run, load, on, baseline)
        finally:
            if not params["leave_on"] and link.alive():
                switch(ctx, load, False)
                if pump is not None and pump != pump_before:
                    link.set_loads(filter=pump_before)
                ctx.wait(1.0, "switching off")

    @staticmethod
    def _narrow(run: StepRun, load: str, on: bool, baseline: float | None) -> None:
        if not on:
            return  # the defaults say it
        item = run.result.measurement("draw_w") if baseline is not None else None
        too_high = (
            item is not None
            and item.limits.high is not None
            and isinstance(item.value, float)
            and item.value > item.limits.high
        )
        if too_high:
            run.suspect("power-board-dead")
        elif load == "heater":
            run.suspect(*heater_suspects(run.ctx.link, baseline))
        elif load in F1_OFF_LOADS and f1_latched(run.ctx.link):
            # The pump runs without flow: the box's F1 latch switched the load off.
            run.suspect(*flow_suspects(run.ctx.link.flow, None))


class Flow(StepType):
    kind = "flow"
    summary = "the two flow switches (inlet, outlet) both close exactly when the filter pump runs"
    params = (
        Param("filter", "bool", doc="filter pump on or off for the check"),
        Param(
            "timeout",
            "float",
            FLOW_TIMEOUT_S,
            "seconds for the report to follow",
            minimum=1,
            maximum=600,
        ),
    )

    def default_suspects(self, params: Params) -> list[str]:
        return list(FLOW_OPEN_FAULTS) if params["filter"] else ["flow-switch-stuck-closed"]

    def clears(self, params: Params) -> list[str]:
        return list(FLOW_OPEN_FAULTS) if params["filter"] else ["flow-switch-stuck-closed"]

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        on = params["filter"]
        declared = [
            Declared(
                "flow",
                description="both switches closed (08 03)" if on else "both switches open (08 00)",
                limits=limits(expected=on),
            ),
            Declared("flow_report", description="08's parameter: 1 inlet closed, 2 outlet, 3 both"),
        ]
        if on and meter_tells_running("filter", instruments):
            declared.append(
                Declared("pump_draw_w", "W", "change in draw when the pump started", change=True)
            )
        return declared

    def describe(self, params: Params) -> str:
        if params["filter"]:
            return "pump on: both flow switches closed (08 03)"
        return "pump off: both flow switches open (08 00)"

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        pump = run.params["filter"]
        metered = ctx.meter is not None and meter_tells_running("filter", ctx.instruments)
        baseline = ctx.power_w() if pump and metered else None
        link.set_loads(filter=pump)
        switched = ctx.now()

        ctx.wait_for(
            lambda: flow_settled(link, switched, pump),
            run.params["timeout"],
            "waiting for flow report",
        )
        flow = link.flow
        if flow is None or link.flow_at is None or link.flow_at <= switched:
            run.suspect("power-board-dead", "link-noisy")
            raise run.fail("no flow report since the pump was switched")
        run.measure("flow_report", flow.to_parameter())
        pump_drawing: bool | None = None
        if baseline is not None:
            after = ctx.power_w()
            run.measure("pump_draw_w", draw_change_w(baseline, after))
            pump_drawing = load_runs("filter", after - baseline)
        if run.measure("flow", _flowing(flow, pump)):
            return
        if pump:
            if flow.inlet or flow.outlet:
                run.suspect(*flow_suspects(flow, None))
                open_side = "inlet" if not flow.inlet else "outlet"
                raise run.fail(
                    f"the {open_side} flow switch stays open with the pump on "
                    f"(08 {flow.to_parameter():02X}, both closed is 08 03)"
                )
            if pump_drawing is None:
                pump_drawing = ctx.confirm(PERCEIVED["filter"])
            run.suspect(*flow_suspects(flow, pump_drawing))
            raise run.fail(
                "no flow reported with the pump " + ("running" if pump_drawing else "commanded on")
            )
        raise run.fail(f"flow reported with the pump off (08 {flow.to_parameter():02X})")


def _flowing(flow: FlowSwitches, pump: bool) -> bool:
    """The ``flow`` measurement (expected: ``pump``): with the pump on, True only when both
    switches are closed; with it off, True when either is (flow where there is none)."""
    return flow_complete(flow) if pump else bool(flow.inlet or flow.outlet)


class FlowError(StepType):
    """F1 as published (issue 12, ET): with the pump commanded and the flow switches not
    both closed for the plate's ``errors_f1_after_s``, the box latches F1 (heater, ozone,
    UVC off); a long press of Filter sends 0B 00, which clears it, and the box reports 08 03
    for ``errors_f1_reset_report_s`` and then the true flow again.

    It applies only where the pump runs without flow — a unit with a flow fault; on a unit
    whose switches close there is no F1 to provoke, and the step passes saying so. What it
    checks is the box's side of F1 (the latch and its reset on the wire); that a flow fault
    is present is the ``flow`` step's finding, not this one's. The loads F1 switched off are
    not checked here: the load steps narrow them to the flow (:func:`f1_latched`).
    """

    kind = "flow-error"
    summary = "F1 where it applies: pump on without flow latches F1; a long press of Filter \
(0B 00) clears it, the box reports 08 03 briefly, then the true flow"
    params = (
        Param(
            "timeout",
            "float",
            FLOW_TIMEOUT_S,
            "seconds for the flow report to follow the pump",
            minimum=1,
            maximum=600,
        ),
    )
    suspects = ("power-board-dead",)

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared("f1_applies", description="the pump runs without full flow (08 ≠ 03)"),
            Declared(
                "reset_report",
                description="after the long press of Filter (0B 00) the box reports 08 03",
                limits=limits(expected=True),
            ),
            Declared(
                "true_flow_after_reset",
                description="after the reset's 08 03 the box reports the true flow again",
                limits=limits(expected=True),
            ),
        ]

    def describe(self, params: Params) -> str:
        return "pump on without flow: F1 latches, 0B 00 resets it (08 03 briefly, then the truth)"

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        plate = link.plate
        period = plate.link_report_period_s
        pump_on = bool(link.state.filter)
        link.set_loads(filter=True)
        began = ctx.now()
        since = -1.0 if pump_on else began  # a pump already on: any trusted report will do
        ctx.wait_for(
            lambda: flow_settled(link, since, True), run.params["timeout"], "waiting for flow"
        )
        if flow_complete(link.flow):
            run.measure("f1_applies", False)
            run.result.message = "flow with the pump on: no F1 to provoke on this unit"
            return
        run.measure("f1_applies", True)
        true_flow = link.flow
        latched_after = plate.errors_f1_after_s + period + F1_MARGIN_S

        def latched_at() -> float:
            # The pump without flow for f1_after_s since this step began — or since a
            # keep-alive's 0B 00 last cleared the latch.
            return max(began, link.reset_sent_at or began) + latched_after

        while ctx.now() < latched_at() - 1e-9:
            ctx.wait(latched_at() - ctx.now(), "waiting for F1")
        link.long_press_filter()
        sent = ctx.now()
        window = f1_reset_window_s(plate)  # reports in it are the reset's, not the flow's
        ctx.wait_for(
            lambda: link.reset_flow_at is not None and link.reset_flow_at > sent,
            window,
            "waiting for the reset's report",
        )
        reported = link.reset_flow if (link.reset_flow_at or -1.0) > sent else None
        ok = run.measure("reset_report", flow_complete(reported))
        ctx.wait_for(
            lambda: link.flow_at is not None and link.flow_at > sent,
            window + 2 * period,
            "waiting for the true flow",
        )
        after = link.flow if (link.flow_at or -1.0) > sent else None
        ok = run.measure("true_flow_after_reset", after is not None and after == true_flow) and ok
        if not ok:
            heard = "nothing" if reported is None else f"08 {reported.to_parameter():02X}"
            raise run.fail(
                f"F1 reset not as published: after 0B 00 the box reported {heard}, then "
                + ("nothing" if after is None else f"08 {after.to_parameter():02X}")
            )


STEP_TYPES: tuple[StepType, ...] = (SetLoads(), IdlePower(), LoadPower(), Flow(), FlowError())
