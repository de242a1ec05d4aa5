"""Register map of the common single-phase DIN-rail energy meters (Eastron SDM120 family).

SPEC §6 names the bench's optional mains meter by this map, because it is what the cheap
meters on a service bench speak (SDM120-Modbus, SDM120CT, SDM220/SDM230 and their many
rebadged clones share the layout): Modbus RTU, function 0x04 "read input registers", every
quantity an IEEE-754 float32 over two registers, high word first, each word big-endian.

Addresses (0-based, as sent on the wire; the maker's tables count from 30001) and serial
defaults are taken from Eastron's "SDM120 Modbus protocol" document (input-register table)
and the SDM120-Modbus user manual, as repeated by open-source readers of the meter (Tasmota's
``xnrg_08_sdm120``, ``nmakel/sdm_modbus``, the SolarNetwork SDM wiki):

====================  =======  =====  =========
quantity              address  30xxx  unit
====================  =======  =====  =========
voltage (L-N)         0x0000   30001  V
current               0x0006   30007  A
active power          0x000C   30013  W
frequency             0x0046   30071  Hz
import active energy  0x0048   30073  kWh
====================  =======  =====  =========

Factory serial settings: unit id 1, **2400 bit/s**, 8 data bits, no parity, 1 stop bit; the
meter can be set to 1200/2400/4800/9600 (9600 is the fastest). So the bench defaults to
2400 8N1 and takes the rate as a parameter — a meter somebody already re-configured to 9600
just needs ``baudrate=9600``. A pseudo-terminal ignores the rate altogether.

Eastron maps all its meters onto one address space: the registers a single-phase meter does
not have (0x0002–0x0005 are the SDM630's L2/L3 voltages) read as zero rather than as an
error, so voltage, current and power come back in one 14-register request
(:data:`READING_BLOCK`). One request may ask for at most 40 parameters (80 registers).

The float conversion is pymodbus' own (``convert_to_registers``/``convert_from_registers``),
so the bench, the virtual meter and any pymodbus client agree bit for bit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from pymodbus.client.mixin import ModbusClientMixin

# pymodbus logs request timeouts and refused connections at ERROR on its "pymodbus.logging"
# logger and installs no handler for it, so Python's last-resort handler would print them on
# stderr in the middle of a bench console. We report those conditions ourselves (as
# InstrumentError); a NullHandler keeps them out of the console without hiding them from an
# application that configures logging.
logging.getLogger("pymodbus").addHandler(logging.NullHandler())

DEFAULT_UNIT = 1
"""Modbus unit (slave) id of a meter fresh from the factory."""
FACTORY_BAUDRATE = 2400
"""Bit rate of a meter fresh from the factory (SDM120-Modbus manual)."""
BYTESIZE = 8
PARITY = "N"
STOPBITS = 1
FUNCTION_READ_INPUT_REGISTERS = 0x04
REGISTERS_PER_VALUE = 2
"""A float32 spans two 16-bit registers."""


class InputRegister(IntEnum):
    """Start address of each quantity we use (two registers each, float32, high word first)."""

    VOLTAGE = 0x0000
    CURRENT = 0x0006
    ACTIVE_POWER = 0x000C
    FREQUENCY = 0x0046
    IMPORT_ACTIVE_ENERGY = 0x0048


READING_BLOCK = (InputRegister.VOLTAGE.value, InputRegister.ACTIVE_POWER + REGISTERS_PER_VALUE)
"""``(address, count)`` of the one request that carries voltage, current and power."""

MAPPED_SPAN = InputRegister.IMPORT_ACTIVE_ENERGY + REGISTERS_PER_VALUE
"""Registers 0x0000 up to this (exclusive) are the part of the map the virtual meter serves."""


@dataclass(frozen=True)
class MeterReading:
    """What a mains meter in the unit's supply shows at one instant."""

    voltage_v: float
    current_a: float
    power_w: float


_FLOAT32 = ModbusClientMixin.DATATYPE.FLOAT32


def encode_float32(value: float) -> list[int]:
    """The two registers (high word first) that carry ``value`` as an IEEE-754 float32."""
    return ModbusClientMixin.convert_to_registers(float(value), _FLOAT32, word_order="big")


def decode_float32(registers: Sequence[int]) -> float:
    """The float32 carried by exactly two registers, high word first."""
    if len(registers) != REGISTERS_PER_VALUE:
        raise ValueError(f"a float32 needs {REGISTERS_PER_VALUE} registers, got {len(registers)}")
    value = ModbusClientMixin.convert_from_registers(list(registers), _FLOAT32, word_order="big")
    if not isinstance(value, float):  # pymodbus returns a list for more than one value
        raise TypeError(f"expected one float32, got {value!r}")
    return value


def value_at(registers: Sequence[int], register: InputRegister, *, start: int = 0) -> float:
    """The quantity at ``register`` inside a block of registers read from address ``start``."""
    offset = register - start
    if offset < 0 or offset + REGISTERS_PER_VALUE > len(registers):
        raise ValueError(
            f"register 0x{register:04X} is outside the block 0x{start:04X}+{len(registers)}"
        )
    return decode_float32(registers[offset : offset + REGISTERS_PER_VALUE])


def reading_from_block(registers: Sequence[int], *, start: int = 0) -> MeterReading:
    """Voltage, current and power out of a block that spans all three (see READING_BLOCK)."""
    return MeterReading(
        voltage_v=value_at(registers, InputRegister.VOLTAGE, start=start),
        current_a=value_at(registers, InputRegister.CURRENT, start=start),
        power_w=value_at(registers, InputRegister.ACTIVE_POWER, start=start),
    )


def encode_image(values: Mapping[InputRegister, float], span: int = MAPPED_SPAN) -> list[int]:
    """The registers 0x0000 … ``span``-1 of a meter showing ``values``; unset registers are 0.

    Zero is what an Eastron meter answers for registers its model does not have, and it is
    also the float32 encoding of 0.0.
    """
    image = [0] * span
    for register, value in values.items():
        if register + REGISTERS_PER_VALUE > span:
            raise ValueError(f"register 0x{register:04X} does not fit in a span of {span}")
        image[register : register + REGISTERS_PER_VALUE] = encode_float32(value)
    return image


def reading_values(reading: MeterReading) -> dict[InputRegister, float]:
    """A reading as register → value, ready for :func:`encode_image`."""
    return {
        InputRegister.VOLTAGE: reading.voltage_v,
        InputRegister.CURRENT: reading.current_a,
        InputRegister.ACTIVE_POWER: reading.power_w,
    }
