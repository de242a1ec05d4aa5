"""``spasim serve``: a virtual box (or remote) on a pseudo-terminal or TCP port.

    spasim serve [--pty | --tcp HOST:PORT] [--count N] [--role box|remote] [--profile [I:]NAME]...
                 [--speed X] [--fault [I:]ID]... [--water °C] [--ambient °C] [--seed N]
                 [--set NAME=VALUE]... [--capture FILE] [--tank-litres L]
                 [--meter-tcp HOST:PORT | --meter-pty]
                 [--control HOST:PORT [--control-any-host]] [-v]

Output contract (programs and the pytest plugin rely on it): the first line on stdout is
exactly ``listening on <pty path | host:port>`` and is flushed at once; with a virtual meter
(``--meter-tcp``/``--meter-pty``) a second line ``meter on <tcp://host:port | pty path>``
follows (what ``spabench run --meter`` takes), then with ``--control`` a line ``control on
HOST:PORT`` (what ``spasim control`` and ``--operator control://`` take); nothing else is
written to stdout. ``-v``
logs every frame both ways, one ``describe()`` line each with the simulated time, plus
client connect/leave notices, on **stderr**. The process serves until SIGINT or SIGTERM,
then closes the pty/sockets and exits 0. Bad arguments (unknown profile, unknown fault, bad
HOST:PORT, a port it cannot listen on) give one line on stderr and exit 2.

``--speed X`` makes every duration X times shorter: report periods, timers, the watchdog
and the wire time of each frame all live on the simulated clock, which the real-time driver
runs X times faster than the wall clock. TCP listens on 127.0.0.1 unless told otherwise;
port 0 picks a free port and the ``listening on`` line shows the address really bound. HOST
is an IP literal (or ``localhost``); only ``0.0.0.0`` / ``::`` listen on every interface.

Every number has a range (``--speed`` 0.01–1000, ``--water`` 0–99 °C, ``--ambient`` −30–50
°C, ``--seed`` 0–2³²−1, ``--tank-litres`` 1–10000); outside it: one line, exit 2. A client
cannot make the server grow or block: the unit hears and says no more than a 9600-baud line
carries (see :class:`~protocols.ports.LinkPort`), and no write waits for a client.

``--meter-tcp HOST:PORT`` / ``--meter-pty`` (box role) also serve a virtual SDM120 mains
energy meter (Modbus TCP, or Modbus RTU on a pseudo-terminal) that reads the box's supply:
the bench's ``--meter tcp://HOST:PORT`` or ``--meter /dev/pts/N`` opens it like a real one.

``--control HOST:PORT`` opens the control channel (:mod:`spasim.control`, protocol in
:mod:`protocols.control`): a person's hands and eyes at the served unit — PRCD TEST/RESET,
the knob, the lid, ambient and water, faults injected and cleared at run time, what a person
sees — for rehearsals (``spabench run --operator control://HOST:PORT``) and a bridge's CI
(``spasim control HOST:PORT inject flow-switch-stuck-open``). It announces itself with a
line ``control on HOST:PORT`` after the ``listening on`` (and ``meter on``) line. Anyone who
reaches it can break the unit at will, so it listens on a loopback address only; another
address is refused unless ``--control-any-host`` says it is meant.
``--tank-litres L`` replaces the profile's tub with a test tank (the bench uses 20 L, so a
heater test warms the water in minutes, not hours).

``--capture FILE`` records every byte both ways in the capture text format of
:mod:`protocols.capture` (header: profile, date, source), times in simulated seconds.

``--count N`` serves N independent units (a station's channels, rehearsed without hardware)
from this one process, on one real-time driver — no thread per unit; each unit is its own
:class:`~spasim.serve.Server`, so one client leaving, or one link failing, is that unit's event
only. Every stdout line then starts with the unit's 1-based index: ``box I: listening on
<address>``, then (if asked) ``box I: meter on <url>`` and ``box I: control on HOST:PORT``,
unit by unit, all written and flushed at once after every endpoint was opened (``remote I:``
with ``--role remote``); ``-v`` lines start with ``box I:`` too (``# box I: client left``).
With N = 1 nothing changes: no index anywhere. Box I is plugged in (I − 1)/N of its report
period after box 1, so no two boxes report together. How each unit's options are derived
(including that, ``--fault I:ID``, ``--profile I:NAME``, consecutive ports, seeds
S + I − 1, ``cap-I.txt``) is :mod:`spasim.cli.serve_plan`'s job. A port that cannot be bound,
for any unit, is refused with one line naming the unit and the port (``box 2: cannot listen on
127.0.0.1:7002: Address already in use``), exit 2, before any line is printed or any unit
served.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO, cast

from protocols.capture import open_capture
from protocols.cli_support import (
    EXIT_OK,
    Subcommand,
    UsageError,
    bounded_float,
    bounded_int,
    host_port,
)
from protocols.driver import Driver, RealTimeDriver
from protocols.meter_model import METER_SPECS, SDM120, MeterErrors, meter_spec
from protocols.mspa import Direction, Frame, RemoteState, describe
from spasim.cli.serve_plan import COUNT_RANGE, UnitPlan, indexed, plan_units
from spasim.control import BoxCommands, ControlServer, PanelCommands
from spasim.faults import Role, parse_fault
from spasim.meter_server import MeterServer
from spasim.profiles import Profile, load_profile
from spasim.remote import DEFAULT_PROFILE, VirtualRemote
from spasim.serve import (
    ROLES,
    ByteListener,
    CaptureTap,
    Endpoint,
    FrameTap,
    PtyEndpoint,
    Server,
    TcpEndpoint,
    Unit,
)
from spasim.simulation import AMBIENT_RANGE_C, SEED_RANGE, WATER_RANGE_C

if TYPE_CHECKING:
    from spasim.board import VirtualBox

SPEED_RANGE = (0.01, 1000.0)
"""``--speed``: below 0.01 a report period lasts minutes of wall time and waits overflow;
above 1000 the loop no longer keeps up with the box's schedule on a small machine
(``benchmarks/flood.py --speeds`` measures it)."""

TANK_LITRES_RANGE = (1.0, 10_000.0)
"""``--tank-litres``: from a bucket to well beyond the largest tub (930 L)."""

_SETTINGS = {
    "heater": bool,
    "filter": bool,
    "bubbles": int,
    "ozone": bool,
    "uvc": bool,
    "setpoint": int,
}


def remote_setting(text: str) -> tuple[str, int]:
    """``NAME=VALUE`` for ``--set``: a panel setting the served remote starts with."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    if not sep or name not in _SETTINGS:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME one of {', '.join(_SETTINGS)}, got {text!r}"
        )
    lowered = value.strip().lower()
    words = {"on": 1, "off": 0, "true": 1, "false": 0, "yes": 1, "no": 0}
    try:
        number = words[lowered] if lowered in words else int(lowered)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{name} needs a number or on/off, got {value!r}"
        ) from None
    return name, number


def _configure(parser: argparse.ArgumentParser) -> None:
    _add_serving_options(parser)
    _add_unit_options(parser)
    _add_meter_options(parser)
    _add_control_options(parser)
    _add_output_options(parser)


def _add_serving_options(parser: argparse.ArgumentParser) -> None:
    """Where to serve, which role, which model, how fast."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--pty", action="store_true", help="serve on a new pseudo-terminal (the default)"
    )
    where.add_argument(
        "--tcp",
        type=host_port,
        metavar="HOST:PORT",
        help="serve on TCP (host defaults to 127.0.0.1; port 0 picks a free one; with "
        "--count N, N consecutive ports from PORT)",
    )
    parser.add_argument(
        "--count",
        type=bounded_int(*COUNT_RANGE),
        default=1,
        metavar="N",
        help=f"serve N independent units in this one process ({COUNT_RANGE[0]}–{COUNT_RANGE[1]}"
        "; default 1): N ptys or N consecutive TCP ports, each line prefixed 'box I: '",
    )
    parser.add_argument(
        "--role",
        choices=ROLES,
        default="box",
        help="play the control box (default) or the remote panel",
    )
    parser.add_argument(
        "--profile",
        type=indexed,
        action="append",
        default=[],
        metavar="[I:]NAME",
        help=f"box model: a packaged profile name or a .toml path (default {DEFAULT_PROFILE}); "
        "I:NAME for unit I only",
    )
    parser.add_argument(
        "--speed",
        type=bounded_float(*SPEED_RANGE),
        default=1.0,
        metavar="X",
        help="run X times faster than real time (every duration X times shorter; "
        f"{SPEED_RANGE[0]:g}–{SPEED_RANGE[1]:g})",
    )


def _add_unit_options(parser: argparse.ArgumentParser) -> None:
    """The unit's faults and world (box role) or its panel settings (remote role)."""
    parser.add_argument(
        "--fault",
        type=indexed,
        action="append",
        default=[],
        metavar="[I:]ID",
        help="inject a fault from the catalogue into every unit, or with I:ID into unit I "
        "only (repeatable)",
    )
    parser.add_argument(
        "--water",
        type=bounded_float(*WATER_RANGE_C, " °C"),
        default=None,
        metavar="°C",
        help=f"box role: water temperature, {WATER_RANGE_C[0]:g}–{WATER_RANGE_C[1]:g} "
        "(default: ambient)",
    )
    parser.add_argument(
        "--ambient",
        type=bounded_float(*AMBIENT_RANGE_C, " °C"),
        default=20.0,
        metavar="°C",
        help=f"box role: air temperature, {AMBIENT_RANGE_C[0]:g}–{AMBIENT_RANGE_C[1]:g} "
        "(default 20)",
    )
    parser.add_argument(
        "--seed",
        type=bounded_int(*SEED_RANGE),
        default=0,
        metavar="N",
        help=f"box role: seed for sensor noise, 0–{SEED_RANGE[1]} (default 0; with "
        "--count, unit I gets N+I-1)",
    )
    parser.add_argument(
        "--set",
        type=remote_setting,
        action="append",
        default=[],
        dest="settings",
        metavar="NAME=VALUE",
        help="role remote: a panel setting to start with, e.g. filter=on setpoint=37",
    )
    parser.add_argument(
        "--tank-litres",
        type=bounded_float(*TANK_LITRES_RANGE, " L"),
        default=None,
        metavar="L",
        help="box role: water volume of a test tank instead of the profile's tub "
        f"({TANK_LITRES_RANGE[0]:g}–{TANK_LITRES_RANGE[1]:g} L)",
    )


def _add_meter_options(parser: argparse.ArgumentParser) -> None:
    """A virtual energy meter on the box's supply (box role)."""
    meter = parser.add_mutually_exclusive_group()
    meter.add_argument(
        "--meter-tcp",
        type=host_port,
        metavar="HOST:PORT",
        help="box role: also serve a virtual SDM120 energy meter on Modbus TCP (with --count, "
        "one per unit on consecutive ports)",
    )
    meter.add_argument(
        "--meter-pty",
        action="store_true",
        help="box role: also serve a virtual SDM120 energy meter, Modbus RTU on a new pty "
        "(one per unit)",
    )
    parser.add_argument(
        "--meter-spec",
        choices=sorted(METER_SPECS),
        default=SDM120.name,
        help="data sheet the virtual meter reads to: "
        + ", ".join(sorted(METER_SPECS))
        + f" (default {SDM120.name}: reads 0 below 20 mA, class 1 errors, float32)",
    )


def _add_control_options(parser: argparse.ArgumentParser) -> None:
    """The control channel: a person's hands and eyes at the served unit."""
    parser.add_argument(
        "--control",
        type=host_port,
        metavar="HOST:PORT",
        help="also open the control channel (one command per line, JSON replies: press PRCD "
        "TEST/RESET, turn the knob, inject faults...) on a loopback address; port 0 picks one; "
        "with --count, one per unit on consecutive ports",
    )
    parser.add_argument(
        "--control-any-host",
        action="store_true",
        help="allow --control on a non-loopback address (anyone who reaches it controls the unit)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """What is recorded or logged besides serving."""
    parser.add_argument(
        "--capture",
        metavar="FILE",
        default=None,
        help="record every frame both ways to FILE (capture text format); with --count, "
        "unit I records to FILE with -I before its suffix (cap-2.txt)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every frame both ways on stderr (with --count, each line after 'box I:')",
    )


def _endpoint(plan: UnitPlan) -> Endpoint:
    if plan.tcp is None:
        return PtyEndpoint()
    host, port = plan.tcp
    try:
        return TcpEndpoint(host, port)
    except OSError as error:
        raise UsageError(
            f"{plan.label}cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None


class _Profiles:
    """Profiles loaded once per name: sixteen boxes of one model read its file once."""

    def __init__(self) -> None:
        self._loaded: dict[str, Profile] = {}

    def __call__(self, name: str) -> Profile:
        if name not in self._loaded:
            try:
                self._loaded[name] = load_profile(name)
            except (ValueError, OSError) as error:
                raise UsageError(str(error)) from None
        return self._loaded[name]


def _build_remote(
    driver: Driver, args: argparse.Namespace, plan: UnitPlan, profile: Profile
) -> VirtualRemote:
    values: dict[str, Any] = dict(RemoteState()._asdict())
    for name, value in args.settings:
        values[name] = _SETTINGS[name](value)
    try:
        state = RemoteState(**values)
        remote = VirtualRemote(driver.scheduler, profile=profile, state=state, faults=plan.faults)
    except ValueError as error:
        raise UsageError(str(error)) from None
    remote.start()
    return remote


def _build_box(driver: Driver, args: argparse.Namespace, plan: UnitPlan, profile: Profile) -> Unit:
    from spasim.board import VirtualBox  # imported late: only the box role pays for it

    later = plan.plugged_in_after(profile.link_report_period_s)
    try:
        box = VirtualBox(
            driver.scheduler,
            None,
            profile,
            seed=plan.seed,
            faults=plan.faults,
            water_c=args.water,
            ambient_c=args.ambient,
            tank_litres=args.tank_litres,
            mains_on=later == 0,
        )
    except (KeyError, ValueError) as error:
        raise UsageError(str(error.args[0] if error.args else error)) from None
    if later:
        box.plug_in_at(driver.scheduler.now() + later)
    return box


def _frame_logger(stream: TextIO, label: str) -> ByteListener:
    """``-v``: one ``describe()`` line per complete frame, both ways, simulated seconds,
    after the unit's label (``box 2: ``) when several are served."""

    def log(time: float, sender: str, frame: Frame) -> None:
        stream.write(f"{label}{time:10.3f} {describe(frame, Direction.from_sender(sender))}\n")
        stream.flush()

    return FrameTap(log)


def _event_logger(stream: TextIO, label: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        stream.write(f"# {label}{message}\n")
        stream.flush()

    return log


def _open_capture(args: argparse.Namespace, plan: UnitPlan, profile: Profile) -> CaptureTap:
    assert plan.capture is not None
    source = f"spasim serve --role {args.role} --speed {args.speed:g}"
    if plan.count > 1:
        source += f" ({plan.name} of {plan.count})"
    try:
        writer = open_capture(plan.capture, profile=profile.name, source=source)
    except OSError as error:
        raise UsageError(
            f"cannot write capture {plan.capture}: {error.strerror or error}"
        ) from None
    return CaptureTap(writer)


def _start_meter(args: argparse.Namespace, plan: UnitPlan, unit: Unit) -> MeterServer | None:
    """The virtual energy meter on the box's supply, if one was asked for."""
    if plan.meter_tcp is None and not args.meter_pty:
        return None
    box = cast("VirtualBox", unit)
    # A served meter is never kinder than the one on a real bench: the truth, spoiled as the
    # declared data sheet allows (only the meter server's thread reads it).
    errors = MeterErrors(meter_spec(args.meter_spec), seed=plan.seed)
    server = MeterServer(lambda: errors.spoil(box.meter()), tcp=plan.meter_tcp, pty=args.meter_pty)
    try:
        server.start()
    except OSError as error:
        # pymodbus' refusal already says where ("cannot serve the meter on HOST:PORT: ...").
        reason = f"cannot serve the meter: {error.strerror}" if error.strerror else str(error)
        raise UsageError(f"{plan.label}{reason}") from None
    return server


def _check_fault(role: Role) -> Callable[[str], None]:
    """A fault of the catalogue that a unit of ``role`` can have, or one line, exit 2."""

    def check(fault: str) -> None:
        try:
            parse_fault(fault, role=role)
        except ValueError as error:
            raise UsageError(str(error)) from None

    return check


def _check_roles(args: argparse.Namespace) -> None:
    """Options that belong to the other role: one line, exit 2."""
    if args.settings and args.role != "remote":
        raise UsageError("--set is for --role remote (a box takes its settings from the remote)")
    box_only = {
        "--meter-tcp": args.meter_tcp is not None,
        "--meter-pty": args.meter_pty,
        "--tank-litres": args.tank_litres is not None,
    }
    for option, given in box_only.items():
        if given and args.role != "box":
            raise UsageError(f"{option} is for --role box")


def _check_control(args: argparse.Namespace) -> None:
    """``--control`` on loopback, or elsewhere only with ``--control-any-host``."""
    if args.control is None:
        if args.control_any_host:
            raise UsageError("--control-any-host needs --control HOST:PORT")
        return
    host, _ = args.control
    if not ipaddress.ip_address(host).is_loopback and not args.control_any_host:
        raise UsageError(
            f"--control {host} is not a loopback address: anyone reaching it could control "
            "the unit (add --control-any-host if that is meant)"
        )


def _start_control(driver: Driver, plan: UnitPlan, unit: Unit) -> ControlServer | None:
    """The control channel over the unit, on the serving loop, if one was asked for."""
    if plan.control is None:
        return None
    from spasim.board import VirtualBox

    commands: BoxCommands | PanelCommands
    if isinstance(unit, VirtualBox):
        commands = BoxCommands(unit)
    else:
        commands = PanelCommands(cast(VirtualRemote, unit))
    host, port = plan.control
    try:
        server = ControlServer(driver, commands, host, port)
    except OSError as error:
        raise UsageError(
            f"{plan.label}cannot open the control channel on {host}:{port}: "
            f"{error.strerror or error}"
        ) from None
    server.start()
    return server


@dataclass
class _Serving:
    """What one served unit opened, so that :meth:`close` undoes exactly that."""

    plan: UnitPlan
    endpoint: Endpoint | None = None
    server: Server | None = None
    capture: CaptureTap | None = None
    meter: MeterServer | None = None
    control: ControlServer | None = None

    def open(self, driver: Driver, args: argparse.Namespace, profile: Profile) -> None:
        """Bind the endpoint, build the unit, open its capture, meter and control channel —
        everything that can be refused — without serving the unit's cable yet."""
        plan = self.plan
        self.endpoint = endpoint = _endpoint(plan)
        if args.role == "box":
            unit: Unit = _build_box(driver, args, plan, profile)
        else:
            unit = _build_remote(driver, args, plan, profile)
        listeners: list[ByteListener] = []
        if args.verbose:
            listeners.append(_frame_logger(sys.stderr, plan.label))
        if plan.capture is not None:
            self.capture = _open_capture(args, plan, profile)
            listeners.append(self.capture)

        def on_bytes(time: float, sender: str, data: bytes) -> None:
            for listener in listeners:
                listener(time, sender, data)

        self.server = Server(
            driver,
            unit,
            endpoint,
            sender=args.role,
            on_bytes=on_bytes if listeners else None,
            on_event=_event_logger(sys.stderr, plan.label) if args.verbose else None,
        )
        self.meter = _start_meter(args, plan, unit)
        self.control = _start_control(driver, plan, unit)

    def announcement(self) -> str:
        """The unit's stdout lines: ``listening on``, then ``meter on`` and ``control on``."""
        assert self.endpoint is not None
        label = self.plan.label
        lines = [f"{label}listening on {self.endpoint.address}\n"]
        if self.meter is not None:
            lines.append(f"{label}meter on {self.meter.url}\n")
        if self.control is not None:
            lines.append(f"{label}control on {self.control.address}\n")
        return "".join(lines)

    def start(self) -> None:
        assert self.server is not None
        self.server.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        elif self.endpoint is not None:
            self.endpoint.close()
        if self.capture is not None:
            self.capture.close()
        if self.meter is not None:
            self.meter.stop()
        if self.control is not None:
            self.control.close()


def serve(args: argparse.Namespace) -> int:
    """Plan the units, open all of them (or refuse before serving any), announce their
    addresses, serve them on one real-time driver until a signal."""
    _check_roles(args)
    _check_control(args)
    plans = plan_units(args, DEFAULT_PROFILE, _check_fault(args.role))
    profiles = _Profiles()
    for plan in plans:
        profiles(plan.profile)  # an unknown profile is refused before anything is bound
    driver = RealTimeDriver(speed=args.speed)
    servings: list[_Serving] = []
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)
        driver.call_soon_threadsafe(lambda: None)  # wakes the select loop

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for plan in plans:
            serving = _Serving(plan)
            servings.append(serving)
            serving.open(driver, args, profiles(plan.profile))
        sys.stdout.write("".join(serving.announcement() for serving in servings))
        sys.stdout.flush()
        for serving in servings:
            serving.start()
        driver.wait_until(lambda: bool(stopping), None)
    finally:
        for serving in servings:
            serving.close()
        driver.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    return serve(args)


COMMAND = Subcommand(
    "serve",
    "serve a virtual box (or remote) on a pseudo-terminal or TCP port (--count N: N of them)",
    _configure,
    _run,
)
