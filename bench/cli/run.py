"""``spabench run``: test a unit with a plan, show it live, file the record, say what to replace.

Real unit::

    spabench run --port /dev/ttyUSB0 --meter rtu:///dev/ttyUSB1 --plan full --unit SN123

A box served by ``spasim serve --control`` (a rehearsal or CI: a virtual person does what
each prompt asks through the control channel)::

    spabench run --port /dev/pts/7 --meter tcp://127.0.0.1:5020 --speed 100 \\
        --operator control://127.0.0.1:7002 --profile premium-4 --plan full

Virtual unit (everything in-process on one simulated clock, the full plan in seconds;
``--speed 1`` paces it in real time for a demonstration)::

    spabench run --virtual --profile concept-4 --fault filter-pump-dead --json run.json

Before anything runs: every output path is checked, the answers file is checked against the
prompts the run can ask (on a virtual unit only the plan's own: the bench's are its virtual
operator's, done at the unit), the serial must be registered (or ``--register``), and a run
on a simulated unit is filed on a customer's order only with ``--simulated``.

``--json -``: standard output is the record alone; everything else goes to standard error.

Exit status: 0 pass, 1 fail, 2 usage error, 3 error (link lost, instrument missing),
130 interrupted (Ctrl-C, SIGINT), 143 terminated (SIGTERM) — both after one line saying
what was kept. A reader that leaves (``| head -3``) changes nothing but what is shown: the
run goes on, is filed, and exits with its verdict's status.
"""

from __future__ import annotations

import argparse
import getpass
import math
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console

from bench.cli.options import add_unit_options, instruments_from_args
from bench.cli.order import id_argument
from bench.cli.progress import SIMULATED, LiveProgress, discard_output, make_console
from bench.cli.run_support import (
    EXIT_BY_SIGNAL,
    EXIT_INTERRUPTED,
    check_order,
    check_registered_profile,
    mark_interrupted,
    plan_prompts,
    port_target,
    signals_stop_the_run,
    unregistered,
)
from bench.cli.unit import check_profile, date_argument
from bench.testing.instruments.meter import InstrumentError
from bench.testing.instruments.operator import (
    PROMPT_KINDS,
    AnswersOperator,
    Operator,
    OperatorError,
    PersonWithAnswers,
    PromptKind,
    RehearsalOperator,
    TerminalOperator,
    answerable_prompts,
)
from bench.testing.plans import Plan, PlanError, load_plan
from bench.testing.record import StepResult, TestRecord
from bench.testing.runner import NoHooks, RunHooks, Runner
from bench.testing.targets import Target, virtual_box_target, virtual_panel_target
from protocols.cli_support import EXIT_ERROR, EXIT_FAIL, EXIT_OK, Subcommand, UsageError
from protocols.control import CONTROL_SCHEME
from protocols.files import (
    STDOUT,
    OutputPathError,
    OutputWriteError,
    check_output_path,
    write_atomic,
)
from protocols.mspa.models import available_models

if TYPE_CHECKING:
    from bench.records.destination import RunDestination
    from bench.records.filing import RunFiling
    from bench.records.store import Store

EXIT_BY_VERDICT = {"pass": EXIT_OK, "fail": EXIT_FAIL, "error": EXIT_ERROR}


def _configure(parser: argparse.ArgumentParser) -> None:
    add_unit_options(parser, virtual_help="test a virtual unit in-process")
    # the model --unit is registered as (set on opening the records): a virtual run without
    # --profile is of it, and a unit identified on a port must be it
    parser.set_defaults(registered_profile=None)
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
        default=None,
        help="time scale: of a simulated unit on --port (default 1, as hardware); with "
        "--virtual, pace the run against the wall clock (1: real time, for a demonstration; "
        "default: as fast as it computes)",
    )
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="records database, or records server postgresql://… (runs then go through the "
        "local journal; default: $SPABENCH_DB or the user data dir)",
    )
    parser.add_argument(
        "--order", type=id_argument, metavar="ID", help="attach the run to this service order"
    )
    parser.add_argument(
        "--no-store", action="store_true", help="do not file the run in the records database"
    )
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="the unit is a simulation and that is meant: needed to file a --virtual (or "
        "control://) run on a customer's --order; with --port, marks the served unit "
        "simulated. The record, history and report say SIMULATED UNIT",
    )
    parser.add_argument(
        "--register",
        action="store_true",
        help="register --unit SERIAL first if it is not in the records (with --purchase-date; "
        "the profile is --profile or the model the bench identified)",
    )
    parser.add_argument(
        "--purchase-date",
        type=date_argument,
        metavar="YYYY-MM-DD",
        help="purchase date of the unit --register registers",
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
    if args.speed is not None and not (math.isfinite(args.speed) and 0.01 <= args.speed <= 1000.0):
        raise UsageError(f"--speed must be 0.01..1000 (as spasim serve's), got {args.speed}")
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be 0..2^63-1, got {args.seed}")
    if args.order is not None and args.no_store:
        raise UsageError("--order needs the records database (drop --no-store)")
    if args.order is not None and not args.unit:
        raise UsageError("--order needs --unit SERIAL")
    if args.register and (args.no_store or not args.unit):
        raise UsageError("--register registers --unit SERIAL in the records (drop --no-store)")
    if args.register and args.purchase_date is None:
        raise UsageError("--register needs --purchase-date YYYY-MM-DD (the warranty starts there)")
    if args.purchase_date is not None and not args.register:
        raise UsageError("--purchase-date is for --register")
    if not args.no_store:
        from bench.cli.records_support import check_db

        check_db(args.db)
    from bench.records.identifying import control_character

    operator = "" if _rehearsal(args) else args.operator or ""
    for what, text in (("unit serial", args.unit), ("operator", operator)):
        problem = control_character(what, text)
        if problem is not None:
            raise UsageError(problem)
    if (args.virtual or _rehearsal(args)) and args.order is not None and not args.simulated:
        raise UsageError(
            f"this run is on a {SIMULATED} ({_simulation(args)}): filing it on customer "
            f"order {args.order} needs --simulated (it is then marked {SIMULATED} everywhere)"
        )


def _rehearsal(args: argparse.Namespace) -> bool:
    return bool((args.operator or "").startswith(CONTROL_SCHEME))


def _simulation(args: argparse.Namespace) -> str:
    return "--virtual" if args.virtual else "a served box run by --operator control://"


def _check_outputs(args: argparse.Namespace) -> None:
    """Every file the run will write, checked before anything is built or run: a wrong
    path costs one line, not twenty minutes of a run."""
    for flag, path in (("--json", args.json),):
        if path:
            try:
                check_output_path(path)
            except OutputPathError as error:
                raise UsageError(f"{flag}: {error}") from None


def _operator(
    args: argparse.Namespace, plan: Plan, progress: LiveProgress | None
) -> Operator | None:
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
        return _answers(args, plan)
    if args.virtual:
        return None
    name = args.operator or getpass.getuser()
    return TerminalOperator(
        name,
        pause=None if progress is None else progress.pause,
        resume=None if progress is None else progress.resume,
        console=None if progress is None else progress.console,
    )


VIRTUAL_PERSON_DOES_IT = (
    "is a bench prompt: on a --virtual unit the virtual operator does it at the unit (an "
    "answer in a file never reaches it: no PRCD pressed, no knob turned); with --virtual an "
    "answers file answers only the plan's own prompts (to rehearse a served box: spasim "
    "serve --control, then --operator control://HOST:PORT)"
)
"""Why a virtual run refuses an answers file's answer to one of the bench's own prompts."""


def _answers(args: argparse.Namespace, plan: Plan) -> AnswersOperator:
    """The answers file, checked against the prompts this run asks: on a real unit every
    prompt; on a virtual one only the plan's own (``operator-confirm``/``-action`` ids the
    simulation has no idea of) — the bench's are its virtual operator's."""
    prompts = answerable_prompts(plan_prompts(plan))
    reserved: dict[str, str] = {}
    if args.virtual:
        prompts = own_prompts(plan)
        reserved = dict.fromkeys(PROMPT_KINDS, VIRTUAL_PERSON_DOES_IT)
    try:
        return AnswersOperator.from_file(
            args.answers,
            name=args.operator or "answers-file",
            prompts=prompts,
            reserved=reserved,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None


def own_prompts(plan: Plan) -> dict[str, PromptKind]:
    """The plan's prompts that are not the bench's own: what no virtual person can know."""
    return {k: v for k, v in plan_prompts(plan).items() if k not in PROMPT_KINDS}


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
                target = virtual_panel_target(
                    faults=_faults(args.fault, "remote"), serial=args.unit, speed=args.speed
                )
            else:
                target = virtual_box_target(
                    args.profile or args.registered_profile or "premium-4",
                    faults=_faults(args.fault, "box"),
                    seed=args.seed,
                    ambient_c=args.ambient,
                    instruments=instruments_from_args(args, meter=not args.no_meter),
                    serial=args.unit,
                    speed=args.speed,
                )
        except (ValueError, FileNotFoundError) as error:
            raise UsageError(str(error)) from None
        if args.operator:
            target.operator.name = args.operator  # who ran the virtual test
        if isinstance(operator, AnswersOperator):  # the plan's own prompts, nothing else
            target.operator = PersonWithAnswers(target.operator, operator, own_prompts(plan))
        return target
    assert operator is not None
    clamp = args.meter_spec == "clamp"
    if clamp and args.meter:
        raise UsageError("a clamp meter is read by the technician: drop --meter URL")
    return port_target(
        args.port,
        plan=plan,
        operator=operator,
        meter_url=args.meter,
        instruments=instruments_from_args(args, meter=bool(args.meter) or clamp),
        profile=args.profile,
        speed=1.0 if args.speed is None else args.speed,
        serial=args.unit,
        simulated=args.simulated,
        registered=args.registered_profile,
    )


def _faults(faults: list[str], role: Any) -> list[str]:
    from spasim.faults import parse_fault

    for fault in faults:
        parse_fault(fault, role=role)
    return faults


@dataclass
class _Run(NoHooks):
    """What one ``spabench run`` has under way: enough to say what was kept if a signal
    stops it (it hears each finished step as a runner hook)."""

    steps: int
    filing: RunFiling | None = None
    runner: Runner | None = None
    destination: RunDestination | None = None
    """Where the run is filed (with a records server: the journal, uploaded at the end)."""
    not_filed: str = ""
    """Why the run is not filed (no --unit, --no-store), when it is not."""
    finished_steps: int = 0
    """Steps the run finished: the ones the records keep (the step under way is not one)."""

    def on_step_finished(self, step: StepResult) -> None:
        self.finished_steps += 1

    def interrupted_line(self, json_path: str | None) -> str:
        """``interrupted: run 12 kept — 5 of 9 steps, 3,214 frames, in PATH``."""
        if self.runner is None:
            return "interrupted before the run started: nothing was run"
        filing = self.filing
        if filing is not None and filing.run_id is not None:
            journaled = self.destination is not None and self.destination.journaled
            what = (
                f"{'journal run' if journaled else 'run'} {filing.run_id} kept — "
                f"{filing.steps_stored} of {self.steps} steps, "
                f"{filing.frames_stored:,} frames, in {filing.store.location}"
            )
            if journaled:
                what += " (spabench sync uploads it)"
        elif filing is not None:
            what = f"the run was not filed ({filing.unfiled})"
        else:
            what = f"the run was not filed ({self.not_filed})"
        if json_path:
            where = "on standard output" if json_path == STDOUT else f"in {json_path}"
            what += f"; the record so far is {where}"
        return f"interrupted: {what}"


def _filing(
    store: Store, args: argparse.Namespace, console: Console, progress: LiveProgress, run: _Run
) -> RunFiling:
    """File the run as it goes, saying on the terminal what the records did with it (a run
    in the journal shows no number: it gets the server's when it is uploaded)."""
    from bench.records.filing import RunFiling

    journaled = run.destination is not None and run.destination.journaled
    return RunFiling(
        store,
        args.unit,
        args.order,
        allow_simulated=args.simulated,
        on_begun=progress.begun_in_journal if journaled else progress.begun,
        on_problem=lambda text: console.print(f"[yellow]records: {text}[/yellow]"),
        on_rescued=lambda path: console.print(f"records: NOT FILED; the record is saved as {path}"),
    )


def _open_store(args: argparse.Namespace, console: Console, run: _Run) -> Any:
    """The records store, or None (not filed: no serial or --no-store).

    A database that cannot be used (damaged, not ours, unwritable) stops the command before
    the run: a run the user meant to file must not pass unfiled. So does an order that is
    not the unit's or is handed back, and a serial the records do not know (the command
    that registers it is named; ``--register`` does it after the unit is identified).
    """
    if args.no_store:
        return None
    if not args.unit:
        console.print("[dim]not filed in the records: no --unit SERIAL[/dim]")
        return None
    from bench.records.database import default_location, is_server_url
    from bench.records.destination import open_destination
    from bench.records.store import Store

    run.destination = open_destination(args.db)
    if run.destination.journaled:
        return _open_journal(run.destination, args, console)
    path = default_location() if args.db is None else args.db
    file = None if is_server_url(path) else Path(path)  # a server is asked below
    if not args.register and file and not (file.is_file() and file.stat().st_size > 0):
        _unregistered(args, file)  # no records there, so no such unit: create nothing
    try:
        store = Store(path)
    except Exception as error:
        raise InstrumentError(
            f"records: {error}; nothing was run (--no-store tests without filing)"
        ) from None
    try:
        _check_order_and_unit(store, args)
    except BaseException:
        store.close()
        raise
    return store


def _open_journal(destination: RunDestination, args: argparse.Namespace, console: Console) -> Any:
    """With a records server: the unit and order are checked on the server when it answers
    (and what waits in the journal is uploaded first); when it does not, the bench says so
    and runs. Either way the run is filed in the local journal and uploaded when it ends."""
    from bench.records.database import StoreOpenError

    try:
        records = destination.open_records()
    except StoreOpenError as error:
        if args.register:
            raise UsageError(
                f"{error}; --register needs the records server, nothing was run (run without "
                "--register and register the unit when the server answers)"
            ) from None
        console.print(
            f"records server unreachable: the run is filed in the local journal "
            f"{destination.journal} and uploaded when the server answers (spabench sync); "
            f"the unit cannot be checked now, an --order is checked on upload ({error})",
            markup=False,
            soft_wrap=True,
        )
    else:
        try:
            _check_order_and_unit(records, args)
        finally:
            records.close()
        destination.after_runs(lambda line: console.print(line, markup=False, soft_wrap=True))
    try:
        return destination.open_store()
    except Exception as error:
        raise InstrumentError(
            f"records: {error}; nothing was run (--no-store tests without filing)"
        ) from None


def _register_unit(
    run: _Run, store: Store, args: argparse.Namespace, target: Target, console: Console
) -> None:
    """``--register`` in the workshop's records: the server's, with one configured."""
    destination = run.destination
    if destination is None or not destination.journaled:
        _register(store, args, target, console)
        return
    from bench.records.database import StoreOpenError

    try:
        records = destination.open_records()
    except StoreOpenError as error:
        raise UsageError(f"{error}; --register needs the records server") from None
    with records:
        _register(records, args, target, console)


def _check_order_and_unit(store: Store, args: argparse.Namespace) -> None:
    if args.order is not None:
        check_order(store, args.order, args.unit)
    if not store.has_unit(args.unit):
        if not args.register:
            _unregistered(args, store.location)
        return
    registered = check_registered_profile(store, args.unit, args.profile)
    if args.register:
        unit = store.unit(args.unit)
        if args.purchase_date != unit.purchase_date:
            raise UsageError(
                f"unit {args.unit!r} is already registered, purchased "
                f"{unit.purchase_date.isoformat()}, not {args.purchase_date}; drop --register"
            )
    if not args.virtual or registered in available_models():
        args.registered_profile = registered  # the virtual box, or the unit identified, is it


def _unregistered(args: argparse.Namespace, path: Path | str) -> NoReturn:
    """Refuse a serial the records do not know, naming the command that registers it."""
    raise unregistered(args.unit, args.profile or ("premium-4" if args.virtual else "MODEL"), path)


def _register(store: Store, args: argparse.Namespace, target: Target, console: Console) -> None:
    """``--register``: the unit goes into the records before it is run, with the profile
    given or identified."""
    if store.has_unit(args.unit):
        console.print(f"unit {args.unit} is already registered", markup=False)
        return
    profile = args.profile or target.unit.profile
    if not profile:
        raise UsageError("--register needs the unit's model: give --profile MODEL")
    try:
        unit = store.add_unit(args.unit, check_profile(profile), args.purchase_date)
    except ValueError as error:
        raise UsageError(str(error)) from None
    console.print(
        f"unit {unit.serial} registered: {unit.profile}, purchased "
        f"{unit.purchase_date.isoformat()}",
        markup=False,
    )


def _run(args: argparse.Namespace) -> int:
    _check_args(args)
    _check_outputs(args)
    # --json -: standard output is the record and nothing else (a pipe into jq works)
    console = make_console(stderr=args.json == STDOUT)
    try:
        plan = load_plan(args.plan)
    except PlanError as error:
        raise UsageError(str(error)) from None
    run = _Run(steps=len(plan.steps))
    with signals_stop_the_run():
        try:
            return _run_plan(args, plan, console, run)
        except KeyboardInterrupt as interrupt:
            signum = int(getattr(interrupt, "signum", signal.SIGINT))
            json_path = _save_interrupted(args, run, signum)
            sys.stderr.write(f"spabench run: {run.interrupted_line(json_path)}\n")
            return EXIT_BY_SIGNAL.get(signum, EXIT_INTERRUPTED)


def _save_interrupted(args: argparse.Namespace, run: _Run, signum: int) -> str | None:
    """The record so far into ``--json`` (verdict ``interrupted``), if one was asked for."""
    if not args.json or run.runner is None or not hasattr(run.runner, "record"):
        return None
    record: TestRecord = run.runner.record
    mark_interrupted(record, run.finished_steps, run.steps, signum)
    try:
        _write_json(args.json, record)
    except (OutputPathError, OutputWriteError):
        return None
    return str(args.json)


def _write_json(path: str, record: TestRecord) -> None:
    """The record into ``--json`` (``-``: standard output, whose reader may have left)."""
    try:
        write_atomic(path, record.to_json() + "\n")
    except BrokenPipeError:  # ``--json - | head``: the record is in the records anyway
        discard_output(sys.stdout)


def _run_plan(args: argparse.Namespace, plan: Plan, console: Console, run: _Run) -> int:
    progress = LiveProgress(plan, console)
    try:
        operator = _operator(args, plan, progress)
    except InstrumentError as error:
        progress.stop()
        sys.stderr.write(f"spabench run: error: {error}\n")
        return EXIT_ERROR
    try:
        store = _open_store(args, console, run)
    except InstrumentError as error:
        _close_operator(operator)
        sys.stderr.write(f"spabench run: error: {error}\n")
        return EXIT_ERROR
    except BaseException:
        _close_operator(operator)
        raise
    run.not_filed = "--no-store" if args.no_store else "no --unit SERIAL"
    try:
        return _run_on_target(args, plan, console, run, progress, operator, store)
    finally:
        if store is not None:
            store.close()


def _run_on_target(
    args: argparse.Namespace,
    plan: Plan,
    console: Console,
    run: _Run,
    progress: LiveProgress,
    operator: Operator | None,
    store: Store | None,
) -> int:
    try:
        target = build_target(args, plan, operator)
    except InstrumentError as error:
        _close_operator(operator)
        sys.stderr.write(f"spabench run: error: {error}\n")
        return EXIT_ERROR
    except BaseException:
        _close_operator(operator)
        raise
    if isinstance(operator, RehearsalOperator):
        target.closers.insert(0, operator.close)
    try:
        if target.identified:
            console.print(f"unit: {target.identified}")
        try:
            plan.check_instruments(target.instruments)
        except PlanError as error:
            raise UsageError(str(error)) from None
        if store is not None and args.register:
            _register_unit(run, store, args, target, console)
        # First the count of finished steps, then the filing (the run has its number before
        # it is shown), then the display: once a step is shown finished, it is counted and
        # stored, so a signal after that line keeps it in the records and the --json alike.
        hooks: list[RunHooks] = [run]
        if store is not None:
            run.filing = _filing(store, args, console, progress, run)
            hooks.append(run.filing)
        hooks.append(progress)
        run.runner = Runner(plan, target, hooks=hooks)
        record = run.runner.run()
    finally:
        progress.stop()
        target.close()
    filing = run.filing
    upload_stopped: int | None = None
    if filing is not None and filing.run_id is not None and filing.unfiled is None:
        try:
            line = _filed_line(run, filing.run_id, record, console)
        except KeyboardInterrupt as interrupt:  # Ctrl-C while uploading: the run is kept
            upload_stopped = int(getattr(interrupt, "signum", signal.SIGINT))
        else:
            console.print(line, markup=False, soft_wrap=True)
    if args.json:
        try:
            _write_json(args.json, record)
        except (OutputPathError, OutputWriteError) as error:
            sys.stderr.write(f"spabench run: error: {error}\n")
            return EXIT_ERROR
    if upload_stopped is not None and filing is not None and run.destination is not None:
        sys.stderr.write(
            f"spabench run: interrupted while uploading: journal run {filing.run_id} waits in "
            f"the journal {run.destination.journal} (spabench sync uploads it)\n"
        )
        return EXIT_BY_SIGNAL.get(upload_stopped, EXIT_INTERRUPTED)
    if filing is not None and filing.unfiled is not None:
        sys.stderr.write(f"spabench run: error: the run was not filed: {filing.unfiled}\n")
        return EXIT_ERROR
    return EXIT_BY_VERDICT.get(record.verdict, EXIT_ERROR)


def _filed_line(run: _Run, run_id: int, record: TestRecord, console: Console) -> str:
    """``filed as run N``: with a records server, once uploaded (the server's number, as
    the journal's bookkeeping has it: another bench process on this PC may have uploaded
    the run first), or where the run waits when it could not be."""
    destination = run.destination
    if destination is None or not destination.journaled:
        return f"filed as run {run_id}"
    destination.after_runs(lambda line: console.print(line, markup=False, soft_wrap=True))
    entry = destination.journal_entry(run_id)
    if entry is not None and entry.server_run_id is not None:
        return f"filed as run {entry.server_run_id} on {destination.server_name}"
    if entry is not None and entry.refused is not None:
        return (
            f"journal run {run_id} refused by {destination.server_name}: {entry.refused} "
            f"(kept in the journal {destination.journal}; spabench status lists it)"
        )
    return (
        f"kept in the journal {destination.journal} as journal run {run_id}, record "
        f"{record.record_id} (spabench status lists it)"
    )


COMMAND = Subcommand(
    "run", "test a unit with a plan: live progress, verdict, part to replace", _configure, _run
)
