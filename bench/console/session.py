"""The console's driver thread: the unit, its link, the meter and the runner, never the UI.

Why a thread of its own: a bench waits — for frames, for a meter answer, for water to warm —
and a UI that waited with it would freeze. So everything that touches the instruments runs
here, in :meth:`Session.run`, and the UI talks to it only in thread-safe ways:

* quick commands (a load key, a PRCD press) are queued with ``driver.call_soon_threadsafe``
  and run between two events, even in the middle of a plan;
* jobs that wait (a plan, a troubleshooting check) are submitted and run one at a time; each
  returns a :class:`concurrent.futures.Future` the UI can await;
* what the screen shows comes back as an immutable :class:`~bench.console.state.Snapshot`
  plus the frames heard since the last look. The session rings its
  :class:`~bench.console.mailbox.Mailbox` (the app posts a Textual message, which is
  thread-safe) when there is something new, at most once until the UI has taken it — a fast
  unit cannot flood the UI's queue.

A lost link is an observation, not a crash: it shows in the snapshot and the session keeps
running (a plan started afterwards ends at once as "error: link lost").
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from bench.console.abortable import AbortableDriver, JobAborted
from bench.console.checks import CHECKS, Bench, CheckResult
from bench.console.loads import AutoOffTimes, LoadWatch
from bench.console.mailbox import Mailbox
from bench.console.operator import ConsoleOperator
from bench.console.state import (
    FrameEntry,
    LinkStatus,
    PromptKind,
    PromptView,
    RunView,
    Sample,
    Snapshot,
    WorldView,
)
from bench.console.stepped import SteppedDriver
from bench.testing.instruments.link import RemoteLink
from bench.testing.instruments.meter import InstrumentError
from bench.testing.instruments.operator import OperatorError, VirtualOperator
from bench.testing.limits import SETTLE_S
from bench.testing.targets import Target
from protocols.links import LinkLost
from protocols.mspa import Command, Frame
from protocols.sdm120 import MeterReading

T = TypeVar("T")


class JobStopped(Exception):
    """A job was aborted (by the technician or because the console closed)."""


class Session:
    """One unit on the bench, driven from a worker thread; see the module docstring.

    ``target`` must play the remote of a box (``target.link``). Its driver is wrapped in an
    :class:`AbortableDriver` so a job can be stopped at any wait. ``db_path`` (with a unit
    serial) files plan runs in the records store, on service order ``order_id`` if given.
    ``place`` names where the unit sits (``bench-2 · channel B``) in every snapshot.
    """

    def __init__(
        self,
        target: Target,
        *,
        auto_off: AutoOffTimes | None = None,
        sample_period: float = 1.0,
        history_seconds: float = 600.0,
        db_path: str | None = None,
        order_id: int | None = None,
        operator_name: str | None = None,
        shutdown_grace: float = 1.0,
        place: str = "",
    ) -> None:
        if target.link is None:
            raise ValueError("the console tests control boxes: the target needs a remote link")
        self.target = target
        self.link: RemoteLink = target.link
        self.inner = target.driver
        self.driver = AbortableDriver(self.inner)
        target.driver = self.driver
        self.sample_period = sample_period
        self.history_seconds = history_seconds
        self.db_path = db_path
        self.order_id = order_id
        self.place = place
        self.shutdown_grace = shutdown_grace
        world_operator = target.operator if isinstance(target.operator, VirtualOperator) else None
        if isinstance(target.operator, ConsoleOperator):
            self.operator = target.operator
        else:
            self.operator = ConsoleOperator(world=world_operator)
        if operator_name:
            self.operator.name = operator_name  # who ran the plans, in the records
        self.operator.bind(self)
        target.operator = self.operator
        self.mailbox = Mailbox()
        """The frames heard, and the wake-up (``mailbox.notify``) when a new snapshot waits."""

        self._history: deque[Sample] = deque(maxlen=max(1, int(history_seconds / sample_period)))
        self._jobs: deque[tuple[str, Callable[[], Any], Future[Any]]] = deque()
        self._stopped = False
        self._snapshot = Snapshot(
            serial=target.unit.serial,
            profile=target.unit.profile,
            where=target.link_description,
            meter_name=target.meter_description,
            simulated=target.simulated,
            order_id=order_id,
            place=place,
        )
        self._t0 = 0.0
        self._lost: str | None = None
        self._error: str | None = None
        self._notice: str | None = None
        self._busy: str | None = None
        self._meter_power: float | None = None
        self._meter_reading: MeterReading | None = None
        self._meter_error: str | None = None
        self.loads = LoadWatch(
            self.inner.scheduler,
            self.link,
            self._read_power,
            auto_off=auto_off or AutoOffTimes(),
            fitted=target.fitted,
            guard=self._guarded,
            changed=self.publish,
        )
        self._arming = self._arming_commands()
        self._prompt: PromptView | None = None
        self._prompt_seq = 0
        self._answers: dict[int, Any] = {}
        self.run_view: RunView | None = None
        self.finished = threading.Event()

    def _arming_commands(self) -> frozenset[int]:
        """The remote frames after which the auto-off countdowns are re-judged: the key-press
        marker (16 00, the end of a burst) — or, on a model whose panel sends none
        (super-camaro), the timed loads' own frames (03, 0E, the UVC code), on whose edges the
        box arms its timers; a repeat of the same level re-arms nothing either way."""
        plate = self.link.plate
        if plate.key_marker:
            return frozenset((Command.KEY_PRESS,))
        return frozenset((Command.BUBBLES, Command.OZONE, self.link.duty.uvc_command))

    # ------------------------------------------------------------------ UI thread API

    @property
    def virtual(self) -> bool:
        """A virtual unit the console can act on (PRCD, knob, faults)."""
        unit = self.target.virtual_unit
        return unit is not None and hasattr(unit, "press_prcd_test")

    @property
    def jets_fitted(self) -> bool:
        """The model plate says the unit has a jet pump (Elite): the console offers its key.
        (The plate is immutable, so the UI thread may read it.)"""
        return self.link.plate.jets_fitted

    def take(self) -> tuple[Snapshot, list[FrameEntry]]:
        """The latest snapshot and the frames heard since the last call (UI thread)."""
        frames = self.mailbox.take()  # first: the snapshot read after them is as new
        return self._snapshot, frames

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def call(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a quick command in the driver thread (it must not wait)."""
        self.inner.call_soon_threadsafe(self._guarded, callback, *args)

    def toggle(self, load: str) -> None:
        self.call(self._toggle, load)

    def cycle_bubbles(self) -> None:
        self.call(self._cycle_bubbles)

    def change_setpoint(self, delta: int) -> None:
        """The panel's + (``1``) or − (``-1``) key, as the remote duty presses it."""
        self.call(self._change_setpoint, delta)

    def long_press_filter(self) -> None:
        """A long press of Filter: 0B 00, which clears F1 (box and panel) and A0 (panel)."""
        self.call(self._long_press_filter)

    def command(self, **changes: bool | int) -> None:
        self.call(self._command, changes)

    def world_action(self, action: str, *args: Any) -> None:
        """``prcd`` (TEST when running, RESET when tripped), ``knob`` (toggle), ``fault``
        (inject or clear ``args[0]``), or an operator prompt id (``prcd-reset``)."""
        self.call(self._world_action, action, *args)

    def tell(self, line: str) -> None:
        """Show ``line`` as the console's notice (any thread: what the records did with a
        run, said by the thread that handed it on)."""
        self.call(self._tell, line)

    def _tell(self, line: str) -> None:
        self._notice = line
        self.publish()

    def answer(self, seq: int, value: Any) -> None:
        """The technician's answer to prompt ``seq`` (``None``: cancelled)."""
        self.call(self._answer, seq, value)

    def submit(self, name: str, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` in the driver thread after any job before it; it may wait."""
        future: Future[T] = Future()
        self.call(self._jobs.append, (name, job, future))
        return future

    def run_check(self, check_id: str) -> Future[CheckResult]:
        """Run one troubleshooting check (:data:`~bench.console.checks.CHECKS`) as a job."""
        spec = CHECKS[check_id]
        bench = Bench(self.link, self.target.meter, self.driver, self.target.instruments)
        return self.submit(f"check {check_id}", lambda: spec.run(bench))

    def prepare(self, loads: dict[str, bool | int], prompt_id: str | None) -> Future[str]:
        """Before a question: switch ``loads`` on and let them start, then say what a person
        at a virtual bench would answer (empty for a real unit)."""

        def job() -> str:
            if loads:
                self._command(dict(loads))
                self.driver.sleep(SETTLE_S)
            return self.operator.hint(prompt_id) if prompt_id else ""

        return self.submit("preparing the question", job)

    def abort_job(self) -> None:
        """Stop the running job at its next wait (loads are then switched off); nothing if
        no job runs by the time the driver thread gets the request."""
        self.call(self._abort_if_busy)

    def _abort_if_busy(self) -> None:
        # Decided in the driver thread: a job that has just finished is not "running".
        if self._busy is not None:
            self.driver.abort()

    def stop(self) -> None:
        """End :meth:`run`: abort any job, switch loads off, close the target."""
        self._stopped = True
        self.driver.abort()
        if isinstance(self.inner, SteppedDriver):
            self.inner.release()  # nobody will step it again; let the shutdown run

    # -------------------------------------------------------------- driver thread

    def run(self) -> None:
        """The driver thread's whole life: start the link, serve commands and jobs."""
        try:
            self._start()
            while not self._stopped:
                try:
                    self.inner.wait_until(lambda: self._stopped or bool(self._jobs), None)
                except LinkLost as error:
                    self._link_lost(error)
                    continue
                if self._jobs and not self._stopped:
                    self._run_job(*self._jobs.popleft())
        except Exception:
            self._error = traceback.format_exc(limit=8).strip().splitlines()[-1]
            self.publish()
        finally:
            self._shutdown()

    def _start(self) -> None:
        scheduler = self.inner.scheduler
        self._t0 = scheduler.now()
        self.link.listeners.append(self._on_frame)
        self.target.start()
        self._sample()
        scheduler.call_every(self.sample_period, self._guarded, self._sample)

    def _shutdown(self) -> None:
        while self._jobs:
            _, _, future = self._jobs.popleft()
            future.cancel()
        self.driver.resume()
        self._make_safe()
        if self._prompt is not None:
            self._prompt = None
        try:
            self.target.close()
        finally:
            self.publish()
            self.finished.set()

    def _make_safe(self) -> None:
        """Every load off, and time for the burst to go out (a bench never leaves a heater
        running); nothing to do on a lost link."""
        if self._lost is not None or self.link.port.lost is not None:
            return
        try:
            self.link.resume()
            self.link.all_off()
            self.inner.wait_until(lambda: False, self.shutdown_grace)
        except LinkLost as error:
            self._link_lost(error)

    def _run_job(self, name: str, job: Callable[[], Any], future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        self.driver.resume()  # no abort meant for an earlier job may leak into this one...
        if self._stopped:
            self.driver.abort()  # ...but a console closing meanwhile still stops this one
        self._busy = name
        self.publish()
        try:
            result = job()
        except JobAborted:
            self.driver.resume()
            self._close_prompt()
            self._make_safe()
            future.set_exception(JobStopped(f"{name}: stopped"))
        except LinkLost as error:
            self._link_lost(error)
            future.set_exception(error)
        except Exception as error:
            future.set_exception(error)
        else:
            future.set_result(result)
        finally:
            self._busy = None
            self.publish()

    def _guarded(self, callback: Callable[..., Any], *args: Any) -> None:
        """A queued command or tick: an instrument problem is shown, never a crash."""
        try:
            callback(*args)
        except LinkLost as error:
            self._link_lost(error)
        except (InstrumentError, OperatorError, ValueError) as error:
            self._notice = str(error)
            self.publish()

    def _link_lost(self, error: BaseException) -> None:
        if self._lost is None:
            self._lost = str(error) or "link lost"
        self.publish()

    # -- commands (driver thread) -------------------------------------------------------

    def _command(self, changes: dict[str, bool | int]) -> None:
        """Change loads as a key press (the meter is read around it, see :class:`LoadWatch`)."""
        self.loads.switch(changes)
        self.publish()

    def _toggle(self, load: str) -> None:
        self._command({load: not getattr(self.link.state, load)})

    def _cycle_bubbles(self) -> None:
        self._command({"bubbles": (self.link.state.bubbles + 1) % 4})

    def _change_setpoint(self, delta: int) -> None:
        """Through :meth:`RemoteDuty.press_setpoint <protocols.mspa.remote.RemoteDuty.
        press_setpoint>`, so the console presses + and − exactly as the model's panel does:
        on a ``remote_show_setpoint`` plate the first press only shows the set-point (04 with
        the unchanged value), and the value stays in the plate's range (10–40 °C on every
        shipped model, not the module's old 20–40 °C). A press at the end of the range still
        sends the burst, as the panel does. No load switches, so no meter window opens."""
        self.link.press_setpoint(delta)
        self.publish()

    def _long_press_filter(self) -> None:
        self.link.long_press_filter()
        self.publish()

    def _world_action(self, action: str, *args: Any) -> None:
        world = self.target.virtual_unit
        if world is None:
            return
        if action == "prcd":
            if world.prcd_tripped:
                world.press_prcd_reset()
            else:
                world.press_prcd_test()
        elif action == "knob":
            world.set_knob("off" if world.knob == "inflate" else "inflate")
        elif action == "fault":
            fault = str(args[0])
            if fault.split(":")[0] in {f.split(":")[0] for f in world.active_faults}:
                world.clear(fault)
            else:
                world.inject(fault)
        else:
            self.operator.do(action)
        self.publish()

    def _answer(self, seq: int, value: Any) -> None:
        if self._prompt is not None and self._prompt.seq == seq:
            self._answers[seq] = value
            self._prompt = None
            self.publish()

    # -- prompts (driver thread, inside a job) ------------------------------------------

    def ask(
        self, kind: PromptKind, prompt_id: str, text: str, unit: str = "", hint: str = ""
    ) -> Any:
        """Show a prompt and wait (running the unit meanwhile) for the technician's answer.

        The wait goes through the driver, so frames, keep-alives and the live panel carry on
        while the technician reads; ``OperatorError`` when the prompt was cancelled.
        """
        self._prompt_seq += 1
        seq = self._prompt_seq
        self._prompt = PromptView(seq, kind, prompt_id, text, unit, hint)
        self.publish()
        self.driver.wait_until(lambda: seq in self._answers, None)
        value = self._answers.pop(seq)
        if value is None:
            raise OperatorError(f"no answer: the technician cancelled '{text}'")
        return value

    def _close_prompt(self) -> None:
        if self._prompt is not None:
            self._prompt = None
            self.publish()

    # -- observation (driver thread) ----------------------------------------------------

    def _on_frame(self, t: float, sender: str, frame: Frame) -> None:
        self.mailbox.put(FrameEntry(round(t - self._t0, 4), sender, frame, self.link.plate))
        if sender == "remote" and frame.command in self._arming:
            self.loads.key_pressed(t)
        self.publish()

    def _read_power(self) -> float | None:
        meter = self.target.meter
        if meter is None:
            return None
        try:
            reading = meter.read()
        except InstrumentError as error:
            self._meter_error = str(error)
            return None
        self._meter_reading = reading
        self._meter_error = None
        self._meter_power = float(reading.power_w)
        return self._meter_power

    def _sample(self) -> None:
        self._read_power()
        now = self.inner.scheduler.now()
        self._history.append(Sample(round(now - self._t0, 3), self.link.water_c, self._meter_power))
        self.publish()

    def _link_status(self, now: float) -> LinkStatus:
        lost = self._lost or (str(self.link.port.lost) if self.link.port.lost else None)
        if lost is not None:
            return LinkStatus("lost", detail=lost)
        if self.link.alive():
            return LinkStatus("connected" if self.link.handshake_done else "handshaking")
        last = self.link.last_frame_at
        since = last if last is not None else self._t0
        return LinkStatus("silent", silent_for=now - since)

    def _world(self) -> WorldView | None:
        world = self.target.virtual_unit
        if not self.virtual:
            return None
        prcd = "tripped" if world.prcd_tripped else ("on" if world.prcd_light else "off")
        return WorldView(world.knob, prcd, tuple(world.active_faults))

    def publish(self) -> None:
        now = self.inner.scheduler.now()
        link = self.link
        self._snapshot = Snapshot(
            t=round(now - self._t0, 3),
            link=self._link_status(now),
            serial=self.target.unit.serial,
            profile=self.target.unit.profile,
            where=self.target.link_description,
            meter_name=self.target.meter_description,
            simulated=self.target.simulated,
            order_id=self.order_id,
            place=self.place,
            bad_frames=link.counters.bad_checksums,
            frames=link.frames_heard(),
            water_c=link.water_c,
            panel_code=link.panel_code,
            flow=link.flow,
            state=link.state,
            loads=self.loads.views(now, None if self._meter_error else self._meter_power),
            meter=self._meter_reading,
            meter_error=self._meter_error,
            history=tuple(self._history),
            window=self.history_seconds,
            world=self._world(),
            busy=self._busy,
            run=self.run_view,
            prompt=self._prompt,
            error=self._error,
            notice=self._notice,
        )
        self.mailbox.ring()
