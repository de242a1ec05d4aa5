"""A station file: the channels of one bench PC, each a unit's link and its instruments.

A service bench PC has several USB adapters and meters and tests several returned boxes at
once. The station file (TOML) says, once, what is wired to what, so a technician types
``spabench station run bench-2.toml --plan full`` rather than four ``spabench run`` lines::

    name = "bench-2"                     # optional: how the station is called on screen

    [[channel]]
    name = "A"                           # optional, unique; default "1", "2", ... in file order
    port = "/dev/ttyUSB0"                # serial port or pyserial URL (socket://, rfc2217://)
    meter = "rtu:///dev/ttyUSB4?unit=1"  # optional Modbus meter in this unit's supply
    meter_spec = "sdm120"                # data sheet of that meter (clamp: read by a person)
    multimeter = true                    # the technician at this channel has a multimeter
    profile = "premium-4"                # optional: the model wired here, when known
    unit = "MS-2024-0001"                # optional: the serial of the unit on this channel
    answers = "answers-a.toml"           # optional: answers to this channel's prompts
    operator = "Sam"                     # optional: who tests here (default: --operator); or
                                         # control://HOST:PORT, a served box's control channel
                                         # doing every prompt (a rehearsal: spasim serve)
    speed = 1                            # optional: a simulated unit served faster (spasim)
    simulated = false                    # the unit on this channel is a simulation

Relative paths (``answers``) are relative to the station file. Every mistake is refused
before anything runs, in one line naming the channel and the key (unknown keys with close
matches), so a typo never starts half a station.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.testing.instruments.specs import Instruments, declared_instruments
from protocols.control import CONTROL_SCHEME, parse_address
from protocols.files import load_toml
from protocols.meter_model import METER_SPECS, SDM120
from protocols.mspa.models import available_models, load_model

STATION_KEYS = frozenset({"name", "channel"})
CHANNEL_KEYS = frozenset(
    {
        "name",
        "port",
        "meter",
        "meter_spec",
        "multimeter",
        "profile",
        "unit",
        "answers",
        "operator",
        "speed",
        "simulated",
    }
)
MAX_CHANNELS = 64
"""More channels than any bench PC has USB ports: a generated file gone wrong."""


class StationError(ValueError):
    """The station file cannot be used; the message is one line naming where."""


@dataclass(frozen=True)
class Channel:
    """One unit's place on the station: its link, its meter and what the technician has."""

    name: str
    port: str
    meter: str | None = None
    meter_spec: str | None = None
    """Data sheet of the meter (None: the default, SDM120, when there is a meter)."""
    multimeter: bool = True
    profile: str | None = None
    unit: str | None = None
    answers: Path | None = None
    operator: str | None = None
    """Who answers this channel's prompts: a person's name, or ``control://HOST:PORT`` (a
    rehearsal operator at a served box); None: the station's operator."""
    speed: float = 1.0
    simulated: bool = False
    index: int = 0
    """1-based position in the file (for messages and the live table)."""

    @property
    def has_meter(self) -> bool:
        """A meter is declared: one on a wire, or a clamp meter a person reads."""
        return self.meter is not None or self.meter_spec == "clamp"

    @property
    def instruments(self) -> Instruments:
        """The instruments this channel declares (the diagnosis work's specs)."""
        spec = (self.meter_spec or SDM120.name) if self.has_meter else None
        return declared_instruments(meter=spec, multimeter=self.multimeter)

    @property
    def control(self) -> str | None:
        """``HOST:PORT`` of the served box whose control channel does this channel's
        prompts (None: a person does them), written one way so the same box is recognised
        however the file spells it."""
        if self.operator is None or not self.operator.startswith(CONTROL_SCHEME):
            return None
        host, port = parse_address(self.operator)
        return f"{host.lower()}:{port}"

    @property
    def label(self) -> str:
        """``channel A`` — how prompts and messages name it."""
        return f"channel {self.name}"


@dataclass(frozen=True)
class Station:
    name: str
    path: Path
    channels: tuple[Channel, ...] = field(default_factory=tuple)

    def channel(self, name: str) -> Channel:
        """The channel called ``name`` (StationError naming the known ones otherwise)."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        known = ", ".join(c.name for c in self.channels)
        raise StationError(f"station {self.name}: no channel {name!r} (channels: {known})")


def _unknown(keys: set[str], allowed: frozenset[str], where: str) -> None:
    for key in sorted(keys - allowed):
        close = difflib.get_close_matches(key, sorted(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise StationError(f"{where}: unknown key {key!r}{hint}")


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StationError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _profile(raw: dict[str, Any], where: str) -> str | None:
    """The model wired here, checked as the run will load it (a packaged model's name, or a
    model file's path), so a typo is refused before any channel starts, not at run time."""
    if "profile" not in raw:
        return None
    profile = _text(raw["profile"], where, "profile")
    known = available_models()
    if not profile.endswith(".toml") and profile not in known:
        close = difflib.get_close_matches(profile, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise StationError(
            f"{where}: unknown profile {profile!r}{hint}; known: {', '.join(known)} "
            "(or a model file's .toml path)"
        )
    try:
        load_model(profile)
    except ValueError as error:
        raise StationError(f"{where}: {error}") from None
    return profile


def _operator(raw: dict[str, Any], where: str) -> str | None:
    """A person's name, or a served box's control channel — whose address is checked now,
    so a typo is refused before any channel starts."""
    if "operator" not in raw:
        return None
    operator = _text(raw["operator"], where, "operator")
    if operator.startswith(CONTROL_SCHEME):
        try:
            parse_address(operator)
        except ValueError as error:
            raise StationError(f"{where}: operator {operator}: {error}") from None
    return operator


def _channel(raw: Any, index: int, base: Path, where_file: str) -> Channel:
    where = f"{where_file}: channel {index}"
    if not isinstance(raw, dict):
        raise StationError(f"{where}: a channel is a table ([[channel]])")
    _unknown(set(raw), CHANNEL_KEYS, where)
    name = _text(raw["name"], where, "name") if "name" in raw else str(index)
    where = f"{where_file}: channel {name}"
    if "port" not in raw:
        raise StationError(f"{where}: no port (the unit's serial port or URL)")
    port = _text(raw["port"], where, "port")
    meter = _text(raw["meter"], where, "meter") if "meter" in raw else None
    meter_spec = _text(raw["meter_spec"], where, "meter_spec") if "meter_spec" in raw else None
    if meter_spec is not None and meter_spec not in METER_SPECS:
        raise StationError(
            f"{where}: unknown meter_spec {meter_spec!r} (known: {', '.join(sorted(METER_SPECS))})"
        )
    if meter_spec == "clamp" and meter is not None:
        raise StationError(f"{where}: a clamp meter is read by the technician: drop meter")
    if meter_spec is not None and meter_spec != "clamp" and meter is None:
        raise StationError(f"{where}: meter_spec describes a meter: give meter = URL")
    flags: dict[str, bool] = {}
    for key, default in (("multimeter", True), ("simulated", False)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise StationError(f"{where}: {key} must be true or false")
        flags[key] = value
    speed = raw.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.01 <= speed <= 1000:
        raise StationError(f"{where}: speed must be a number from 0.01 to 1000")
    answers = None
    if "answers" in raw:
        answers = Path(_text(raw["answers"], where, "answers"))
        if not answers.is_absolute():
            answers = base / answers
    operator = _operator(raw, where)
    if operator is not None and operator.startswith(CONTROL_SCHEME) and answers is not None:
        raise StationError(
            f"{where}: answers and operator {CONTROL_SCHEME} both answer the prompts"
        )
    return Channel(
        name=name,
        port=port,
        meter=meter,
        meter_spec=meter_spec,
        multimeter=flags["multimeter"],
        profile=_profile(raw, where),
        unit=_text(raw["unit"], where, "unit") if "unit" in raw else None,
        answers=answers,
        operator=operator,
        speed=float(speed),
        simulated=flags["simulated"],
        index=index,
    )


def parse_station(data: dict[str, Any], path: Path) -> Station:
    """A station from parsed TOML (``path`` names it in messages and anchors relative paths)."""
    where = f"station {os.fspath(path)}"
    _unknown(set(data), STATION_KEYS, where)
    name = _text(data["name"], where, "name") if "name" in data else path.stem
    raw_channels = data.get("channel")
    if not isinstance(raw_channels, list) or not raw_channels:
        raise StationError(f"{where}: no channels (add [[channel]] tables with a port each)")
    if len(raw_channels) > MAX_CHANNELS:
        raise StationError(f"{where}: {len(raw_channels)} channels, at most {MAX_CHANNELS}")
    base = path.parent
    channels = tuple(
        _channel(raw, index, base, where) for index, raw in enumerate(raw_channels, start=1)
    )
    seen: dict[str, str] = {}
    for channel in channels:
        for kind, value in (("name", channel.name), ("port", channel.port)):
            key = f"{kind}:{value}"
            if key in seen:
                raise StationError(
                    f"{where}: channels {seen[key]} and {channel.name} have the same {kind} "
                    f"{value!r}"
                )
            seen[key] = channel.name
        if channel.meter is not None:
            key = f"meter:{channel.meter}"
            if key in seen:
                raise StationError(
                    f"{where}: channels {seen[key]} and {channel.name} share the meter "
                    f"{channel.meter!r} (one meter measures one unit's supply)"
                )
            seen[key] = channel.name
        control = channel.control
        if control is not None:
            key = f"control:{control}"
            if key in seen:
                raise StationError(
                    f"{where}: channels {seen[key]} and {channel.name} share the control "
                    f"channel {control} (its prompts are done on one served unit: the other "
                    "channel's buttons would be pressed on the wrong box)"
                )
            seen[key] = channel.name
    return Station(name=name, path=path, channels=channels)


def load_station(path: str | os.PathLike[str]) -> Station:
    """Read and check a station file; :class:`StationError` (one line) when it is unusable."""
    try:
        data = load_toml(path, "station file")
    except ValueError as error:
        raise StationError(str(error)) from None
    return parse_station(data, Path(path))
