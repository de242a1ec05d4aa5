"""Steps for a returned control panel: the bench plays the box and listens to the panel.

A panel's job on the wire is small (SPEC §3): answer the box's power-on with the handshake,
repeat every state in a 7.5 s cycle, and send a burst ending in ``16 00`` on a key press. A
dead panel sends nothing at all (``panel-dead``).
"""

from __future__ import annotations

from bench.testing.instruments.specs import Instruments
from bench.testing.limits import PANEL_CYCLE_S, PANEL_HANDSHAKE_S, PANEL_KEY_S
from bench.testing.steps.base import Declared, Param, Params, StepRun, StepType, limits
from protocols.mspa import REMOTE_HANDSHAKE, STATE_CYCLE, Command

PANEL_SUSPECTS = ("panel-dead",)


class PanelHandshake(StepType):
    kind = "panel-handshake"
    summary = "the panel sends its power-on handshake (0B, 0A, 11, 10) to the box"
    role = "box"
    params = (
        Param("timeout", "float", PANEL_HANDSHAKE_S, "seconds to wait", minimum=1, maximum=600),
    )
    suspects = PANEL_SUSPECTS

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared(
                "handshake_frames",
                "",
                "distinct handshake frames heard",
                limits(low=len(REMOTE_HANDSHAKE)),
            ),
        ]

    def clears(self, params: Params) -> list[str]:
        return list(PANEL_SUSPECTS)

    def run(self, run: StepRun) -> None:
        box = run.ctx.box_role
        wanted = set(REMOTE_HANDSHAKE)

        def seen() -> int:
            return len(wanted & {frame for _, frame in box.log})

        run.ctx.wait_for(lambda: seen() == len(wanted), run.params["timeout"], "panel handshake")
        run.measure("handshake_frames", seen())


class PanelCycle(StepType):
    kind = "panel-cycle"
    summary = "the panel repeats every state frame within one 7.5 s cycle"
    role = "box"
    params = (
        Param("window", "float", PANEL_CYCLE_S, "seconds to listen", minimum=2, maximum=3600),
    )
    suspects = PANEL_SUSPECTS

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared("state_commands", "", "state commands heard", limits(low=len(STATE_CYCLE)))
        ]

    def run(self, run: StepRun) -> None:
        box = run.ctx.box_role
        since = run.ctx.now()
        run.ctx.wait(run.params["window"], "listening to the state cycle")
        heard = {frame.command for frame in box.frames_since(since)}
        if Command.INIT_10 in heard:
            heard.add(Command.UVC)  # variant B panels carry UVC on 0x10
        run.measure("state_commands", len(heard & set(STATE_CYCLE)))


class PanelKey(StepType):
    kind = "panel-key"
    summary = "a key press on the panel sends the state burst ending in 16 00"
    role = "box"
    params = (
        Param(
            "timeout",
            "float",
            PANEL_KEY_S,
            "seconds to wait for the burst",
            minimum=0.5,
            maximum=60,
        ),
    )
    suspects = PANEL_SUSPECTS

    def declare(self, params: Params, instruments: Instruments) -> list[Declared]:
        return [
            Declared("key_press", description="16 00 heard", limits=limits(expected=True)),
            Declared("burst_states", "", "state frames in the burst", limits(low=len(STATE_CYCLE))),
        ]

    def run(self, run: StepRun) -> None:
        ctx = run.ctx
        box = ctx.box_role
        since = ctx.now()
        ctx.act("panel-key")

        def key_seen() -> bool:
            return any(f.command == Command.KEY_PRESS for f in box.frames_since(since))

        pressed = ctx.wait_for(key_seen, run.params["timeout"], "waiting for the key burst")
        run.measure("key_press", pressed)
        if not pressed:
            return
        frames = box.frames_since(since)
        end = next(i for i, f in enumerate(frames) if f.command == Command.KEY_PRESS)
        burst = {f.command for f in frames[max(0, end - len(STATE_CYCLE)) : end]}
        if Command.INIT_10 in burst:
            burst.add(Command.UVC)
        run.measure("burst_states", len(burst & set(STATE_CYCLE)))


STEP_TYPES: tuple[StepType, ...] = (PanelHandshake(), PanelCycle(), PanelKey())
