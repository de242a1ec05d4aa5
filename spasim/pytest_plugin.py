"""pytest plugin (entry point ``pytest11``): fixtures that hand tests a virtual MSpa box.

Installing spasim makes two fixtures available to any test suite (an ESPHome bridge, a
home-automation integration, the bench itself):

``virtual_box`` — an in-process :class:`spasim.board.VirtualBox` on a simulated clock,
plugged into one end of a :class:`~protocols.ports.SimCable`. Nothing waits on the wall
clock: ``advance(seconds)`` runs a simulated hour in milliseconds. The fixture value (a
:class:`VirtualBoxRig`) gives the box (world actions and faults: ``set_mains``,
``press_prcd_test``, ``set_knob``, ``inject``...), the remote end of the cable
(``port``: ``send`` bytes, set ``on_receive``), the scheduler and a simulated driver::

    @pytest.mark.spasim(profile="elite-6", faults=["heater-open"], remote=True)
    def test_heater_open_does_not_heat(virtual_box):
        virtual_box.remote.set(filter=True, heater=True, setpoint=40)
        virtual_box.advance(3600)
        assert virtual_box.box.load_powers()["heater"] == 0

``served_box`` — ``spasim serve`` in a subprocess on a real pseudo-terminal (default) or a
TCP port, for code that can only talk to a serial port. The value (a :class:`ServedUnit`)
has ``url``, what pyserial opens (``serial.serial_for_url(served_box.url)``): the pty path,
or ``socket://127.0.0.1:PORT``. The server is stopped with SIGTERM after the test::

    @pytest.mark.spasim(transport="tcp", speed=50)
    def test_bridge_reads_temperature(served_box):
        bridge = MyBridge(served_box.url)
        ...

Options, given as keyword arguments of the ``spasim`` marker or as a dict through indirect
parametrisation (``@pytest.mark.parametrize("virtual_box", [{"profile": "elite-6"}],
indirect=True)``; the parameter wins over the marker):

* both fixtures: ``profile`` (name or .toml path, default ``premium-4``), ``faults`` (ids,
  ``id:mode`` allowed), ``seed``, ``water_c``, ``ambient_c``;
* ``virtual_box`` only: ``tank_litres``, ``mains_on`` (default True), ``remote`` (True: a
  :class:`spasim.remote.VirtualRemote` is plugged into the cable and started, and every frame
  both ways is logged in ``rig.frames``);
* ``served_box`` only: ``transport`` (``"pty"`` or ``"tcp"``), ``speed`` (default 1.0),
  ``role`` (``"box"`` or ``"remote"``), ``verbose`` (``-v``, lines go to
  ``served_box.log()``), ``startup_timeout`` (wall seconds, default 15).

``served_boxes`` — the same with ``--count N`` (marker option ``count``, default 2, and the
``served_box`` options, faults meaning every box): N independent boxes served by one
process, for code that drives several serial ports at once (a station). The value (a
:class:`ServedUnits`) has ``urls``/``addresses`` in box order (box 1 first)::

    @pytest.mark.spasim(count=3, transport="tcp", speed=50)
    def test_station_reads_every_box(served_boxes):
        assert len(served_boxes.urls) == 3
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from protocols.clock import Scheduler
from protocols.driver import SimulatedDriver
from protocols.mspa import Frame
from protocols.ports import CableEnd, SimCable

if TYPE_CHECKING:
    from spasim.board import VirtualBox
    from spasim.remote import VirtualRemote

MARKER = "spasim"
_BOX_OPTIONS = frozenset(
    {"profile", "faults", "seed", "water_c", "ambient_c", "tank_litres", "mains_on", "remote"}
)
_SERVE_OPTIONS = frozenset(
    {
        "profile",
        "faults",
        "seed",
        "water_c",
        "ambient_c",
        "transport",
        "speed",
        "role",
        "verbose",
        "startup_timeout",
    }
)
_CLI = "import sys; from spasim.cli import main; sys.exit(main())"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): configure the virtual_box / served_box fixtures "
        "(profile, faults, seed, water_c, ambient_c, ...; see spasim.pytest_plugin)",
    )


def _options(request: pytest.FixtureRequest, allowed: frozenset[str]) -> dict[str, Any]:
    """Marker keyword arguments, overridden by an indirect parameter; unknown keys fail."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments only")
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, Mapping):
            raise pytest.UsageError(f"{request.fixturename} parameter must be a dict of options")
        options.update(param)
    unknown = set(options) - allowed
    if unknown:
        raise pytest.UsageError(
            f"{request.fixturename} does not know option(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(allowed))})"
        )
    return options


# -- in-process box ------------------------------------------------------------------------


@dataclass
class VirtualBoxRig:
    """A virtual box on a simulated cable, and everything a test needs to drive it."""

    box: VirtualBox
    cable: SimCable
    port: CableEnd
    """The remote end of the cable: what a remote (or the test) sends on and listens to."""
    scheduler: Scheduler
    driver: SimulatedDriver
    remote: VirtualRemote | None = None
    frames: list[tuple[float, str, Frame]] = field(default_factory=list)
    """Every frame both ways as ``(time, "box"|"remote", frame)`` when a remote is plugged."""

    def now(self) -> float:
        return self.scheduler.now()

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass (instantly, in wall time)."""
        self.driver.sleep(seconds)

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until ``predicate()`` holds or ``timeout`` simulated seconds pass."""
        return self.driver.wait_until(predicate, timeout)

    def inject(self, fault: str) -> None:
        self.box.inject(fault)

    def clear(self, fault: str) -> None:
        self.box.clear(fault)

    def plug_remote(self, **options: Any) -> VirtualRemote:
        """Plug a virtual panel (same profile as the box) into the cable and power it."""
        from spasim.remote import VirtualRemote

        options.setdefault("profile", self.box.profile)
        remote = VirtualRemote(self.scheduler, self.port, **options)
        remote.duty.frame_listeners.append(self._log)
        remote.start()
        self.remote = remote
        return remote

    def _log(self, time: float, sender: str, frame: Frame) -> None:
        self.frames.append((time, sender, frame))


def make_virtual_box(**options: Any) -> VirtualBoxRig:
    """Build the rig the ``virtual_box`` fixture gives (also usable outside pytest)."""
    from spasim.rig import build_box_rig  # imported late: loading the plugin stays cheap

    built = build_box_rig(
        options.get("profile", "premium-4"),
        seed=options.get("seed", 0),
        faults=options.get("faults", ()),
        water_c=options.get("water_c"),
        ambient_c=options.get("ambient_c", 20.0),
        tank_litres=options.get("tank_litres"),
        mains_on=options.get("mains_on", True),
    )
    rig = VirtualBoxRig(built.box, built.cable, built.port, built.scheduler, built.driver)
    if options.get("remote", False):
        rig.plug_remote()
    return rig


@pytest.fixture
def virtual_box(request: pytest.FixtureRequest) -> VirtualBoxRig:
    """An in-process virtual box on a simulated clock (see the module docstring)."""
    return make_virtual_box(**_options(request, _BOX_OPTIONS))


# -- served box ----------------------------------------------------------------------------


@dataclass
class ServedUnit:
    """A running ``spasim serve`` process and where to reach it."""

    process: subprocess.Popen[bytes]
    address: str
    """What the server printed: the pty path or ``host:port``."""
    transport: str
    speed: float
    log_path: str
    """Where the server's stderr goes (removed by :meth:`discard`)."""

    @property
    def url(self) -> str:
        """What pyserial opens: the pty path, or ``socket://host:port``."""
        return self.address if self.transport == "pty" else f"socket://{self.address}"

    def log(self) -> str:
        """Everything the server wrote on stderr so far (``-v`` frame lines, errors)."""
        with open(self.log_path, "rb") as stream:
            return stream.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to ``timeout`` wall seconds (then kill); the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def discard(self) -> None:
        """Stop the server and remove its log file."""
        self.stop()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.log_path)


def serve_arguments(options: Mapping[str, Any]) -> list[str]:
    """``spasim serve`` arguments for fixture options."""
    transport = options.get("transport", "pty")
    if transport not in ("pty", "tcp"):
        raise ValueError(f"transport must be 'pty' or 'tcp', got {transport!r}")
    args = ["serve", "--pty"] if transport == "pty" else ["serve", "--tcp", "127.0.0.1:0"]
    args += ["--role", options.get("role", "box"), "--speed", str(options.get("speed", 1.0))]
    if "profile" in options:
        args += ["--profile", str(options["profile"])]
    for fault in options.get("faults", ()):
        args += ["--fault", fault]
    for option, flag in (("seed", "--seed"), ("water_c", "--water"), ("ambient_c", "--ambient")):
        if options.get(option) is not None:
            args += [flag, str(options[option])]
    if options.get("verbose", False):
        args.append("-v")
    return args


def start_served(
    arguments: Sequence[str], *, transport: str = "pty", speed: float = 1.0, timeout: float = 15.0
) -> ServedUnit:
    """Start ``spasim <arguments>`` and wait (at most ``timeout`` wall seconds) for its
    ``listening on`` line. stderr goes to a temporary file, never a pipe: a ``-v`` server
    at high speed would fill a pipe nobody reads and stall."""
    log_fd, log_path = tempfile.mkstemp(prefix="spasim-serve-", suffix=".log")
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _CLI, *arguments],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_fd,
        )
    finally:
        os.close(log_fd)  # the child has its own copy
    unit = ServedUnit(process, "", transport, speed, log_path)
    try:
        line = _first_line(process, timeout)
        prefix = "listening on "
        if not line.startswith(prefix):
            process.kill()
            process.wait()
            raise RuntimeError(f"spasim serve did not start: {line!r} {unit.log().strip()}")
    except BaseException:
        unit.discard()
        raise
    unit.address = line[len(prefix) :]
    return unit


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    return _next_line(process, time.monotonic() + timeout, timeout)


def _next_line(process: subprocess.Popen[bytes], deadline: float, timeout: float) -> str:
    """The next stdout line, read byte by byte (nothing beyond it is consumed); ``""`` when
    the process ended first."""
    stdout = process.stdout
    assert stdout is not None
    fd = stdout.fileno()
    line = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no 'listening on' line within {timeout} s")
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, 1)
            if not chunk:
                break  # the process ended before saying where it listens
            line += chunk
    return line.decode("utf-8", "replace").strip()


@dataclass
class ServedUnits:
    """A running ``spasim serve --count N`` process and where to reach each of its units.

    Lists are in unit order (index 1 first): ``addresses[i - 1]`` is what ``box i:
    listening on`` said; ``meters``/``controls`` are empty unless the server was asked for a
    meter (``--meter-tcp``/``--meter-pty``) or a control channel (``--control``).
    """

    process: subprocess.Popen[bytes]
    transport: str
    speed: float
    log_path: str
    addresses: list[str] = field(default_factory=list)
    meters: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        """What pyserial opens for each unit: pty paths, or ``socket://host:port``."""
        if self.transport == "pty":
            return list(self.addresses)
        return [f"socket://{address}" for address in self.addresses]

    def _served(self) -> ServedUnit:
        return ServedUnit(self.process, "", self.transport, self.speed, self.log_path)

    def log(self) -> str:
        """Everything the server wrote on stderr so far (``-v`` lines carry ``box I:``)."""
        return self._served().log()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (every unit stops), wait up to ``timeout`` wall seconds; the exit status."""
        return self._served().stop(timeout)

    def discard(self) -> None:
        """Stop the server and remove its log file."""
        self._served().discard()


_ANNOUNCED = re.compile(r"(?:(?:box|remote) (\d+): )?(listening|meter|control) on (.+)")
"""``box I: listening on ADDRESS`` (and ``meter on``, ``control on``); no ``box I:`` when one
unit is served."""


def start_served_units(
    arguments: Sequence[str],
    count: int,
    *,
    transport: str = "pty",
    speed: float = 1.0,
    timeout: float = 15.0,
) -> ServedUnits:
    """Start ``spasim <arguments> --count <count>`` and wait (at most ``timeout`` wall
    seconds) until every unit has announced every endpoint the arguments ask for."""
    kinds = {"listening"}
    if "--meter-tcp" in arguments or "--meter-pty" in arguments:
        kinds.add("meter")
    if "--control" in arguments:
        kinds.add("control")
    log_fd, log_path = tempfile.mkstemp(prefix="spasim-serve-", suffix=".log")
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _CLI, *arguments, "--count", str(count)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_fd,
        )
    finally:
        os.close(log_fd)
    units = ServedUnits(process, transport, speed, log_path)
    found: dict[str, dict[int, str]] = {kind: {} for kind in kinds}
    deadline = time.monotonic() + timeout
    try:
        while any(len(found[kind]) < count for kind in kinds):
            line = _next_line(process, deadline, timeout)
            match = _ANNOUNCED.fullmatch(line)
            if match is not None and match.group(2) in found:
                found[match.group(2)][int(match.group(1) or 1)] = match.group(3)
            else:
                process.kill()
                process.wait()
                raise RuntimeError(f"spasim serve did not start: {line!r} {units.log().strip()}")
    except BaseException:
        units.discard()
        raise
    units.addresses = [found["listening"][index] for index in range(1, count + 1)]
    for kind, target in (("meter", units.meters), ("control", units.controls)):
        if kind in found:
            target.extend(found[kind][index] for index in range(1, count + 1))
    return units


@pytest.fixture
def served_boxes(request: pytest.FixtureRequest) -> Iterator[ServedUnits]:
    """``spasim serve --count N`` (marker option ``count``, default 2): N units in one
    process on real ptys or consecutive-free TCP ports (see the module docstring)."""
    options = _options(request, _SERVE_OPTIONS | {"count"})
    count = int(options.pop("count", 2))
    units = start_served_units(
        serve_arguments(options),
        count,
        transport=options.get("transport", "pty"),
        speed=float(options.get("speed", 1.0)),
        timeout=float(options.get("startup_timeout", 15.0)),
    )
    try:
        yield units
    finally:
        units.discard()


@pytest.fixture
def served_box(request: pytest.FixtureRequest) -> Iterator[ServedUnit]:
    """``spasim serve`` on a real pty or TCP port (see the module docstring)."""
    options = _options(request, _SERVE_OPTIONS)
    unit = start_served(
        serve_arguments(options),
        transport=options.get("transport", "pty"),
        speed=float(options.get("speed", 1.0)),
        timeout=float(options.get("startup_timeout", 15.0)),
    )
    try:
        yield unit
    finally:
        unit.discard()
