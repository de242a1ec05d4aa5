"""What each of the ``--count N`` units of one ``spasim serve`` gets: its own options.

A station of N channels is rehearsed against N virtual boxes served by one process. Each
box must be told apart (its index, 1-based, on every line it prints or logs), reached at its
own address, and be independent (its own faults, profile and noise seed). This module turns
the command line into one :class:`UnitPlan` per unit, refusing — before anything is bound or
served — what cannot be honoured:

* ``--fault ID`` means every unit; ``--fault N:ID`` unit N only. ``--profile NAME`` is every
  unit's model; ``--profile N:NAME`` unit N's. A leading ``DIGITS:`` is always an index (no
  fault id or packaged profile starts with a digit; a profile file whose name does would have
  to be written ``./2:odd.toml``). An index outside 1..N is a one-line usage error.
* ``--tcp``, ``--meter-tcp`` and ``--control`` with port P give unit *i* port P + i − 1
  (consecutive ports, so a station file can be written without asking); port 0 gives each
  unit a free port of its own, not necessarily consecutive (the printed lines say which).
* ``--seed S`` gives unit *i* the noise seed S + i − 1 (modulo 2³²), so no two boxes'
  sensors wander in step.
* ``--capture FILE`` gives unit *i* ``FILE`` with ``-i`` before the suffix
  (``cap.txt`` → ``cap-1.txt``).
* Box *i* is plugged in (i − 1)/N of its report period after box 1
  (:meth:`UnitPlan.plugged_in_after`).

With one unit (``--count 1`` or no ``--count``) every option means exactly what it always
did: no index in any name, line or file.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from protocols.cli_support import UsageError
from spasim.simulation import SEED_RANGE

COUNT_RANGE = (1, 64)
"""``--count``: one unit up to 64, far more channels than a bench PC has adapters for. Every
unit shares one serving loop on one core: at ``--speed 1`` with a remote on each, 16 boxes
took 0.2 % of a core and 64 boxes 0.5 %, report jitter p99 under 3 ms (measured, 2 cores)."""

_INDEXED = re.compile(r"(\d+):(.*)", re.DOTALL)


@dataclass(frozen=True)
class Indexed:
    """An option value for every unit (``index`` None) or for unit ``index`` only."""

    index: int | None
    value: str
    text: str
    """What the user wrote, for error messages."""


def indexed(text: str) -> Indexed:
    """An argparse ``type``: ``VALUE`` (every unit) or ``N:VALUE`` (unit N only)."""
    match = _INDEXED.fullmatch(text)
    if match is None:
        return Indexed(None, text, text)
    if not match.group(2):
        raise argparse.ArgumentTypeError(f"expected N:VALUE, got {text!r}")
    return Indexed(int(match.group(1)), match.group(2), text)


@dataclass(frozen=True)
class UnitPlan:
    """One served unit: everything that differs between the units of one process."""

    index: int
    """1-based."""
    count: int
    role: str
    profile: str
    faults: tuple[str, ...]
    seed: int
    tcp: tuple[str, int] | None
    meter_tcp: tuple[str, int] | None
    control: tuple[str, int] | None
    capture: str | None

    def plugged_in_after(self, report_period_s: float) -> float:
        """Simulated seconds after box 1 that this box is plugged in: (I − 1)/N of its
        report period. Real boxes on a bench are plugged in one after another; served from
        one clock and all plugged in at once, every box would report in the same
        millisecond and a station would read N reports at once, every period — never so
        on a bench."""
        return (self.index - 1) / self.count * report_period_s

    @property
    def label(self) -> str:
        """What starts each of this unit's lines: ``"box 2: "``, or nothing for a lone unit."""
        return "" if self.count == 1 else f"{self.role} {self.index}: "

    @property
    def name(self) -> str:
        """``"box 2"`` in messages (just the role for a lone unit)."""
        return self.role if self.count == 1 else f"{self.role} {self.index}"


def check_indices(values: Sequence[Indexed], count: int, option: str) -> None:
    """Every ``N:`` names one of the units 1..count; otherwise one line for the user."""
    for value in values:
        if value.index is not None and not 1 <= value.index <= count:
            served = "the one unit served" if count == 1 else f"units 1–{count}"
            raise UsageError(f"{option} {value.text}: no unit {value.index} ({served})")


def for_unit(values: Sequence[Indexed], index: int) -> list[str]:
    """The values that apply to unit ``index``, in the order given."""
    return [value.value for value in values if value.index in (None, index)]


def one_for_unit(values: Sequence[Indexed], index: int, option: str, default: str) -> str:
    """The single value of an option that takes one: unit N's own, else everyone's, else the
    default; a second value for the same unit(s) is refused rather than silently ignored."""
    shared = [value for value in values if value.index is None]
    own = [value for value in values if value.index == index]
    for group in (shared, own):
        if len(group) > 1:
            raise UsageError(f"{option} given twice for the same unit(s): {group[1].text}")
    if own:
        return own[0].value
    return shared[0].value if shared else default


def consecutive(
    address: tuple[str, int] | None, count: int, option: str
) -> list[tuple[str, int] | None]:
    """Unit *i*'s address: port P + i − 1 (port 0: a free one each); refused past 65535."""
    if address is None:
        return [None] * count
    host, port = address
    if port == 0:
        return [(host, 0)] * count
    last = port + count - 1
    if last > 65535:
        raise UsageError(
            f"{option} {host}:{port} with --count {count} needs ports up to {last} (past 65535)"
        )
    return [(host, port + offset) for offset in range(count)]


def indexed_path(path: str, index: int, count: int) -> str:
    """``cap.txt`` → ``cap-2.txt`` for unit 2 of several; unchanged for a lone unit."""
    if count == 1:
        return path
    pure = PurePath(path)
    return str(pure.with_name(f"{pure.stem}-{index}{pure.suffix}"))


def unit_seed(seed: int, index: int) -> int:
    """Unit *i*'s noise seed, ``seed + i − 1`` wrapped into the seed range."""
    return (seed + index - 1) % (SEED_RANGE[1] + 1)


def plan_units(
    args: argparse.Namespace, default_profile: str, check_fault: Callable[[str], None]
) -> list[UnitPlan]:
    """One plan per unit from ``spasim serve``'s arguments, or :class:`UsageError`.

    ``check_fault`` refuses (``UsageError``) a fault id the unit's role cannot have; it runs
    for every value, so a bad fault is refused even when it names no unit.
    """
    count: int = args.count
    check_indices(args.fault, count, "--fault")
    check_indices(args.profile, count, "--profile")
    for fault in args.fault:
        check_fault(fault.value)
    tcps = consecutive(args.tcp, count, "--tcp")
    meters = consecutive(args.meter_tcp, count, "--meter-tcp")
    controls = consecutive(args.control, count, "--control")
    plans = []
    for index in range(1, count + 1):
        plans.append(
            UnitPlan(
                index=index,
                count=count,
                role=args.role,
                profile=one_for_unit(args.profile, index, "--profile", default_profile),
                faults=tuple(for_unit(args.fault, index)),
                seed=unit_seed(args.seed, index),
                tcp=tcps[index - 1],
                meter_tcp=meters[index - 1],
                control=controls[index - 1],
                capture=None if args.capture is None else indexed_path(args.capture, index, count),
            )
        )
    return plans
