"""``spabench station run``: test every unit on a station's channels at once.

::

    spabench station run bench-2.toml --plan full --unit A=MS-2024-0001 --unit B=MS-2024-0002

The station file (:mod:`bench.station.config`) says what is wired to what. Every channel
runs the plan in its own thread on its own real-time driver, built and filed exactly as
``spabench run --port`` builds and files one unit (:mod:`bench.cli.run_support`): one record
per unit, a live table of every channel, prompts asked one at a time at this terminal with
the channel that asks in front. A channel that errors (lost link, instrument, a unit that
cannot be identified, or is identified as another model than it is registered as) ends
alone; the others finish.

Before anything runs, everything is checked and refused in one line (exit 2): the station
file, ``--unit``/``--order`` naming unknown channels, answers files against the plan's
prompts, the plan against each channel's instruments, unregistered serials, orders that
are not the unit's or are handed back, a simulated channel filed on a customer's order
without ``--simulated``, and ``--json-dir``.

Exit status, in this order of precedence: 130/143 when interrupted (Ctrl-C, SIGTERM, by the
first signal: every channel keeps what it measured, one line says what; a second signal
stops waiting for them), 3 when any channel ended in error
(link lost, instrument, not filed), 1 when any unit failed, 0 when every unit passed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bench.cli.order import id_argument
from bench.cli.progress import SIMULATED, make_console
from bench.cli.records_support import check_db
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
from bench.records.database import (
    DB_ENV,
    DatabaseError,
    StoreError,
    StoreOpenError,
    default_db_path,
    is_server_url,
)
from bench.records.destination import RETRY_EVERY_S, RunDestination, open_destination
from bench.records.identifying import control_character
from bench.station.config import Channel, Station, StationError, load_station
from bench.station.display import StationDisplay
from bench.station.loop import STOP_WAIT_S, StationInterrupted, run_station
from bench.station.prompts import ChannelOperator, Prompt, PromptDesk
from bench.station.session import ENDED, ChannelSession, News
from bench.station.worker import ChannelJob
from bench.testing.instruments.meter import InstrumentError
from bench.testing.instruments.operator import (
    AnswersOperator,
    Operator,
    OperatorError,
    PersonWithAnswers,
    RehearsalOperator,
    TerminalOperator,
    answerable_prompts,
)
from bench.testing.plans import Plan, PlanError, load_plan
from bench.testing.targets import Target
from protocols.cli_support import EXIT_ERROR, EXIT_FAIL, EXIT_OK, Subcommand, UsageError
from protocols.control import CONTROL_SCHEME
from protocols.driver import Driver, RealTimeDriver
from protocols.files import OutputPathError, OutputWriteError, check_output_path, write_atomic

PROG = "spabench station"


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="station_action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="run a plan on every channel of a station file at once")
    run.add_argument("station", metavar="STATION", help="station file (TOML)")
    run.add_argument(
        "--plan", default="full", metavar="NAME|PATH", help="plan to run (default: full)"
    )
    run.add_argument(
        "--unit",
        action="append",
        default=[],
        metavar="CH=SERIAL",
        help="serial of the unit on channel CH (repeatable; overrides the station file's)",
    )
    run.add_argument(
        "--order",
        action="append",
        default=[],
        metavar="CH=ID",
        help="attach channel CH's run to service order ID (repeatable)",
    )
    run.add_argument(
        "--db", metavar="LOCATION", help="records (default: $SPABENCH_DB or the user data dir)"
    )
    run.add_argument(
        "--json-dir",
        metavar="DIR",
        help="write each channel's whole record as DIR/<channel>-<record id>.json",
    )
    run.add_argument(
        "--operator",
        metavar="NAME",
        help="who runs the tests (recorded; a channel's operator key in the station file wins)",
    )
    run.add_argument(
        "--simulated",
        action="store_true",
        help="the units are simulations and that is meant: marks every channel's run "
        f"{SIMULATED}, and is needed to file a simulated channel's run on a customer's order",
    )


@dataclass
class _Ready:
    """A channel, checked and ready: who answers it, where it is filed."""

    channel: Channel
    serial: str
    order: int | None
    answers: AnswersOperator | None
    rehearsal: bool
    simulated: bool
    registered: str | None = None
    """The model the records know the unit as (None: not known here): the model the
    channel identifies must be it."""


def _assignments(station: Station, given: list[str], flag: str, what: str) -> dict[str, str]:
    """``CH=VALUE`` options by channel name; one line for a malformed one, an unknown
    channel (naming the known ones) or a channel given twice."""
    found: dict[str, str] = {}
    for text in given:
        name, equals, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or not value:
            raise UsageError(f"{flag} takes CHANNEL={what}, got {text!r}")
        try:
            station.channel(name)
        except StationError as error:
            raise UsageError(f"{flag} {text}: {error}") from None
        if name in found:
            raise UsageError(f"{flag}: channel {name} given twice")
        found[name] = value
    return found


def _orders(station: Station, given: list[str]) -> dict[str, int]:
    orders: dict[str, int] = {}
    for name, text in _assignments(station, given, "--order", "ID").items():
        try:
            orders[name] = id_argument(text)
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"--order {name}={text}: {error}") from None
    return orders


def _answers(channel: Channel, plan: Plan, name: str) -> AnswersOperator | None:
    if channel.answers is None:
        return None
    try:
        return AnswersOperator.from_file(
            channel.answers, name=name, prompts=answerable_prompts(plan_prompts(plan))
        )
    except ValueError as error:
        raise UsageError(f"{channel.label}: {error}") from None


def _operator_name(channel: Channel, args: argparse.Namespace) -> str:
    if channel.operator and not channel.operator.startswith(CONTROL_SCHEME):
        return channel.operator
    if args.operator:
        return str(args.operator)
    return "answers-file" if channel.answers is not None else getpass.getuser()


def _prepare(args: argparse.Namespace, station: Station, plan: Plan) -> list[_Ready]:
    """Every channel checked against the options and the plan (usage errors)."""
    units = _assignments(station, args.unit, "--unit", "SERIAL")
    orders = _orders(station, args.order)
    prepared: list[_Ready] = []
    seen: dict[str, str] = {}
    for channel in station.channels:
        serial = units.get(channel.name, channel.unit or "")
        order = orders.get(channel.name)
        if order is not None and not serial:
            raise UsageError(
                f"--order {channel.name}={order}: {channel.label} has no unit serial "
                f"(--unit {channel.name}=SERIAL)"
            )
        if serial in seen:
            raise UsageError(
                f"unit {serial!r} is on two channels, {seen[serial]} and {channel.name}"
            )
        if serial:
            seen[serial] = channel.name
        try:
            plan.check_instruments(channel.instruments)
        except PlanError as error:
            raise UsageError(f"{channel.label}: {error}") from None
        rehearsal = (channel.operator or "").startswith(CONTROL_SCHEME)
        simulated = channel.simulated or rehearsal or args.simulated
        if simulated and order is not None and not args.simulated:
            raise UsageError(
                f"{channel.label} is a {SIMULATED}: filing its run on customer order {order} "
                f"needs --simulated (it is then marked {SIMULATED} everywhere)"
            )
        name = _operator_name(channel, args)
        for what, text in (
            ("station name", station.name),
            ("channel name", channel.name),
            ("unit serial", serial),
            ("operator", "" if rehearsal else name),
        ):
            problem = control_character(what, text)
            if problem is not None:
                raise UsageError(f"{channel.label}: {problem}")
        answers = _answers(channel, plan, name)
        prepared.append(_Ready(channel, serial, order, answers, rehearsal, simulated))
    return prepared


def _check_records(
    destination: RunDestination, args: argparse.Namespace, plans: list[_Ready]
) -> None:
    """Serials registered, orders the unit's and open — as ``spabench run`` checks them.
    Raises UsageError, or InstrumentError when the records cannot be used at all."""
    filed = [p for p in plans if p.serial]
    if not filed:
        return
    location = args.db if args.db is not None else os.environ.get(DB_ENV)
    if not is_server_url(location):
        path = default_db_path() if args.db is None else Path(args.db)
        if not (path.is_file() and path.stat().st_size > 0):  # no records: create nothing
            first = filed[0]
            raise _channel_error(
                first.channel,
                unregistered(
                    first.serial, first.channel.profile or "MODEL", path, or_register=False
                ),
            )
    try:
        store = destination.open_records()  # with a records server: the server's records
    except StoreOpenError as error:
        if not destination.journaled:
            raise InstrumentError(f"records: {error}; nothing was run") from None
        print(
            f"records server unreachable: the runs are filed in the local journal "
            f"{destination.journal} and uploaded when the server answers (spabench sync); "
            f"units cannot be checked now, an order is checked on upload ({error})",
            flush=True,
        )
        return
    except Exception as error:
        raise InstrumentError(f"records: {error}; nothing was run") from None
    with store:
        for prepared in filed:
            channel = prepared.channel
            try:
                if prepared.order is not None:
                    check_order(store, prepared.order, prepared.serial)
                if not store.has_unit(prepared.serial):
                    raise unregistered(
                        prepared.serial,
                        channel.profile or "MODEL",
                        store.location,
                        or_register=False,
                    )
                prepared.registered = check_registered_profile(
                    store, prepared.serial, channel.profile
                )
            except UsageError as error:
                raise _channel_error(channel, error) from None


def _channel_error(channel: Channel, error: UsageError) -> UsageError:
    return UsageError(f"{channel.label}: {error}")


@dataclass
class BuildTarget:
    """Builds one channel's target in its thread on the channel's clock, as ``spabench run
    --port`` builds one: the rehearsal operator's control channel opened there too (a
    channel that cannot reach it errors alone)."""

    prepared: _Ready
    plan: Plan
    operator: Operator | None
    """The channel's person (None: a rehearsal operator is made here)."""

    def __call__(self, driver: RealTimeDriver) -> Target:
        channel = self.prepared.channel
        operator = self.operator
        rehearsal: RehearsalOperator | None = None
        if operator is None:
            assert channel.operator is not None
            try:
                rehearsal = RehearsalOperator(
                    channel.operator, multimeter=channel.instruments.multimeter
                )
            except OperatorError as error:
                raise InstrumentError(f"operator: {error}") from None
            operator = rehearsal
        try:
            target = port_target(
                channel.port,
                plan=self.plan,
                operator=operator,
                meter_url=channel.meter,
                instruments=channel.instruments,
                profile=channel.profile,
                speed=channel.speed,
                serial=self.prepared.serial,
                simulated=self.prepared.simulated,
                registered=self.prepared.registered,
                driver=driver,
            )
        except BaseException:
            if rehearsal is not None:
                rehearsal.close()
            raise
        if rehearsal is not None:
            target.closers.insert(0, rehearsal.close)
        return target


def _jobs(
    args: argparse.Namespace,
    station: Station,
    plan: Plan,
    plans: list[_Ready],
    destination: RunDestination,
    desk: PromptDesk,
) -> list[ChannelJob]:
    """One job per channel: its session, its person (prompts to the desk, a file's answers
    first), its target builder and where it is filed."""
    interactive = sys.stdin.isatty()
    host = socket.gethostname()
    jobs: list[ChannelJob] = []
    for prepared in plans:
        channel = prepared.channel
        not_filed = "" if prepared.serial else "no unit serial"
        session = ChannelSession(
            channel.name,
            channel.port,
            serial=prepared.serial,
            steps=len(plan.steps),
            not_filed=not_filed,
            news=desk.post,
            journaled=destination.journaled,
        )
        operator: Operator | None = None
        binders: list[Callable[[Driver | None], None]] = []
        if not prepared.rehearsal:
            person = ChannelOperator(
                _operator_name(channel, args),
                f"{channel.label} · {channel.port}",
                desk,
                interactive=interactive,
                stopping=session.check_stop,
            )
            binders.append(person.bind)
            operator = person
            if prepared.answers is not None:
                answers = prepared.answers
                operator = PersonWithAnswers(person, answers, answers.answers)
        jobs.append(
            ChannelJob(
                session=session,
                plan=plan,
                build=BuildTarget(prepared, plan, operator),
                speed=channel.speed,
                serial=prepared.serial,
                order=prepared.order,
                allow_simulated=args.simulated,
                open_store=destination.open_store if prepared.serial else None,
                not_filed=not_filed,
                station=f"{host} · {station.name} · {channel.label}",
                binders=binders,
            )
        )
    return jobs


def _asker(
    desk: PromptDesk, display: StationDisplay, console: Console, name: str
) -> Callable[[Prompt], None]:
    """Ask one channel's prompt at this terminal (the live table paused meanwhile), and
    answer or refuse it on the desk."""
    terminal = TerminalOperator(
        name, interactive=True, pause=display.pause, resume=display.resume, console=console
    )

    def ask(prompt: Prompt) -> None:
        text = escape(prompt.text)
        try:
            if prompt.kind == "confirm":
                answer: object = terminal.confirm(prompt.prompt_id, text)
            elif prompt.kind == "number":
                answer = terminal.number(prompt.prompt_id, text, prompt.unit)
            elif prompt.kind == "choose":
                answer = terminal.choose(prompt.prompt_id, text, prompt.choices)
            else:
                terminal.act(prompt.prompt_id, text)
                answer = True
        except OperatorError:  # the terminal went away (end of input)
            desk.refused(prompt, f"operator needed: {prompt.question}")
            return
        if not display.interactive:  # a log: the answer typed was echoed elsewhere
            said = ("yes" if answer else "no") if prompt.kind == "confirm" else answer
            console.print(
                "done" if prompt.kind == "act" else str(said), markup=False, soft_wrap=True
            )
        desk.answered(prompt, answer)

    return ask


def _exit_code(jobs: list[ChannelJob]) -> int:
    """3 when any channel ended in error, else 1 when any unit failed, else 0."""
    states = {job.session.view.state for job in jobs}
    if states - {"pass", "fail"}:
        return EXIT_ERROR
    return EXIT_FAIL if "fail" in states else EXIT_OK


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _write_records(json_dir: str | None, jobs: list[ChannelJob], signum: int | None) -> list[str]:
    """Each channel's record into ``json_dir`` (a stopped run's record so far, marked
    interrupted); the problems, one line each."""
    if not json_dir:
        return []
    problems = []
    for job in jobs:
        record = job.record
        if record is None or job.session.view.state not in ENDED:
            continue
        if job.stopped_by is not None:
            mark_interrupted(record, job.steps.finished, len(job.plan.steps), job.stopped_by)
        name = _UNSAFE.sub("_", job.session.view.name)
        path = Path(json_dir) / f"{name}-{record.record_id}.json"
        try:
            write_atomic(path, record.to_json() + "\n")
        except (OutputPathError, OutputWriteError) as error:
            problems.append(f"{job.session.label}: {error}")
    return problems


def _interrupted_line(jobs: list[ChannelJob], again: bool) -> str:
    """``interrupted: channel A: run 3 kept — 2 of 11 steps, 1,234 frames; channel B: …``
    (``again``: a second interrupt ended the wait for the channels still running)."""
    said = []
    for job in jobs:
        view = job.session.view
        if view.state == "interrupted":
            said.append(f"{job.session.label}: {view.note}")
        elif view.state in ENDED:
            run = view.run_name or "not filed"
            said.append(f"{job.session.label}: {view.state} ({run})")
        elif again:
            said.append(
                f"{job.session.label}: stopped again (second interrupt) before it had stopped"
            )
        else:
            said.append(f"{job.session.label}: did not stop within {STOP_WAIT_S:g} s")
    return "interrupted: " + "; ".join(said)


def _server_numbers(destination: RunDestination, jobs: list[ChannelJob]) -> None:
    """Each channel's run as the records server numbers it, once uploaded (the journal's
    bookkeeping says, whoever uploaded it); a run still waiting keeps its journal number."""
    if not destination.journaled:
        return
    for job in jobs:
        view = job.session.view
        if view.run_id is None or not view.journal_run:
            continue
        try:
            entry = destination.journal_entry(view.run_id)
        except (StoreError, DatabaseError):
            return  # the upload said what is wrong with the journal
        if entry is not None and entry.server_run_id is not None:
            job.session.uploaded(entry.server_run_id)


def _run(args: argparse.Namespace) -> int:
    try:
        station = load_station(args.station)
    except StationError as error:
        raise UsageError(str(error)) from None
    try:
        plan = load_plan(args.plan)
    except PlanError as error:
        raise UsageError(str(error)) from None
    if args.json_dir:
        try:
            check_output_path(Path(args.json_dir) / f"{station.name}.json")
        except OutputPathError as error:
            raise UsageError(f"--json-dir: {error}") from None
    check_db(args.db)
    plans = _prepare(args, station, plan)
    destination = open_destination(args.db)
    try:
        _check_records(destination, args, plans)
    except InstrumentError as error:
        sys.stderr.write(f"{PROG}: error: {error}\n")
        return EXIT_ERROR
    console = make_console()
    for prepared in plans:
        if not prepared.serial:
            console.print(
                f"[dim]{escape(prepared.channel.label)}: not filed in the records: no unit "
                f"serial (--unit {escape(prepared.channel.name)}=SERIAL)[/dim]",
                soft_wrap=True,
            )
    desk = PromptDesk()
    jobs = _jobs(args, station, plan, plans, destination, desk)
    title = f"station {station.name} · {plan.name} — {plan.title}"
    display = StationDisplay(title, [job.session for job in jobs], console)
    ask = _asker(desk, display, console, args.operator or getpass.getuser())
    signum: int | None = None
    again = False
    # what waits in the journal goes up while the channels run, once the server answers
    retrying = destination.start_retrying(RETRY_EVERY_S, lambda line: desk.post(News(line)))
    with signals_stop_the_run(raise_once=True) as caught:
        try:
            run_station(jobs, desk, display, ask, lambda: len(caught) > 1)
        except StationInterrupted as interrupt:
            signum, again = interrupt.signum, interrupt.again
        except KeyboardInterrupt as interrupt:  # before the station began
            signum = int(getattr(interrupt, "signum", signal.SIGINT))
        finally:
            if retrying is not None:
                retrying.stop()
    try:
        destination.after_runs(lambda line: console.print(line, markup=False))
    except KeyboardInterrupt as interrupt:  # Ctrl-C while uploading: the runs are kept
        signum = signum or int(getattr(interrupt, "signum", signal.SIGINT))
        sys.stderr.write(
            f"{PROG}: interrupted while uploading: the runs wait in the journal "
            f"{destination.journal} (spabench sync uploads them)\n"
        )
    _server_numbers(destination, jobs)
    console.print(display.summary())
    problems = _write_records(args.json_dir, jobs, signum)
    for problem in problems:
        sys.stderr.write(f"{PROG}: error: {problem}\n")
    if signum is not None:
        sys.stderr.write(f"{PROG}: {_interrupted_line(jobs, again)}\n")
        return EXIT_BY_SIGNAL.get(signum, EXIT_INTERRUPTED)
    return EXIT_ERROR if problems else _exit_code(jobs)


COMMAND = Subcommand(
    "station", "run a plan on every channel of a station at once (several units)", _configure, _run
)
