"""``spabench run``: test a unit with a plan, show it live, file the record, say what to replace.

Real unit::

    spabench run --port /dev/ttyUSB0 --meter rtu:///dev/ttyUSB1 --plan full --unit SN123

A box served by ``spasim serve --control`` (a rehearsal or CI: a virtual person does what
each prompt asks through the control channel)::

    spabench run --port /dev/pts/7 --meter tcp://127.0.0.1:5020 --speed 100 \\
        --operator control://127.0.0.1:7002 --profile premium-4 --plan full

Virtual unit (everything in-process on one simulated clock, the full plan in seconds)::

    spabench run --virtual --profile concept-4 --fault filter-pump-dead --json run.json

Exit status: 0 pass, 1 fail, 2 usage error, 3 error (link lost, instrument missing).
"""

from __future__ import annotations

import argparse
import getpass
import math
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console

from bench.cli.options import add_unit_options, instruments_from_args
from bench.cli.order import id_argument
from bench.cli.progress import LiveProgress, make_console
from bench.testing.identify import ModelPlateError
from bench.testing.instruments.meter import InstrumentError
from bench.testing.instruments.operator import (
    AnswersOperator,
    Operator,
    OperatorError,
    RehearsalOperator,
    TerminalOperator,
)
from bench.testing.plans import Plan, PlanError, load_plan
from bench.testing.runner import RunHooks, Runner
from bench.testing.targets import Target, real_target, virtual_box_target, virtual_panel_target
from protocols.cli_support import EXIT_ERROR, EXIT_FAIL, EXIT_OK, Subcommand, UsageError
from protocols.control import CONTROL_SCHEME
from protocols.files import OutputPathError, OutputWriteError, check_output_path, write_atomic

if TYPE_CHECKING:
    from bench.records.filing import RunFiling
    from bench.records.store import Store

EXIT_BY_VERDICT = {"pass": EXIT_OK, "fail": EXIT_FAIL, "error": EXIT_ERROR}


def _configure(parser: argparse.ArgumentParser) -> None:
    add_unit_options(parser, virtual_help="test a virtual unit in-process")
    parser.add_argument(
        "--no-meter",
        action="store_true",
        help="virtual unit without a meter (steps ask the operator)",
    )
    parser.add_argument(
        "--plan", default="full", metavar="NAME|PATH", help="plan to run (default: full)"
    )
    parser.add_argument("--unit", metavar="SERIAL", default="", help="serial number of the unit")
    parser.add_argument(
        "--operator",
        metavar="NAME|control://HOST:PORT",
        help="who runs the test (recorded); control://HOST:PORT: a rehearsal operator that "
        "does each prompt through a served box's control channel (spasim serve --control)",
    )
    parser.add_argument(
        "--answers", metavar="FILE", help="TOML answers to operator prompts (prompt id = answer)"
    )
    parser.add_argument("--json", metavar="FILE", help="write the whole record as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed of the virtual unit and meter")
    parser.add_argument(
        "--ambient",
        type=float,
        default=20.0,
        metavar="°C",
        help="ambient temperature of the virtual unit",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="time scale of a simulated unit on --port (1 for hardware)",
    )
    parser.add_argument(
        "--db", metavar="PATH", help="records database (default: $SPABENCH_DB or the user data dir)"
    )
    parser.add_argument(
        "--order", type=id_argument, metavar="ID", help="attach the run to this service order"
    )
    parser.add_argument(
        "--no-store", action="store_true", help="do not file the run in the records database"
    )


def _check_args(args: argparse.Namespace) -> None:
    if not args.virtual:
        for flag, value in (("--fault", args.fault), ("--no-meter", args.no_meter)):
            if value:
                raise UsageError(f"{flag} needs --virtual")
    elif args.meter:
        raise UsageError("--meter needs --port (a virtual unit has a virtual meter)")
    if not math.isfinite(args.ambient) or not -20.0 <= args.ambient <= 60.0:
        raise UsageError(f"--ambient must be -20..60 °C, got {args.ambient}")
    if not math.isfinite(args.speed) or not 0.01 <= args.speed <= 1000.0:
        raise UsageError(f"--speed must be 0.01..1000 (as spasim serve's), got {args.speed}")
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be 0..2^63-1, got {args.seed}")
    if args.order is not None and args.no_store:
        raise UsageError("--order needs the records database (drop --no-store)")
    if args.order is not None and not args.unit:
        raise UsageError("--order needs --unit SERIAL")


def _operator(args: argparse.Namespace, progress: LiveProgress | None) -> Operator | None:
    """The operator plug: answers file, else a rehearsal over a control channel, else the
    virtual operator (None), else a terminal."""
    rehearsal = (args.operator or "").startswith(CONTROL_SCHEME)
    if rehearsal:
        if args.virtual:
            raise UsageError("--operator control:// is for a served box on --port")
        if args.answers:
            raise UsageError("--answers and --operator control:// both answer the prompts")
        multimeter = instruments_from_args(
            args, meter=bool(args.meter) or args.meter_spec == "clamp"
        ).multimeter
        try:
            return RehearsalOperator(args.operator, multimeter=multimeter, seed=args.seed)
        except OperatorError as error:
            raise InstrumentError(f"operator: {error}") from None
    if args.answers:
        try:
            return AnswersOperator.from_file(args.answers, name=args.operator or "answers-file")
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.virtual:
        return None
    name = args.operator or getpass.getuser()
    return TerminalOperator(
        name,
        pause=None if progress is None else progress.pause,
        resume=None if progress is None else progress.resume,
    )


def _close_operator(operator: Operator | None) -> None:
    if isinstance(operator, RehearsalOperator):
        operator.close()


def build_target(args: argparse.Namespace, plan: Plan, operator: Operator | None) -> Target:
    """The target for the arguments (usage errors for bad faults/profiles)."""
    if args.virtual:
        try:
            if plan.role == "box":
                if args.profile:
                    raise UsageError("the panel plan tests a panel: --profile does not apply")
                return virtual_panel_target(
                    faults=_faults(args.fault, "remote"), operator=operator, serial=args.unit
                )
            target = virtual_box_target(
                args.profile or "premium-4",
                faults=_faults(args.fault, "box"),
                seed=args.seed,
                ambient_c=args.ambient,
                instruments=instruments_from_args(args, meter=not args.no_meter),
                operator=operator,
                serial=args.unit,
            )
        except (ValueError, FileNotFoundError) as error:
            raise UsageError(str(error)) from None
        if operator is None and args.operator:
            target.operator.name = args.operator  # who ran the virtual test
        return target
    assert operator is not None
    clamp = args.meter_spec == "clamp"
    if clamp and args.meter:
        raise UsageError("a clamp meter is read by the technician: drop --meter URL")
    try:
        target = real_target(
            args.port,
            role=plan.role,
            operator=operator,
            meter_url=args.meter,
            profile=args.profile,
            speed=args.speed,
            serial=args.unit,
            instruments=instruments_from_args(args, meter=bool(args.meter) or clamp),
            identify=True,
        )
    except (ModelPlateError, OperatorError) as error:
        raise UsageError(f"model: {error}") from None
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    # A rehearsal operator acts on a served virtual box through its control channel: the
    # unit on the port is a simulation, whatever the wire looks like.
    target.simulated = isinstance(operator, RehearsalOperator)
    return target


def _faults(faults: list[str], role: Any) -> list[str]:
    from spasim.faults import parse_fault

    for fault in faults:
        parse_fault(fault, role=role)
    return faults


def _filing(store: Store, serial: str, order_id: int | None, console: Console) -> RunFiling:
    """File the run as it goes, saying on the terminal what the records did with it."""
    from bench.records.filing import RunFiling

    return RunFiling(
        store,
        serial,
        order_id,
        on_problem=lambda text: console.print(f"[yellow]records: {text}[/yellow]"),
        on_filed=lambda run_id: console.print(f"filed as run {run_id}"),
        on_rescued=lambda path: console.print(f"records: NOT FILED; the record is saved as {path}"),
    )


def _open_store(args: argparse.Namespace, console: Console) -> Any:
    """The records store, or None (not filed: no serial or --no-store).

    A database that cannot be used (damaged, not ours, unwritable) stops the command before
    the run: a run the user meant to file must not pass unfiled.
    """
    if args.no_store:
        return None
    if not args.unit:
        console.print("[dim]not filed in the records: no --unit SERIAL[/dim]")
        return None
    from bench.records.store import Store

    try:
        store = Store(args.db)
    except Exception as error:
        raise InstrumentError(
            f"records: {error}; nothing was run (--no-store tests without filing)"
        ) from None
    if args.order is not None:
        try:
            order = store.order(args.order)
        except Exception as error:
            store.close()
            raise UsageError(str(error)) from None
        if order.unit_serial != args.unit:
            store.close()
            raise UsageError(
                f"order {args.order} is for unit {order.unit_serial!r}, not {args.unit!r}"
            )
        if not order.is_open:
            store.close()
            raise UsageError(f"order {args.order} is handed back; open a new order")
    return store


def _run(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.json:
        try:
            check_output_path(args.json)  # before the run, not after twenty minutes of it
        except OutputPathError as error:
            raise UsageError(str(error)) from None
    console = make_console()
    try:
        plan = load_plan(args.plan)
    except PlanError as error:
        raise UsageError(str(error)) from None
    progress = LiveProgress(plan, console)
    try:
        operator = _operator(args, progress)
    except InstrumentError as error:
        progress.stop()
        sys.stderr.write(f"spabench run: error: {error}\n")
        return EXIT_ERROR
    try:
        target = build_target(args, plan, operator)
    except InstrumentError as error:
        _close_operator(operator)
        sys.stderr.write(f"spabench run: error: {error}\n")
        return EXIT_ERROR
    if isinstance(operator, RehearsalOperator):
        target.closers.insert(0, operator.close)
    if target.identified:
        console.print(f"unit: {target.identified}")
    try:
        plan.check_instruments(target.instruments)
    except PlanError as error:
        target.close()
        raise UsageError(str(error)) from None
    store = None
    try:
        try:
            store = _open_store(args, console)
        except InstrumentError as error:
            sys.stderr.write(f"spabench run: error: {error}\n")
            return EXIT_ERROR
        hooks: list[RunHooks] = [progress]
        filing = None if store is None else _filing(store, args.unit, args.order, console)
        if filing is not None:
            hooks.append(filing)
        record = Runner(plan, target, hooks=hooks).run()
    finally:
        progress.stop()
        target.close()
        if store is not None:
            store.close()
    if args.json:
        try:
            write_atomic(args.json, record.to_json() + "\n")
        except (OutputPathError, OutputWriteError) as error:
            sys.stderr.write(f"spabench run: error: {error}\n")
            return EXIT_ERROR
    if filing is not None and filing.unfiled is not None:
        sys.stderr.write(f"spabench run: error: the run was not filed: {filing.unfiled}\n")
        return EXIT_ERROR
    return EXIT_BY_VERDICT.get(record.verdict, EXIT_ERROR)


COMMAND = Subcommand(
    "run", "test a unit with a plan: live progress, verdict, part to replace", _configure, _run
)
