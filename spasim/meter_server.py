"""A virtual SDM120 mains meter that other programs reach over Modbus TCP or Modbus RTU.

``spasim serve`` puts a virtual box on a pty or TCP port; the bench (or any Modbus tool)
then wants to read the box's mains draw the way it reads a real meter in the supply. This
module serves the SDM120 register map (:mod:`protocols.sdm120`) with pymodbus' own server,
computing the registers from a ``reading()`` callable *at request time*, so a client sees
the box as it is when it asks — no polling thread, no stale copy.

Design choices, and why:

* **A thread with its own asyncio loop.** pymodbus' servers are asyncio; the simulator's
  driver thread must keep running undisturbed, so the server lives beside it.
  ``reading()`` is therefore called from the server thread: give it something safe to call
  from another thread (reading a few floats the driver thread publishes is; mutating
  simulator state is not).
* **Registers computed in pymodbus' ``SimDevice(action=...)`` hook.** It is the pymodbus 3.x
  way to make a register block live (``ModbusDeviceContext``/``ModbusServerContext`` are
  deprecated and warn). The block is 0x0000–0x0049, read-only, function 0x04 only; the
  registers this meter does not have read as 0.0, as on a real Eastron meter.
* **Silence for other unit ids.** On an RS-485 line a meter with another address says
  nothing, so a bench configured with the wrong unit id times out instead of reading
  garbage. pymodbus 3.16 has the switch for it (``ignore_missing_devices``) but its
  ``SimCore`` raises ``KeyError`` instead of ``NoSuchIdException`` for an unknown id, so
  the switch never fires and the client gets "device failure" instead; :class:`_OneUnit`
  raises the exception the request handler expects.
* **RTU on a pty through a virtual null-modem.** pymodbus' serial server opens a port *by
  name* through pyserial, and a pty's master side has no name. So we make two ptys and
  copy bytes between their masters (what ``socat pty pty`` does): the server opens one
  slave like a real adapter, clients open the other. pymodbus then does all the RTU
  framing, CRC and request handling through its public serial server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from protocols.links import PtyPair
from protocols.sdm120 import (
    DEFAULT_UNIT,
    FUNCTION_READ_INPUT_REGISTERS,
    MAPPED_SPAN,
    InputRegister,
    MeterReading,
    encode_image,
    reading_values,
)

DEFAULT_HOST = "127.0.0.1"
START_TIMEOUT = 5.0
"""Seconds :meth:`MeterServer.start` waits for the listener before giving up."""
STOP_TIMEOUT = 5.0
_SERIAL_BAUDRATE = 9600
"""Passed to pymodbus' serial server; a pty ignores the rate."""


class _OneUnit(SimCore):
    """pymodbus' register store for one device that rejects other unit ids the way the
    request handler understands (``NoSuchIdException`` → no answer at all)."""

    def __init__(self, device: SimDevice) -> None:
        super().__init__(device)
        self.unit = device.id

    def _check(self, device_id: int) -> None:
        if device_id != self.unit:
            raise NoSuchIdException(f"unit {device_id} is not this meter ({self.unit})")

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self._check(device_id)
        return await super().async_getValues(device_id, func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        self._check(device_id)
        return await super().async_setValues(device_id, func_code, address, values)


class _NullModem:
    """Two ptys whose masters are cross-connected: a serial cable between two slave paths.

    Runs inside the server's event loop (``add_reader``), so it needs no thread of its own.
    Bytes that cannot be written at once (nobody reading the other side, its 4 KiB queue
    full) are dropped, as on a real line with nobody listening; the loop never blocks.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.server_side = PtyPair()
        self.client_side = PtyPair()
        self._fds: list[int] = []
        for source, sink in (
            (self.server_side, self.client_side),
            (self.client_side, self.server_side),
        ):
            source_fd, sink_fd = source.link.fileno(), sink.link.fileno()
            assert source_fd is not None and sink_fd is not None  # fresh, open links
            loop.add_reader(source_fd, self._forward, source_fd, sink_fd)
            self._fds.append(source_fd)

    def _forward(self, source_fd: int, sink_fd: int) -> None:
        try:
            data = os.read(source_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            # Cannot happen while PtyPair holds both slaves open; should it anyway, stop
            # watching the dead side rather than have the loop call us in a tight loop.
            self._loop.remove_reader(source_fd)
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(sink_fd, data)

    def close(self) -> None:
        for fd in self._fds:
            self._loop.remove_reader(fd)
        self._fds.clear()
        self.server_side.close()
        self.client_side.close()


class MeterServer:
    """A virtual SDM120 answering from ``reading()`` on Modbus TCP or on a pty (Modbus RTU).

    ``tcp=(host, port)`` serves Modbus TCP (port 0 picks a free port; :meth:`start` reports
    the real one); ``pty=True`` serves Modbus RTU on a fresh pseudo-terminal whose path
    :meth:`start` returns — open it like ``/dev/ttyUSB1``. With neither, TCP on
    127.0.0.1 and a free port. ``frequency_hz`` is what register 0x0046 shows;
    ``import_kwh()`` feeds register 0x0048, and without it the server counts energy itself
    by integrating the power it reports over wall-clock time between requests.
    """

    def __init__(
        self,
        reading: Callable[[], MeterReading],
        *,
        tcp: tuple[str, int] | None = None,
        pty: bool = False,
        unit: int = DEFAULT_UNIT,
        frequency_hz: float = 50.0,
        import_kwh: Callable[[], float] | None = None,
    ) -> None:
        if tcp is not None and pty:
            raise ValueError("serve the meter on TCP or on a pty, not both")
        if not 1 <= unit <= 247:
            raise ValueError(f"Modbus unit id must be 1..247, got {unit}")
        if tcp is None and not pty:
            tcp = (DEFAULT_HOST, 0)
        if tcp is not None:
            host, port = tcp
            tcp = (host or DEFAULT_HOST, port)
        self._reading = reading
        self._tcp = tcp
        self._unit = unit
        self._frequency_hz = frequency_hz
        self._import_kwh = import_kwh
        self._energy_kwh = 0.0
        self._last_power_w = 0.0
        self._last_time: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusBaseServer | None = None
        self._null_modem: _NullModem | None = None
        self.address: str | None = None
        self.requests = 0
        """Read requests answered so far (tests and the console show it)."""

    @property
    def url(self) -> str:
        """What the bench's ``--meter`` takes to reach this server."""
        if self.address is None:
            raise RuntimeError("the meter server is not running")
        return self.address if self._tcp is None else f"tcp://{self.address}"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Start serving; returns ``"HOST:PORT"`` (TCP) or the pty path (RTU)."""
        if self._thread is not None:
            raise RuntimeError("the meter server is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._run, args=(loop,), name="meter-server", daemon=True)
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            self.address = asyncio.run_coroutine_threadsafe(self._serve(), loop).result(
                START_TIMEOUT
            )
        except BaseException:
            self.stop()
            raise
        return self.address

    def stop(self) -> None:
        """Stop serving and release the port or pty; idempotent, returns within seconds."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(STOP_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None
        self.address = None

    def __enter__(self) -> MeterServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def _serve(self) -> str:
        device = SimDevice(
            id=self._unit,
            simdata=SimData(0, count=MAPPED_SPAN, datatype=DataType.REGISTERS, readonly=True),
            action=self._action,
        )
        server: ModbusBaseServer
        if self._tcp is not None:
            server = ModbusTcpServer(device, address=self._tcp, ignore_missing_devices=True)
        else:
            self._null_modem = _NullModem(asyncio.get_running_loop())
            server = ModbusSerialServer(
                device,
                port=self._null_modem.server_side.path,
                baudrate=_SERIAL_BAUDRATE,
                ignore_missing_devices=True,
                reconnect_delay=0,
            )
        server.context = _OneUnit(device)
        self._server = server
        try:
            await server.serve_forever(background=True)
        except RuntimeError as error:  # pymodbus: "Could not start listen ..."
            where = f"{self._tcp[0]}:{self._tcp[1]}" if self._tcp else "a pty"
            raise OSError(f"cannot serve the meter on {where}: {error}") from error
        if self._tcp is None:
            assert self._null_modem is not None
            return self._null_modem.client_side.path
        listener = server.transport  # what loop.create_server returned
        if not isinstance(listener, asyncio.Server):
            raise OSError(f"pymodbus gave an unexpected listener: {listener!r}")
        host, port = listener.sockets[0].getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def _shutdown(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]  # unannotated
            self._server = None
        if self._null_modem is not None:
            self._null_modem.close()
            self._null_modem = None
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- the live register block -------------------------------------------------------

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before answering; we rewrite the block from the reading."""
        if function_code != FUNCTION_READ_INPUT_REGISTERS or set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        try:
            reading = self._reading()
            values = reading_values(reading)
            values[InputRegister.FREQUENCY] = self._frequency_hz
            values[InputRegister.IMPORT_ACTIVE_ENERGY] = self._energy(reading.power_w)
            image = encode_image(values)
        except Exception:  # the unit behind the meter failed: a meter would say so
            return ExcCodes.DEVICE_FAILURE
        registers[: len(image) - start_address] = image[start_address:]
        self.requests += 1
        return None

    def _energy(self, power_w: float) -> float:
        if self._import_kwh is not None:
            return self._import_kwh()
        now = time.monotonic()
        if self._last_time is not None:
            self._energy_kwh += max(self._last_power_w, 0.0) * (now - self._last_time) / 3.6e6
        self._last_time, self._last_power_w = now, power_w
        return self._energy_kwh
