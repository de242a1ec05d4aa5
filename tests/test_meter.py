"""The meter: SDM120 register encoding, the virtual SDM120 server, the bench's meter clients.

Network tests bind 127.0.0.1 only and run the client with short timeouts and no retries,
so a test that waits for "no answer" waits a fraction of a second.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from bench.testing.instruments.meter import (
    InstrumentError,
    Meter,
    ModbusMeter,
    VirtualMeter,
    open_meter,
)
from protocols.links import PtyPair
from protocols.sdm120 import (
    MAPPED_SPAN,
    READING_BLOCK,
    InputRegister,
    MeterReading,
    decode_float32,
    encode_float32,
    encode_image,
    reading_from_block,
    reading_values,
)
from spasim.meter_server import MeterServer

FAST_TIMEOUT = 0.3


def fast(url: str, *, unit: int = 1, baudrate: int = 2400) -> ModbusMeter:
    """A client for tests that expect silence: a silent meter costs 0.3 s, not 2 s."""
    return ModbusMeter.open(url, unit=unit, baudrate=baudrate, timeout=FAST_TIMEOUT, retries=0)


def patient(url: str, *, unit: int = 1, baudrate: int = 2400) -> ModbusMeter:
    """A client for tests that expect answers: a busy machine must not turn into a failure."""
    return ModbusMeter.open(url, unit=unit, baudrate=baudrate, timeout=5.0, retries=1)


def f32(value: float) -> float:
    """``value`` as it comes back through an IEEE-754 float32 register pair."""
    result: float = struct.unpack(">f", struct.pack(">f", value))[0]
    return result


class Supply:
    """A mutable 'truth' the server reads at request time, standing in for a virtual box."""

    def __init__(self, reading: MeterReading) -> None:
        self.reading = reading
        self.calls = 0

    def __call__(self) -> MeterReading:
        self.calls += 1
        return self.reading


# --- register map --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "registers"),
    [
        (230.0, [0x4366, 0x0000]),
        (50.0, [0x4248, 0x0000]),
        (1.0, [0x3F80, 0x0000]),
        (-2.5, [0xC020, 0x0000]),
        (0.0, [0x0000, 0x0000]),
        (2000.5, [0x44FA, 0x1000]),
    ],
)
def test_float32_big_endian_known_values(value: float, registers: list[int]) -> None:
    assert encode_float32(value) == registers
    assert decode_float32(registers) == value


@given(st.floats(width=32, allow_nan=False))
def test_float32_round_trip_is_exact_for_float32_values(value: float) -> None:
    assert decode_float32(encode_float32(value)) == value


def test_decode_float32_needs_exactly_two_registers() -> None:
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode_float32([0x4366])
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode_float32([0x4366, 0, 0])


def test_image_puts_each_quantity_at_its_sdm120_address_and_zeroes_the_gaps() -> None:
    values = reading_values(MeterReading(230.0, 8.75, 2012.5))
    values[InputRegister.FREQUENCY] = 50.0
    values[InputRegister.IMPORT_ACTIVE_ENERGY] = 12.5
    image = encode_image(values)
    assert len(image) == MAPPED_SPAN == 0x4A
    assert image[0x00:0x02] == [0x4366, 0x0000]
    assert image[0x06:0x08] == encode_float32(8.75)
    assert image[0x0C:0x0E] == encode_float32(2012.5)
    assert image[0x46:0x48] == [0x4248, 0x0000]
    assert image[0x48:0x4A] == encode_float32(12.5)
    mapped = {a + i for a in (0x00, 0x06, 0x0C, 0x46, 0x48) for i in (0, 1)}
    assert all(image[a] == 0 for a in range(MAPPED_SPAN) if a not in mapped)
    address, count = READING_BLOCK
    assert (address, count) == (0x0000, 14)
    assert reading_from_block(image[address : address + count]) == MeterReading(230.0, 8.75, 2012.5)


def test_reading_from_block_rejects_a_block_that_misses_a_quantity() -> None:
    with pytest.raises(ValueError, match="0x000C is outside"):
        reading_from_block([0] * 12)


# --- the virtual meter ------------------------------------------------------------------

truths = st.builds(
    MeterReading,
    voltage_v=st.floats(0.0, 300.0),
    current_a=st.floats(0.0, 20.0),
    power_w=st.floats(0.0, 4000.0),
)


def _relative_errors(measured: MeterReading, true: MeterReading) -> list[float]:
    return [
        abs(m - t) / abs(t) if t else abs(m)
        for m, t in (
            (measured.voltage_v, true.voltage_v),
            (measured.current_a, true.current_a),
            (measured.power_w, true.power_w),
        )
    ]


def test_virtual_meter_refuses_reads_once_closed() -> None:
    meter = VirtualMeter(lambda: MeterReading(230.0, 0.0, 0.0))
    meter.close()
    with pytest.raises(InstrumentError, match="closed"):
        meter.read()


# --- the served meter over Modbus TCP --------------------------------------------------


@pytest.fixture
def supply() -> Supply:
    return Supply(MeterReading(231.4, 8.66, 2003.7))


@pytest.fixture
def tcp_server(supply: Supply) -> Iterator[MeterServer]:
    with MeterServer(supply, tcp=("127.0.0.1", 0)) as server:
        yield server


def test_tcp_server_reports_the_real_port(tcp_server: MeterServer) -> None:
    assert tcp_server.address is not None
    host, port = tcp_server.address.split(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert tcp_server.url == f"tcp://{tcp_server.address}"


def test_modbus_meter_over_tcp_round_trips_and_sees_changes(
    tcp_server: MeterServer, supply: Supply
) -> None:
    with patient(tcp_server.url) as meter:
        assert meter.read() == MeterReading(f32(231.4), f32(8.66), f32(2003.7))
        supply.reading = MeterReading(229.0, 0.01, 2.0)
        assert meter.read() == MeterReading(229.0, f32(0.01), 2.0)
        assert meter.read_value(InputRegister.FREQUENCY) == 50.0
    assert tcp_server.requests == 3
    assert supply.calls == 3, "the reading is taken at request time, once per request"


def test_one_request_carries_voltage_current_and_power(tcp_server: MeterServer) -> None:
    with patient(tcp_server.url) as meter:
        for expected in range(1, 4):
            meter.read()
            assert tcp_server.requests == expected


def test_import_energy_from_a_callable_or_integrated_over_wall_time(supply: Supply) -> None:
    with (
        MeterServer(supply, import_kwh=lambda: 12.5, frequency_hz=60.0) as given_energy,
        patient(given_energy.url) as meter,
    ):
        assert meter.read_value(InputRegister.IMPORT_ACTIVE_ENERGY) == 12.5
        assert meter.read_value(InputRegister.FREQUENCY) == 60.0

    supply.reading = MeterReading(230.0, 15.65, 3600.0)
    with MeterServer(supply) as counting, patient(counting.url) as meter:
        start = time.monotonic()
        first = meter.read_value(InputRegister.IMPORT_ACTIVE_ENERGY)
        time.sleep(0.2)
        second = meter.read_value(InputRegister.IMPORT_ACTIVE_ENERGY)
        elapsed = time.monotonic() - start
    assert first == 0.0, "nothing counted before the first request"
    # The server's two requests lie at least the sleep and at most the whole span apart.
    assert 3600.0 * 0.2 / 3.6e6 * 0.999 <= second <= 3600.0 * elapsed / 3.6e6 * 1.001


def test_wrong_unit_id_gets_no_answer_and_a_quick_instrument_error(
    tcp_server: MeterServer,
) -> None:
    with fast(tcp_server.url, unit=2) as meter:
        start = time.monotonic()
        with pytest.raises(InstrumentError, match="no answer from unit 2"):
            meter.read()
        assert time.monotonic() - start < 2.0
    assert tcp_server.requests == 0, "a meter with another address stays silent"


def test_nobody_serving_the_port_is_an_instrument_error_at_open() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(InstrumentError, match=f"cannot open 127.0.0.1:{port}"):
        fast(f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - start < 2.0


def test_server_going_away_is_an_instrument_error(supply: Supply) -> None:
    server = MeterServer(supply)
    server.start()
    meter = fast(server.url)
    try:
        meter.read()
        server.stop()
        start = time.monotonic()
        with pytest.raises(InstrumentError, match=r"meter tcp://127\.0\.0\.1:\d+: "):
            meter.read()
        assert time.monotonic() - start < 2.0
    finally:
        meter.close()
        server.stop()
    with pytest.raises(InstrumentError, match="closed"):
        meter.read()


def test_a_failing_unit_behind_the_meter_is_reported_not_hung(supply: Supply) -> None:
    def broken() -> MeterReading:
        raise RuntimeError("simulator gone")

    refusal = r"refused registers 0x0000\+14 \(device failure\)"
    with MeterServer(broken) as server, patient(server.url) as meter:
        with pytest.raises(InstrumentError, match=refusal):
            meter.read()
        assert server.requests == 0


def test_server_answers_only_input_register_reads(tcp_server: MeterServer) -> None:
    """A bench that asks with the wrong function code learns so at once."""
    host, port = tcp_server.url.removeprefix("tcp://").split(":")
    client = ModbusTcpClient(host, port=int(port), timeout=0.3, retries=0)
    try:
        assert client.connect()
        holding = client.read_holding_registers(0, count=2, device_id=1)
        assert holding.isError() and holding.exception_code == 0x01  # illegal function
        write = client.write_register(0, 1, device_id=1)
        assert write.isError()
        beyond = client.read_input_registers(MAPPED_SPAN, count=2, device_id=1)
        assert beyond.isError() and beyond.exception_code == 0x02  # illegal address
    finally:
        client.close()


def test_meter_server_lifecycle_and_arguments(supply: Supply) -> None:
    with pytest.raises(ValueError, match="not both"):
        MeterServer(supply, tcp=("127.0.0.1", 0), pty=True)
    with pytest.raises(ValueError, match=r"1\.\.247"):
        MeterServer(supply, unit=0)
    server = MeterServer(supply)
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018 - the property is what raises
    server.start()
    with pytest.raises(RuntimeError, match="already running"):
        server.start()
    start = time.monotonic()
    server.stop()
    server.stop()
    assert time.monotonic() - start < 1.0
    assert server.address is None


def test_port_in_use_fails_start_with_a_reason(supply: Supply) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve the meter on 127.0.0.1:{port}"):
            MeterServer(supply, tcp=("127.0.0.1", port)).start()


# --- the served meter over Modbus RTU on a pty ----------------------------------------


@pytest.fixture
def pty_server(supply: Supply) -> Iterator[MeterServer]:
    with MeterServer(supply, pty=True) as server:
        yield server


def test_modbus_meter_over_rtu_on_a_pty(pty_server: MeterServer, supply: Supply) -> None:
    assert pty_server.address is not None and pty_server.address.startswith("/dev/")
    assert pty_server.url == pty_server.address
    with patient(pty_server.url) as meter:
        assert meter.read() == MeterReading(f32(231.4), f32(8.66), f32(2003.7))
        supply.reading = MeterReading(0.0, 0.0, 0.0)
        assert meter.read() == MeterReading(0.0, 0.0, 0.0)
    # A second client opens the same path later, as a re-run of the bench does.
    with patient(f"rtu://{pty_server.url}", baudrate=9600) as meter:
        assert meter.read_value(InputRegister.FREQUENCY) == 50.0


def test_rtu_wrong_unit_id_times_out_quickly(pty_server: MeterServer) -> None:
    with fast(pty_server.url, unit=5) as meter:
        start = time.monotonic()
        with pytest.raises(InstrumentError, match="no answer from unit 5"):
            meter.read()
        assert time.monotonic() - start < 2.0
        assert pty_server.requests == 0


def test_silent_serial_line_and_missing_port() -> None:
    with PtyPair() as silent:
        with fast(silent.path) as meter:
            start = time.monotonic()
            with pytest.raises(InstrumentError, match="no answer from unit 1"):
                meter.read()
            assert time.monotonic() - start < 2.0
        assert silent.link.read(0.5), "the request did go out on the line"
    with pytest.raises(InstrumentError, match="cannot open /dev/does-not-exist"):
        fast("/dev/does-not-exist")


# --- a meter that refuses to read across the gaps --------------------------------------


class GaplessServer:
    """A plain pymodbus server holding only V, A and W: reading the gaps is refused.

    Stands for meters that do not answer unmapped registers, to show the bench still gets
    its reading (one request per quantity).
    """

    def __init__(self) -> None:
        self.requests: list[tuple[int, int]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.requests.append((pdu.address, pdu.count))
        return pdu

    async def _start(self) -> int:
        device = SimDevice(
            id=1,
            simdata=[
                SimData(0x00, values=230.0, datatype=DataType.FLOAT32),
                SimData(0x06, values=1.5, datatype=DataType.FLOAT32),
                SimData(0x0C, values=345.0, datatype=DataType.FLOAT32),
            ],
        )
        self._server = ModbusTcpServer(device, address=("127.0.0.1", 0), trace_pdu=self._trace)
        await self._server.serve_forever(background=True)
        port: int = self._server.transport.sockets[0].getsockname()[1]
        return port

    def __enter__(self) -> str:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return f"tcp://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def test_meter_that_refuses_gaps_is_read_one_quantity_at_a_time() -> None:
    gapless = GaplessServer()
    with gapless as url, fast(url) as meter:
        assert meter.read() == MeterReading(230.0, 1.5, 345.0)
        assert gapless.requests == [(0x00, 14), (0x00, 2), (0x06, 2), (0x0C, 2)]
        gapless.requests.clear()
        assert meter.read() == MeterReading(230.0, 1.5, 345.0)
        assert gapless.requests == [(0x00, 2), (0x06, 2), (0x0C, 2)], "remembers"


# --- the factory ------------------------------------------------------------------------


def test_open_meter_none_means_no_meter_attached(tcp_server: MeterServer) -> None:
    assert open_meter(None) is None
    assert open_meter("") is None
    meter: Meter | None = open_meter(tcp_server.url, timeout=0.3, retries=0)
    assert isinstance(meter, ModbusMeter)
    try:
        assert meter.name == tcp_server.url
        assert meter.read().voltage_v == f32(231.4)
    finally:
        meter.close()


@pytest.mark.parametrize(
    ("url", "unit", "reason"),
    [
        ("tcp://", 1, "expected tcp://HOST:PORT"),
        ("tcp://127.0.0.1:http", 1, "bad meter URL"),
        ("tcp://127.0.0.1:502/x", 1, "expected tcp://HOST:PORT"),
        ("rtu://", 1, "no serial port"),
        ("/dev/ttyUSB1", 0, r"1\.\.247"),
        ("/dev/ttyUSB1", 248, r"1\.\.247"),
    ],
)
def test_malformed_meter_urls_are_value_errors(url: str, unit: int, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        fast(url, unit=unit)
