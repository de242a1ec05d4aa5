"""What ``spabench run`` and ``spabench station run`` share: how a unit on a port becomes a
target, which prompts a plan adds, the records' checks of a serial and an order, and how a
signal stops the work and marks what was kept.

One definition, so a unit tested alone and the same unit tested on a station channel are
built, checked and filed by the same rules, and their messages cannot drift apart.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from bench.testing.identify import ModelPlateError
from bench.testing.instruments.operator import (
    Operator,
    OperatorError,
    PromptKind,
    RehearsalOperator,
)
from bench.testing.instruments.specs import Instruments
from bench.testing.plans import Plan
from bench.testing.targets import Target, real_target
from protocols.cli_support import UsageError
from protocols.driver import RealTimeDriver

if TYPE_CHECKING:
    from bench.records.store import Store
    from bench.testing.record import TestRecord

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130: Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143: SIGTERM (a service manager, kill)
EXIT_BY_SIGNAL = {int(signal.SIGINT): EXIT_INTERRUPTED, int(signal.SIGTERM): EXIT_TERMINATED}


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM while a command works: a KeyboardInterrupt, so the runner
    leaves the unit safe and its hooks keep what was done, whichever signal it was."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def signals_stop_the_run(*, raise_once: bool = False) -> Iterator[list[int]]:
    """SIGINT and SIGTERM raise :class:`Interrupted` while the command works (a SIGTERM
    would otherwise end the process on the spot, with nothing said and frames unstored).
    Yields the signals caught, in order.

    ``raise_once``: only the first raises; the later ones are only listed, for the caller
    to look at between its waits. A second exception raised into the main thread while the
    first unwinds can land inside a lock's wait, between its release and re-acquiring
    (Python's ``Condition.wait``), and leave it broken: a crash instead of a stop."""
    caught: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)
        if not raise_once or len(caught) == 1:
            raise Interrupted(signum)

    previous: dict[int, Any] = {}
    try:
        for handled in (signal.SIGINT, signal.SIGTERM):
            previous[handled] = signal.signal(handled, stop)
    except ValueError:  # not the main thread (an embedding caller): leave signals alone
        pass
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def mark_interrupted(record: TestRecord, finished_steps: int, steps: int, signum: int) -> None:
    """Make ``record`` the record so far of a run a signal stopped: verdict ``interrupted``,
    the same steps as the records keep (the finished ones), the step under way named in
    the error rather than passed off as a step with an outcome."""
    record.verdict = "interrupted"
    name = signal.Signals(signum).name
    record.error = f"interrupted ({name})"
    cut = record.steps[finished_steps:]
    del record.steps[finished_steps:]
    if cut:
        record.error = (
            f"interrupted ({name}) during step {finished_steps + 1} of {steps} "
            f"({cut[0].name}: {cut[0].title})"
        )


PROMPT_STEPS: dict[str, PromptKind] = {"operator-confirm": "yes/no", "operator-action": "action"}
"""Step types whose prompt id a plan names itself, and the answer each takes."""


def plan_prompts(plan: Plan | None) -> dict[str, PromptKind]:
    """The prompt ids a plan adds to the bench's own (its operator-confirm/-action steps)."""
    if plan is None:
        return {}
    return {
        str(spec.params["prompt"]): PROMPT_STEPS[spec.kind]
        for spec in plan.steps
        if spec.kind in PROMPT_STEPS
    }


def port_target(
    port: str,
    *,
    plan: Plan,
    operator: Operator,
    meter_url: str | None,
    instruments: Instruments,
    profile: str | None,
    speed: float,
    serial: str,
    simulated: bool,
    registered: str | None = None,
    driver: RealTimeDriver | None = None,
) -> Target:
    """The target of a unit on ``port`` (identified from the wire, see
    :func:`~bench.testing.targets.real_target`): a usage error for a model that cannot be
    told or a bad profile, :class:`~bench.testing.instruments.meter.InstrumentError` for a
    port that cannot be opened.

    ``registered``: the model the records know ``serial`` as. A model plate read, or a wire
    that names another model, is refused naming both — the run would otherwise be filed
    under that serial with the other model's limits, one record of two models. ``driver``:
    the caller's clock (see ``real_target``), still the caller's if this fails.

    A rehearsal operator acts on a served virtual box through its control channel: the
    unit on the port is a simulation, whatever the wire looks like; ``simulated`` says so of
    a served box run any other way."""
    try:
        target = real_target(
            port,
            role=plan.role,
            operator=operator,
            meter_url=meter_url,
            profile=profile,
            speed=speed,
            serial=serial,
            instruments=instruments,
            identify=True,
            driver=driver,
        )
    except (ModelPlateError, OperatorError) as error:
        raise UsageError(f"model: {error}") from None
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    model = target.unit.profile
    if registered and model and model != registered:
        if driver is not None:  # the caller's: it closes it
            target.closers.remove(driver.close)
        target.close()
        how = target.identified.removeprefix(f"model {model}").strip()
        raise UsageError(
            f"model: unit {serial!r} is registered as {registered}, not {model} {how}; "
            f"nothing was run: check the model plate and the unit (spabench unit show {serial})"
        )
    target.simulated = isinstance(operator, RehearsalOperator) or simulated
    return target


def unregistered(
    serial: str, profile: str, path: Path | str, *, or_register: bool = True
) -> UsageError:
    """The refusal of a serial the records do not know, naming the command that registers
    it (``profile``: the model to suggest; ``or_register``: the command has --register)."""
    tail = " (or run with --register --purchase-date YYYY-MM-DD)" if or_register else ""
    return UsageError(
        f"unit {serial!r} is not registered in {path}; nothing was run. Register it: "
        f"spabench unit add --serial {serial} --profile {profile} --purchase-date YYYY-MM-DD" + tail
    )


def check_order(store: Store, order_id: int, serial: str) -> None:
    """The order exists, is ``serial``'s and is still open (a usage error otherwise)."""
    try:
        order = store.order(order_id)
    except Exception as error:
        raise UsageError(str(error)) from None
    if order.unit_serial != serial:
        raise UsageError(f"order {order_id} is for unit {order.unit_serial!r}, not {serial!r}")
    if not order.is_open:
        raise UsageError(f"order {order_id} is handed back; open a new order")


def check_registered_profile(store: Store, serial: str, profile: str | None) -> str:
    """The profile ``serial`` is registered as (it must be registered); a usage error when
    ``profile`` was given and contradicts it."""
    unit = store.unit(serial)
    if profile and profile != unit.profile:
        raise UsageError(
            f"unit {serial!r} is registered as {unit.profile}, not {profile}; nothing "
            f"was run (drop --profile, or correct the unit: spabench unit show {serial})"
        )
    return unit.profile
