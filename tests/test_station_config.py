"""The station file: channels, instruments, and one-line refusals of every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.station.config import StationError, load_station


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench-2.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_channels_with_defaults_and_instruments(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
name = "bench-2"
[[channel]]
port = "socket://127.0.0.1:7000"
meter = "tcp://127.0.0.1:5020"
answers = "a.toml"
[[channel]]
name = "B"
port = "/dev/ttyUSB1"
meter_spec = "clamp"
multimeter = false
""",
    )
    station = load_station(path)
    assert station.name == "bench-2"
    first, second = station.channels
    assert (first.name, first.index, first.label) == ("1", 1, "channel 1")
    assert first.answers == tmp_path / "a.toml"
    assert first.instruments.meter is not None and first.instruments.meter.name == "sdm120"
    assert first.instruments.multimeter is not None
    assert second.instruments.meter is not None and second.instruments.meter.name == "clamp"
    assert second.instruments.multimeter is None
    assert station.channel("B") is second
    with pytest.raises(StationError, match="no channel 'C'"):
        station.channel("C")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[channel]]\nprot = 'x'\n", "unknown key 'prot' \\(did you mean 'port'\\?\\)"),
        ("name = 'x'\n", "no channels"),
        ("[[channel]]\nname = 'A'\n", "channel A: no port"),
        (
            "[[channel]]\nport = 'a'\n[[channel]]\nport = 'a'\n",
            "channels 1 and 2 have the same port 'a'",
        ),
        (
            "[[channel]]\nport = 'a'\nname='X'\n[[channel]]\nport = 'b'\nname='X'\n",
            "same name 'X'",
        ),
        ("[[channel]]\nport = 'a'\nmeter_spec = 'fluke'\n", "unknown meter_spec 'fluke'"),
        ("[[channel]]\nport = 'a'\nmeter_spec = 'sdm120'\n", "give meter = URL"),
        ("[[channel]]\nport = 'a'\nmeter = 'tcp://h:1'\nmeter_spec = 'clamp'\n", "drop meter"),
        ("[[channel]]\nport = 'a'\nspeed = 0\n", "speed must be"),
        ("[[channel]]\nport = 'a'\nmultimeter = 'yes'\n", "multimeter must be true or false"),
        (
            "[[channel]]\nport='a'\nmeter='m'\n[[channel]]\nport='b'\nmeter='m'\n",
            "share the meter 'm'",
        ),
        ("[[channel]\n", "not valid TOML"),
    ],
)
def test_mistakes_are_one_line_refusals(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(StationError, match=message) as caught:
        load_station(_write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_missing_file_is_a_station_error(tmp_path: Path) -> None:
    with pytest.raises(StationError, match="cannot read station file"):
        load_station(tmp_path / "nope.toml")
