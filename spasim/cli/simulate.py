"""``spasim simulate``: a box run by its panel for hours of simulated time, as a trace.

    spasim simulate --hours H [--profile P] [--setpoint °C] [--bubbles-at MIN]...
                    [--ozone-at MIN]... [--lid-off-at MIN[-MIN]]... [--ambient °C]
                    [--water °C] [--seed N] [--fault ID[@MIN]]... [--sample S]
                    [--csv FILE|-] [--plot FILE.svg|FILE.png] [--[no-]progress]

The panel has the heater and filter keys on and holds the set-point with its thermostat;
``--bubbles-at``/``--ozone-at`` press those keys that many minutes after mains on (repeat
for more presses), ``--lid-off-at 60-90`` takes the lid off from minute 60 to 90 (``60``
alone: until the end), ``--fault ID@MIN`` breaks a part mid-run (``ID`` alone: from the
start). The summary goes to stdout — to stderr when the CSV does (``--csv -``). Progress
goes to stderr while the run lasts (:mod:`spasim.cli.progress`); a long run's plot is drawn
from min/max-decimated rows so the file stays small (:func:`spasim.plot.decimate`).

Everything is checked before the run starts (including that the output folders exist), so
a typo costs one line and exit 2, never a finished simulation with nowhere to write it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from protocols.cli_support import EXIT_OK, Subcommand, UsageError, bounded_int, positive_float
from spasim.cli.progress import simulation_progress
from spasim.faults import parse_fault
from spasim.profiles import Profile, load_profile
from spasim.simulation import (
    DEFAULT_PROFILE,
    DEFAULT_SAMPLE_S,
    SEED_RANGE,
    LidOff,
    Scenario,
    TimedFault,
    format_summary,
    simulate,
)


def minutes(text: str) -> float:
    """A time in minutes after mains on: a finite number ≥ 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"minutes must be 0 or more, got {text!r}")
    return value


def lid_window(text: str) -> LidOff:
    """``START`` (lid off until the end) or ``START-END`` in minutes."""
    start, sep, end = text.partition("-")
    first = minutes(start)
    if not sep:
        return LidOff(first)
    last = minutes(end)
    if not last > first:
        raise argparse.ArgumentTypeError(f"expected START-END with END after START, got {text!r}")
    return LidOff(first, last)


def timed_fault(text: str) -> TimedFault:
    """``ID`` (present from the start) or ``ID@MIN``; the id is checked against the catalogue."""
    fault, sep, when = text.partition("@")
    try:
        parse_fault(fault)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return TimedFault(fault, minutes(when) if sep else 0.0)


def _configure(parser: argparse.ArgumentParser) -> None:
    _add_box_options(parser)
    _add_action_options(parser)
    _add_world_options(parser)
    _add_output_options(parser)


def _add_box_options(parser: argparse.ArgumentParser) -> None:
    """How long, which model, which set-point."""
    parser.add_argument(
        "--hours", type=positive_float, required=True, metavar="H", help="simulated hours to run"
    )
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        metavar="NAME",
        help=f"box model: a packaged profile name or a .toml path (default {DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--setpoint",
        type=int,
        default=None,
        metavar="°C",
        help="whole °C the panel's thermostat holds (default: the profile's power-on value)",
    )


def _add_action_options(parser: argparse.ArgumentParser) -> None:
    """What happens during the run: key presses and the lid."""
    parser.add_argument(
        "--bubbles-at",
        type=minutes,
        action="append",
        default=[],
        metavar="MIN",
        help="press the bubble key MIN minutes after mains on (repeatable)",
    )
    parser.add_argument(
        "--ozone-at",
        type=minutes,
        action="append",
        default=[],
        metavar="MIN",
        help="press the ozone key MIN minutes after mains on (repeatable)",
    )
    parser.add_argument(
        "--lid-off-at",
        type=lid_window,
        action="append",
        default=[],
        metavar="MIN[-MIN]",
        help="take the lid off at MIN (and put it back at the second MIN; repeatable)",
    )


def _add_world_options(parser: argparse.ArgumentParser) -> None:
    """Air, water, sensor noise and faults."""
    parser.add_argument(
        "--ambient", type=float, default=20.0, metavar="°C", help="air temperature (default 20)"
    )
    parser.add_argument(
        "--water", type=float, default=None, metavar="°C", help="start water (default: ambient)"
    )
    parser.add_argument(
        "--seed",
        type=bounded_int(*SEED_RANGE),
        default=0,
        metavar="N",
        help=f"seed for sensor noise, 0–{SEED_RANGE[1]} (default 0)",
    )
    parser.add_argument(
        "--fault",
        type=timed_fault,
        action="append",
        default=[],
        metavar="ID[@MIN]",
        help="a catalogue fault from the start, or from MIN minutes (repeatable)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """Sample period, CSV and plot."""
    parser.add_argument(
        "--sample",
        type=positive_float,
        default=DEFAULT_SAMPLE_S,
        metavar="S",
        help=f"seconds between sample rows (default {DEFAULT_SAMPLE_S:g}; changes add rows)",
    )
    parser.add_argument(
        "--csv", metavar="FILE", default=None, help="write the trace as CSV ('-' for stdout)"
    )
    parser.add_argument(
        "--plot",
        metavar="FILE",
        default=None,
        help="draw the trace into FILE.svg or FILE.png (long runs: min/max per time bucket)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: a bar when stderr is a terminal, outside CI; "
        "--progress elsewhere writes a line every 10 %%)",
    )


def _profile(name: str) -> Profile:
    try:
        return load_profile(name)
    except (ValueError, OSError) as error:
        raise UsageError(str(error)) from None


def _check_output(option: str, path: str) -> None:
    """Fail before the run, not after it, when ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a folder")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: cannot write in {folder}")


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The :class:`Scenario` the arguments describe; ``UsageError`` for anything wrong."""
    try:
        return Scenario(
            hours=args.hours,
            profile=_profile(args.profile),
            setpoint=args.setpoint,
            ambient_c=args.ambient,
            water_c=args.water,
            seed=args.seed,
            faults=tuple(args.fault),
            bubbles_at=tuple(args.bubbles_at),
            ozone_at=tuple(args.ozone_at),
            lid_off=tuple(args.lid_off_at),
            sample_s=args.sample,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None


def _run(args: argparse.Namespace) -> int:
    scenario = scenario_from_args(args)
    if args.plot is not None:
        from spasim.plot import plot_format

        try:
            plot_format(args.plot)
        except ValueError as error:
            raise UsageError(str(error)) from None
        _check_output("--plot", args.plot)
    if args.csv not in (None, "-"):
        _check_output("--csv", args.csv)
    with simulation_progress(scenario.seconds, sys.stderr, switch=args.progress) as progress:
        trace = simulate(scenario, progress)
    if args.csv == "-":
        trace.write_csv(sys.stdout)
    elif args.csv is not None:
        with open(args.csv, "w", encoding="utf-8", newline="") as stream:
            trace.write_csv(stream)
    if args.plot is not None:
        from spasim.plot import plot_trace

        plot_trace(trace, args.plot)
    out = sys.stderr if args.csv == "-" else sys.stdout
    out.write(format_summary(trace) + "\n")
    written = [path for path in (args.csv, args.plot) if path not in (None, "-")]
    if written:
        out.write("wrote " + ", ".join(written) + "\n")
    out.flush()
    return EXIT_OK


COMMAND = Subcommand(
    "simulate",
    "run a box with its panel for hours of simulated time; write a CSV trace and a plot",
    _configure,
    _run,
)
