"""The unit the console works on: a real one on a port, or a virtual one in-process.

A virtual unit for the console is the bench's usual virtual box (:func:`bench.testing.targets.
virtual_box_target`: 20 L test tank, virtual meter) with one difference: it runs under a
:class:`~protocols.driver.RealTimeDriver` on the same scheduler instead of jumping through
time, so the water visibly warms while the technician watches (``speed`` accelerates it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.console.loads import AutoOffTimes
from bench.console.operator import ConsoleOperator
from bench.testing.instruments.specs import DEFAULT_INSTRUMENTS, Instruments
from bench.testing.targets import Target, real_target, virtual_box_target
from protocols.clock import Scheduler
from protocols.driver import Driver, RealTimeDriver
from protocols.mspa.models import load_model


def redrive(target: Target, driver: Driver) -> Target:
    """Run ``target`` under ``driver`` (which must share the target's scheduler)."""
    if driver.scheduler is not target.driver.scheduler:
        raise ValueError("the new driver must run the target's own scheduler")
    target.driver = driver
    if target.link is not None:
        target.link.driver = driver
    target.closers.append(driver.close)
    return target


def virtual_target(
    profile: str = "premium-4",
    *,
    faults: Sequence[str] = (),
    seed: int = 0,
    serial: str = "",
    speed: float = 1.0,
    make_driver: Callable[[Scheduler], Driver] | None = None,
    instruments: Instruments = DEFAULT_INSTRUMENTS,
) -> Target:
    """A virtual box for the console, driven in real time at ``speed``, or by
    ``make_driver(scheduler)`` (a :class:`~bench.console.stepped.SteppedDriver` to step time
    yourself)."""
    target = virtual_box_target(
        profile, faults=faults, seed=seed, serial=serial, instruments=instruments
    )
    scheduler = target.driver.scheduler
    if make_driver is None:
        return redrive(target, RealTimeDriver(scheduler, speed=speed))
    return redrive(target, make_driver(scheduler))


def port_target(
    port: str,
    *,
    meter_url: str | None = None,
    profile: str | None = None,
    speed: float = 1.0,
    serial: str = "",
    operator_name: str = "technician",
    instruments: Instruments | None = None,
) -> Target:
    """A unit on a serial port / pty / ``socket://``; ``InstrumentError`` if it cannot open."""
    return real_target(
        port,
        operator=ConsoleOperator(operator_name),
        meter_url=meter_url,
        profile=profile,
        speed=speed,
        serial=serial,
        instruments=instruments,
    )


def auto_off_for(profile: str | None) -> AutoOffTimes:
    """The box's auto-off times from its model plate (SPEC defaults when none is known); read
    from :mod:`protocols.mspa.models`, so a console on a real box loads no simulator."""
    if not profile:
        return AutoOffTimes()
    plate = load_model(profile)
    return AutoOffTimes(plate.bubble_auto_off_s, plate.ozone_auto_off_s, plate.uvc_auto_off_s)


def fault_choices() -> list[tuple[str, str, str]]:
    """``(fault to inject, its id, signature)`` for every box fault of the catalogue (and the
    second mode of ``prcd-faulty``)."""
    from spasim.faults import CATALOGUE

    choices = []
    for spec in CATALOGUE:
        if spec.role != "box":
            continue
        choices.append((spec.id, spec.id, spec.signature))
        for mode in spec.modes[1:]:
            choices.append((f"{spec.id}:{mode}", spec.id, f"{spec.signature} [{mode}]"))
    return choices
