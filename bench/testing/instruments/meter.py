"""The meter instrument: a mains energy meter in the unit's supply (SPEC §6).

The wire protocol never says whether a load really runs (SPEC §3), so the bench measures
what the unit draws. Steps see one small interface, :class:`Meter` (``read()`` →
:class:`~protocols.sdm120.MeterReading`), with two implementations:

* :class:`ModbusMeter` — a real SDM120-family meter (or ``spasim serve --meter-*``): Modbus
  RTU over any serial device or pyserial URL, or Modbus TCP (``tcp://HOST:PORT``) through a
  gateway, all through pymodbus' synchronous clients;
* :class:`VirtualMeter` — for in-process virtual runs: reads the virtual unit's true draw
  and spoils it the way a real meter does, with a fixed calibration error inside the
  meter's tolerance and a little noise, so plans are exercised against imperfect numbers
  (SPEC §5: a healthy box must pass with a ±2 % meter).

A meter that does not answer raises :class:`InstrumentError` with a one-line reason, which
the runner records as the step's error; a step never waits on a dead meter for more than
``timeout × (retries + 1)`` seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from pymodbus.client import ModbusBaseSyncClient, ModbusSerialClient, ModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from protocols.meter_model import NOMINAL_VOLTAGE_V, SDM120, MeterErrors, MeterSpec
from protocols.sdm120 import (
    BYTESIZE,
    DEFAULT_UNIT,
    FACTORY_BAUDRATE,
    PARITY,
    READING_BLOCK,
    REGISTERS_PER_VALUE,
    STOPBITS,
    InputRegister,
    MeterReading,
    decode_float32,
    reading_from_block,
)

DEFAULT_TIMEOUT = 1.0
"""Seconds to wait for one answer. An SDM120 at 2400 bit/s answers the 14-register request
in about 0.25 s (41 bytes on the wire plus its own latency)."""
DEFAULT_RETRIES = 1
"""One retry rides over a single garbled frame on a real RS-485 line."""
MODBUS_TCP_PORT = 502
DEFAULT_STALL_S = 1.0
"""Wall seconds one reading may take at real speed (an SDM120 answers in about 0.25 s); a
slower answer is an instrument error, never a value. A unit served faster than real time
divides it by the speed, down to :data:`MIN_STALL_S`."""
MIN_STALL_S = 0.05
"""No Modbus round trip, even on loopback, is reliably faster than this."""


def stall_limit(speed: float) -> float:
    """Wall seconds a reading may take when the unit runs ``speed`` times real time."""
    return max(MIN_STALL_S, DEFAULT_STALL_S / speed)


CLAMP_QUESTION = "Clamp meter on the live wire of the unit's supply: how many amps does it read?"
CLAMP_MAX_A = 100.0


class PersonAsker(Protocol):
    """The part of the operator a person-read instrument needs."""

    def number(self, prompt_id: str, question: str, unit: str) -> float: ...


class InstrumentError(Exception):
    """An instrument could not deliver a measurement; the message is one line saying why."""


class Meter(Protocol):
    """A mains energy meter in the unit's supply, as a step sees it."""

    name: str

    def read(self) -> MeterReading:
        """Voltage, current and active power now; :class:`InstrumentError` if no answer."""
        ...

    def close(self) -> None:
        """Release the line or connection; idempotent."""
        ...


class MeterStalled(InstrumentError):
    """The meter answered, but so late that the bench's clock stood still meanwhile: what the
    unit said in that time arrived late too, so nothing measured around it can be trusted."""


class _Refused(InstrumentError):
    """The meter answered with a Modbus exception instead of values."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _exception_name(code: int) -> str:
    try:
        return ExcCodes(code).name.lower().replace("_", " ")
    except ValueError:
        return "unknown exception"


class ModbusMeter:
    """An SDM120-family meter reached through a pymodbus synchronous client.

    Voltage, current and power come in one request (registers 0x0000–0x000D, see
    :data:`protocols.sdm120.READING_BLOCK`). A meter that refuses to read across the gaps
    of that block (illegal data address) is read one quantity per request from then on.
    """

    def __init__(
        self,
        client: ModbusBaseSyncClient,
        *,
        name: str,
        unit: int = DEFAULT_UNIT,
        stall_s: float = DEFAULT_STALL_S,
    ) -> None:
        self._client = client
        self.name = name
        self.unit = unit
        self.stall_s = stall_s
        self._split_reads = False
        self._closed = False

    @classmethod
    def open(
        cls,
        url: str,
        *,
        unit: int = DEFAULT_UNIT,
        baudrate: int = FACTORY_BAUDRATE,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        stall_s: float = DEFAULT_STALL_S,
    ) -> ModbusMeter:
        """Connect to the meter at ``url``.

        * ``tcp://HOST[:PORT]`` — Modbus TCP (port 502 by default), e.g. an RS-485 gateway
          or ``spasim serve --meter-tcp``;
        * ``rtu://PORT`` (``rtu:///dev/ttyUSB1``) or a bare device path or pyserial URL
          (``/dev/ttyUSB1``, a pty path, ``socket://host:port`` for RTU framing over a raw
          TCP serial server, ``rfc2217://…``) — Modbus RTU, ``baudrate`` 8N1 (an SDM120
          leaves the factory at 2400).

        Raises :class:`ValueError` for a malformed URL or unit id and
        :class:`InstrumentError` when the port cannot be opened or the host not reached.
        """
        if not 1 <= unit <= 247:
            raise ValueError(f"Modbus unit id must be 1..247, got {unit}")
        client: ModbusBaseSyncClient
        if url.startswith("tcp://"):
            parts = urlsplit(url)
            try:
                port = parts.port or MODBUS_TCP_PORT
            except ValueError as error:
                raise ValueError(f"bad meter URL {url!r}: {error}") from None
            if not parts.hostname or parts.path not in ("", "/"):
                raise ValueError(f"bad meter URL {url!r}: expected tcp://HOST:PORT")
            client = ModbusTcpClient(parts.hostname, port=port, timeout=timeout, retries=retries)
            where = f"{parts.hostname}:{port} (Modbus TCP)"
        else:
            port_name = url.removeprefix("rtu://")
            if not port_name:
                raise ValueError(f"bad meter URL {url!r}: no serial port")
            client = ModbusSerialClient(
                port_name,
                baudrate=baudrate,
                bytesize=BYTESIZE,
                parity=PARITY,
                stopbits=STOPBITS,
                timeout=timeout,
                retries=retries,
            )
            where = f"{port_name} (Modbus RTU {baudrate} 8N1)"
        if not client.connect():
            client.close()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
            raise InstrumentError(f"meter: cannot open {where}")
        return cls(client, name=url, unit=unit, stall_s=stall_s)

    def read(self) -> MeterReading:
        began = time.monotonic()
        reading = self._read()
        took = time.monotonic() - began
        if took > self.stall_s:
            # A reading this late describes a moment long gone for the unit's clock.
            raise MeterStalled(
                f"meter {self.name}: stalled ({took * 1000:.0f} ms for one reading, "
                f"limit {self.stall_s * 1000:.0f} ms)"
            )
        values = (reading.voltage_v, reading.current_a, reading.power_w)
        for label, value in zip(("voltage", "current", "power"), values, strict=True):
            if not math.isfinite(value):
                raise InstrumentError(f"meter {self.name}: {label} reads {value} (not a number)")
        return reading

    def _read(self) -> MeterReading:
        if not self._split_reads:
            address, count = READING_BLOCK
            try:
                return reading_from_block(self._read_registers(address, count), start=address)
            except _Refused as refusal:
                if refusal.code != ExcCodes.ILLEGAL_ADDRESS:
                    raise
                self._split_reads = True
        return MeterReading(
            voltage_v=self.read_value(InputRegister.VOLTAGE),
            current_a=self.read_value(InputRegister.CURRENT),
            power_w=self.read_value(InputRegister.ACTIVE_POWER),
        )

    def read_value(self, register: InputRegister) -> float:
        """One quantity of the map (e.g. frequency, import energy) in one request."""
        return decode_float32(self._read_registers(register, REGISTERS_PER_VALUE))

    def _read_registers(self, address: int, count: int) -> list[int]:
        if self._closed:
            raise InstrumentError(f"meter {self.name} is closed")
        try:
            response = self._client.read_input_registers(address, count=count, device_id=self.unit)
        except ConnectionException:
            raise InstrumentError(f"meter {self.name}: connection lost") from None
        except ModbusIOException:
            raise InstrumentError(f"meter {self.name}: no answer from unit {self.unit}") from None
        except (ModbusException, OSError) as error:
            raise InstrumentError(f"meter {self.name}: {error}") from None
        if response.isError():
            code = response.exception_code
            raise _Refused(
                f"meter {self.name}: unit {self.unit} refused registers "
                f"0x{address:04X}+{count} ({_exception_name(code)})",
                code,
            )
        registers = list(response.registers)
        if len(registers) != count:
            raise InstrumentError(
                f"meter {self.name}: asked for {count} registers, got {len(registers)}"
            )
        return registers

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()  # type: ignore[no-untyped-call]  # unannotated in pymodbus

    def __enter__(self) -> ModbusMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ModbusMeter {self.name} unit={self.unit}>"


class VirtualMeter:
    """A meter for in-process virtual runs: the true draw, spoiled as its spec allows.

    ``spec`` is a data sheet (:mod:`protocols.meter_model`): an ``sdm120`` reads 0 below its
    20 mA starting current and errs within class 1 (a calibration drawn once from ``seed``,
    as a real meter's is, plus fresh noise); ``worst-in-spec`` has every error at its bound;
    ``ideal`` is the truth. The same seed gives the same meter.
    """

    def __init__(
        self,
        reading: Callable[[], MeterReading],
        *,
        spec: MeterSpec = SDM120,
        seed: int = 0,
        name: str = "virtual",
    ) -> None:
        self._reading = reading
        self.spec = spec
        self._errors = MeterErrors(spec, seed)
        self.name = name
        self._closed = False

    def read(self) -> MeterReading:
        if self._closed:
            raise InstrumentError(f"meter {self.name} is closed")
        return self._errors.spoil(self._reading())

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        return f"<VirtualMeter {self.name} spec={self.spec.name}>"


class ClampReadByPerson:
    """A clamp meter on the supply's live wire, read off its display by the technician.

    Every reading is a number prompt (``clamp-a``, amps); watts are nominal volts × amps,
    which is all a clamp can say. Its data sheet (:data:`protocols.meter_model.CLAMP`) tells
    the plans what it can judge: the heater and the blower, nothing of 15 W or less.
    """

    def __init__(self, operator: PersonAsker, name: str = "clamp (read by the technician)"):
        self._operator = operator
        self.name = name

    def read(self) -> MeterReading:
        amps = self._operator.number("clamp-a", CLAMP_QUESTION, "A")
        if not math.isfinite(amps) or not 0.0 <= amps <= CLAMP_MAX_A:
            raise InstrumentError(f"clamp reading {amps} A is not 0..{CLAMP_MAX_A:g} A")
        return MeterReading(NOMINAL_VOLTAGE_V, amps, NOMINAL_VOLTAGE_V * amps)

    def close(self) -> None:
        return None


class UnreachableMeter:
    """A meter the bench could not open: every read is an instrument error.

    Opening the declared meter can fail before the run (nothing listening, no such port); the
    run still happens and is filed, each step that needs the meter errors with the reason,
    as with any other instrument error.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def read(self) -> MeterReading:
        raise InstrumentError(self.reason)

    def close(self) -> None:
        return None


def open_meter(
    url: str | None,
    *,
    unit: int = DEFAULT_UNIT,
    baudrate: int = FACTORY_BAUDRATE,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    stall_s: float = DEFAULT_STALL_S,
) -> Meter | None:
    """The meter at ``url`` (see :meth:`ModbusMeter.open`), or None when none is attached.

    None is a normal answer: a step that needs the meter then asks the operator instead.
    """
    if not url:
        return None
    return ModbusMeter.open(
        url, unit=unit, baudrate=baudrate, timeout=timeout, retries=retries, stall_s=stall_s
    )
