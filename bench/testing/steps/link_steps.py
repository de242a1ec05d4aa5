"""Steps about the serial link itself: is the box there, does it talk sense, is the line clean.

``link-up`` is also where a dead unit is triaged: a box that says nothing could be a tripped
or faulty PRCD, a dead transformer or a dead power board, and telling them apart needs the
meter (or the operator) and the PRCD's light — so the step gathers that evidence at once,
while the technician is still looking at a silent unit.
"""

from __future__ import annotations

import statistics

from bench.testing.instruments.specs import Instruments
from bench.testing.limits import (
    HANDSHAKE_TIMEOUT_S,
    KEEP_ALIVE_ANSWER_S,
    LINK_MIN_FRAMES,
    LOST_REPORT_PERCENT,
    NOISY_LINE_PERCENT,
    PLAUSIBLE_WATER_C,
    REPORT_PERIOD_S,
    REPORT_WAIT_S,
    REPORTS_PER_S,
    board_supplied,
    meter_sees_standby,
    transformer_present,
    water_band,
)
from bench.testing.steps.base import Declared, Param, Params, StepFailure, StepRun, StepType, limits
from protocols.mspa import FRAME_LENGTH, TEMPERATURE_MAX, Command, Frame

NEEDS_SUPPLY_CHECK = "a multimeter (or a meter that reads the standby draw)"


class LinkUp(StepType):
    kind = "link-up"
    summary = "the box answers the remote's handshake; if silent, find out why (PRCD, supply)"
    params = (
        Param(
            "timeout",
            "float",
            HANDSHAKE_TIMEOUT_S,
            "seconds to wait for the handshake",
            minimum=1,
            maximum=600,
        ),
        Param(
            "reset_timeout",
            "float",
            HANDSHAKE_TIMEOUT_S,
            "seconds to wait after a PRCD reset",
            minimum=1,
            maximum=600,
        ),
    )
    suspects = ("prcd-tripped", "prcd-faulty", "transformer-dead", "power-board-dead")

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared(
                "handshake",
                description="the box answered the handshake",
                limits=limits(expected=True),
            )
        ]

    def clears(self, params: Params) -> list[str]:
        return ["prcd-tripped", "transformer-dead", "power-board-dead"]

    def blind_to(self, params: Params, instruments: Instruments) -> dict[str, str]:
        if meter_sees_standby(instruments) or instruments.multimeter is not None:
            return {}
        return {fault: NEEDS_SUPPLY_CHECK for fault in ("transformer-dead", "power-board-dead")}

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        done = ctx.wait_for(lambda: link.handshake_done, run.params["timeout"], "handshake")
        run.measure("handshake", done)
        if done:
            return
        heard = link.frames_heard()
        counters = link.counters
        spoiled = counters.bad_checksums + counters.discarded_bytes
        if heard or spoiled:
            run.add(Declared("box_frames", description="good frames heard from the box"))
            run.measure("box_frames", heard)
            run.add(Declared("spoiled_percent", "%", "bytes in bad frames or thrown away"))
            share = 100.0 * spoiled / (spoiled + heard * FRAME_LENGTH)
            run.measure("spoiled_percent", round(share, 2))
            # A box that talks but garbles is a line problem; clean frames without a
            # handshake answer are the firmware's. A port opened mid-frame throws away a
            # few bytes on any line, so the line is judged by its share, as link-quality does.
            run.suspect("link-noisy" if share > NOISY_LINE_PERCENT else "power-board-dead")
            raise run.fail("the box talks but does not complete the handshake")
        self._triage(run)

    def _triage(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        run.add(Declared("prcd_light", description="operator: the PRCD's light is on"))
        light = ctx.confirm("prcd-light")
        run.measure("prcd_light", light)
        if light:
            supplied = self._board_supplied(run)
            if supplied is None:
                run.result.needs = NEEDS_SUPPLY_CHECK
                run.suspect()  # no part: either could be dead, and a guess costs a good part
                raise run.fail(
                    "no frames with the PRCD on: transformer or power board — "
                    f"telling them apart needs {NEEDS_SUPPLY_CHECK}"
                )
            if supplied:
                run.suspect("power-board-dead")
                raise run.fail("no frames although the power board is supplied")
            run.suspect("transformer-dead")
            raise run.fail("no frames and no supply from the transformer with the PRCD on")
        ctx.act("prcd-reset")
        restored = ctx.wait_for(
            lambda: link.handshake_done, run.params["reset_timeout"], "after PRCD reset"
        )
        run.add(Declared("restored_by_reset", description="frames after a PRCD reset"))
        run.measure("restored_by_reset", restored)
        if restored:
            run.suspect("prcd-tripped")
            raise run.fail("the PRCD was tripped; a reset restored the unit")
        run.suspect("prcd-faulty")
        raise run.fail("the PRCD is off and does not reset")

    @staticmethod
    def _board_supplied(run: StepRun) -> bool | None:
        """Does the transformer supply the power board? The meter if it can see a standby
        draw, else the multimeter on the transformer's secondary, else nobody can tell."""
        ctx = run.ctx
        instruments = ctx.instruments
        if ctx.meter is not None and meter_sees_standby(instruments):
            run.add(Declared("standby_w", "W", "draw of the silent unit"))
            standby = ctx.power_w()
            run.measure("standby_w", round(standby, 2))
            return board_supplied(standby, instruments)
        if instruments.multimeter is not None:
            run.add(
                Declared(
                    "transformer_vac",
                    "V",
                    "multimeter: AC volts at the transformer's secondary",
                )
            )
            volts = ctx.number("mm-transformer-vac", "V AC")
            run.measure("transformer_vac", volts)
            return transformer_present(volts)
        return None


class ReportsPresent(StepType):
    kind = "reports-present"
    summary = "the box reports water temperature (0x06) and flow (0x08) about once a second"
    params = (
        Param("window", "float", 5.0, "seconds to count reports over", minimum=2, maximum=3600),
        Param(
            "low", "float", REPORTS_PER_S[0], "fewest reports per second", minimum=0, maximum=100
        ),
        Param("high", "float", REPORTS_PER_S[1], "most reports per second", minimum=0, maximum=100),
    )
    suspects = ("power-board-dead", "link-noisy")

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        band = limits(params["low"], params["high"])
        return [
            Declared("water_reports_per_s", "1/s", "0x06 reports per second", band),
            Declared("flow_reports_per_s", "1/s", "0x08 reports per second", band),
        ]

    def run(self, run: StepRun) -> None:
        link = run.ctx.link
        window = run.params["window"]
        water0 = link.received[Command.WATER_TEMP]
        flow0 = link.received[Command.FLOW]
        run.ctx.wait(window, "counting reports")
        run.measure("water_reports_per_s", (link.received[Command.WATER_TEMP] - water0) / window)
        run.measure("flow_reports_per_s", (link.received[Command.FLOW] - flow0) / window)


class TemperaturePlausible(StepType):
    kind = "temperature-plausible"
    summary = "the reported water temperature is a plausible tank temperature"
    params = (
        Param(
            "low",
            "float",
            PLAUSIBLE_WATER_C[0],
            "°C; an open sensor reads 0.0",
            minimum=-20,
            maximum=130,
        ),
        Param(
            "high",
            "float",
            PLAUSIBLE_WATER_C[1],
            "°C; a shorted sensor reads 127.5",
            minimum=-20,
            maximum=130,
        ),
        Param("samples", "int", 3, "reports to take the median of", minimum=1, maximum=100),
    )
    suspects = ("temp-sensor-open", "temp-sensor-short")

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared(
                "water_c", "°C", "median water report", water_band(params["low"], params["high"])
            )
        ]

    def clears(self, params: Params) -> list[str]:
        return ["temp-sensor-open", "temp-sensor-short"]

    def run(self, run: StepRun) -> None:
        readings = read_temperatures(run, run.params["samples"])
        water = statistics.median(readings)
        if run.measure("water_c", water):
            return
        if water <= 0.0:
            run.suspect("temp-sensor-open")
        elif water >= TEMPERATURE_MAX:
            run.suspect("temp-sensor-short")
        raise run.fail(f"water reported at {water:.1f} °C")


def read_temperatures(run: StepRun, count: int) -> list[float]:
    """The next ``count`` water reports (each a fresh 0x06)."""
    link = run.ctx.link
    readings: list[float] = []
    for _ in range(count):
        before = link.water_at

        def fresh(before: float | None = before) -> bool:
            return link.water_at != before

        if not run.ctx.wait_for(fresh, REPORT_WAIT_S, "temperature"):
            raise run.fail(f"no temperature report within {REPORT_WAIT_S:g} s")
        assert link.water_c is not None
        readings.append(link.water_c)
    return readings


def _byte(name: str, doc: str, default: object = ...) -> Param:
    if default is ...:
        return Param(name, "int", doc=doc, minimum=0, maximum=255)
    return Param(name, "int", default, doc, minimum=-1, maximum=255)


class SendExpect(StepType):
    kind = "send-expect"
    summary = "send one frame to the box and expect a given answer"
    params = (
        _byte("command", "command code to send"),
        _byte("parameter", "parameter to send"),
        _byte("expect_command", "command code of the answer"),
        _byte("expect_parameter", "parameter of the answer (-1: any)", -1),
        Param(
            "timeout",
            "float",
            KEEP_ALIVE_ANSWER_S,
            "seconds to wait for the answer",
            minimum=0.01,
            maximum=60,
        ),
    )
    suspects = ("power-board-dead", "link-noisy")

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared(
                "answered", description="the expected answer came", limits=limits(expected=True)
            ),
            Declared("answer_ms", "ms", "time to the answer"),
        ]

    def describe(self, params: Params) -> str:
        sent = Frame.make(params["command"], params["parameter"]).hex()
        want = f"{params['expect_command']:02X} " + (
            "??" if params["expect_parameter"] < 0 else f"{params['expect_parameter']:02X}"
        )
        return f"send {sent}, expect A5 {want} within {params['timeout']:g} s"

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        link = ctx.link
        want_command = run.params["expect_command"]
        want_parameter = run.params["expect_parameter"]
        answers: list[float] = []

        def listener(time: float, sender: str, frame: Frame) -> None:
            if (
                sender == "box"
                and frame.command == want_command
                and (want_parameter < 0 or frame.parameter == want_parameter)
            ):
                answers.append(time)

        sent_at = ctx.now()
        link.listeners.append(listener)
        try:
            link.send_frame(Frame.make(run.params["command"], run.params["parameter"]))
            ctx.wait_for(lambda: bool(answers), run.params["timeout"], "answer")
        finally:
            link.listeners.remove(listener)
        run.measure("answered", bool(answers))
        if answers:
            run.measure("answer_ms", round((answers[0] - sent_at) * 1000, 1))


class LinkQuality(StepType):
    kind = "link-quality"
    summary = "the line is clean: few bad sums, few discarded bytes, few lost reports"
    params = (
        Param("window", "float", 30.0, "seconds to listen (at least)", minimum=5, maximum=3600),
        Param(
            "high",
            "float",
            NOISY_LINE_PERCENT,
            "largest share of bad checksums, %",
            minimum=0,
            maximum=100,
        ),
        Param(
            "discarded",
            "float",
            NOISY_LINE_PERCENT,
            "largest share of discarded bytes, %",
            minimum=0,
            maximum=100,
        ),
        Param(
            "lost",
            "float",
            LOST_REPORT_PERCENT,
            "largest share of reports lost in the window, %",
            minimum=0,
            maximum=100,
        ),
        Param(
            "min_frames",
            "int",
            LINK_MIN_FRAMES,
            "fewest frames to judge on",
            minimum=1,
            maximum=100000,
        ),
    )
    suspects = ("link-noisy",)

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared(
                "bad_sum_percent",
                "%",
                "frames with a bad checksum since the run began",
                limits(high=params["high"]),
            ),
            Declared(
                "discarded_percent",
                "%",
                "bytes thrown away while hunting for a frame, since the run began",
                limits(high=params["discarded"]),
            ),
            Declared(
                "lost_report_percent",
                "%",
                "0x06/0x08 reports missing in the window (one each per report period)",
                limits(high=params["lost"]),
            ),
            Declared(
                "frames",
                "",
                "good frames heard since the run began",
                limits(low=params["min_frames"]),
            ),
        ]

    def clears(self, params: Params) -> list[str]:
        return ["link-noisy"]

    def run(self, run: StepRun) -> None:
        # Judged over everything heard since the run began, not only the window: at a 1 %
        # limit a few dozen frames cannot tell a clean line from a noisy one, a whole run can.
        link = run.ctx.link
        counters = link.counters
        window = run.params["window"]
        reports0 = link.received[Command.WATER_TEMP] + link.received[Command.FLOW]
        run.ctx.wait(window, "listening")
        reports = link.received[Command.WATER_TEMP] + link.received[Command.FLOW] - reports0
        expected = 2.0 * int(window / REPORT_PERIOD_S)
        minimum = run.params["min_frames"]
        run.ctx.wait_for(lambda: counters.frames >= minimum, 2.0 * minimum, "listening")
        good, bad = counters.frames, counters.bad_checksums
        run.measure("frames", good)
        total = good + bad
        run.measure("bad_sum_percent", round(100.0 * bad / total, 2) if total else 100.0)
        received = good * FRAME_LENGTH + counters.discarded_bytes
        run.measure(
            "discarded_percent",
            round(100.0 * counters.discarded_bytes / received, 2) if received else 100.0,
        )
        lost = max(0.0, expected - reports)
        run.measure("lost_report_percent", round(100.0 * lost / expected, 2) if expected else 0.0)


STEP_TYPES: tuple[StepType, ...] = (
    LinkUp(),
    ReportsPresent(),
    TemperaturePlausible(),
    SendExpect(),
    LinkQuality(),
)

__all__ = ["STEP_TYPES", "StepFailure", "read_temperatures"]
