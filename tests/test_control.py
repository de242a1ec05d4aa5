"""The control channel of ``spasim serve --control`` (issue 12, deliverable 7).

Judged from outside, as a bridge's CI or a rehearsing bench meets it: a served process, its
``control on`` line, one command line in and one JSON reply out, and what a person at the
box would see change. Expectations come from SPEC §2/§5 (the PRCD's TEST/RESET, the knob
sends the air to the bladder, the fault catalogue) and from the channel's documented
protocol (:mod:`protocols.control`), never from the server's code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from protocols.control import (
    MAX_LINE_BYTES,
    ControlClient,
    ControlError,
    ControlRefused,
    parse_address,
)
from spasim.cli import main as spasim_main
from spasim.pytest_plugin import ServedUnit
from tests.cli_runner import cli, one_line

SPEED = 20.0


def announced(served: ServedUnit, prefix: str) -> str:
    """The value of the ``<prefix> …`` line ``spasim serve`` prints after ``listening on``."""
    assert served.process.stdout is not None
    while True:
        line = served.process.stdout.readline().decode("utf-8")
        assert line, f"no {prefix!r} line"
        if line.startswith(prefix):
            return line.removeprefix(prefix).strip()


def with_control(launch: Callable[..., ServedUnit], *arguments: str) -> tuple[ServedUnit, str]:
    served = launch(
        "--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0", *arguments,
        transport="tcp", speed=SPEED,
    )  # fmt: skip
    return served, announced(served, "control on ")


def unchanged(status: dict[str, object]) -> dict[str, object]:
    """A status without its clock (time runs on while nothing else changes)."""
    return {key: value for key, value in status.items() if key not in ("time", "water_c")}


def test_the_channel_is_announced_on_loopback(launch: Callable[..., ServedUnit]) -> None:
    served, address = with_control(launch)
    host, port = parse_address(address)
    assert host == "127.0.0.1" and port > 0
    assert served.address != address  # its own port, not the unit's


def test_a_person_s_actions_change_what_a_person_sees(launch: Callable[..., ServedUnit]) -> None:
    """SPEC §2: TEST trips the PRCD (its light goes out), RESET restores it; the knob at
    inflate sends the air to the bladder; lid, ambient and water are world changes."""
    _, address = with_control(launch, "--profile", "premium-4")
    with ControlClient(address) as client:
        seen = client.look()
        assert seen["prcd_light"] is True and seen["knob"] == "off" and seen["lid"] == "on"
        assert seen["filter"] is False and seen["bubbles"] is False
        assert client.request("prcd test")["look"]["prcd_light"] is False
        assert client.request("status")["running"] is False
        assert client.request("prcd reset")["look"]["prcd_light"] is True
        assert client.request("knob inflate")["look"]["knob"] == "inflate"
        assert client.request("lid off")["look"]["lid"] == "off"
        client.request("water 30")
        client.request("ambient 5")
        status = client.request("status")
        assert status["water_c"] == pytest.approx(30.0, abs=0.2)
        assert status["ambient_c"] == 5.0
        assert client.request("probe transformer-secondary")["volts"] > 10.0  # SPEC: ~12 V AC
        plate = client.request("plate")
        assert plate["profile"] == "premium-4"
        assert plate["fitted"] == {"ozone": True, "uvc": True, "jet": False}
        assert client.request("mains off")["look"]["prcd_light"] is False
        assert client.request("probe transformer-secondary")["volts"] == 0.0


@pytest.mark.parametrize(
    "fault",
    ["flow-switch-stuck-open", "prcd-faulty:stuck-open", "heater-open", "link-noisy"],
)
def test_faults_are_injected_and_cleared_at_run_time(
    launch: Callable[..., ServedUnit], fault: str
) -> None:
    _, address = with_control(launch)
    with ControlClient(address) as client:
        client.request(f"inject {fault}")
        assert client.request("faults")["faults"] == [fault]
        client.request(f"clear {fault}")
        assert client.request("faults")["faults"] == []


BAD_COMMANDS = [
    ("", "empty command"),
    ("dance", "unknown command 'dance'"),
    ("knob sideways", "knob position must be 'off' or 'inflate'"),
    ("knob", "usage: knob off|inflate"),
    ("prcd test now", "usage: prcd test|reset"),
    ("prcd press", "prcd takes test or reset"),
    ("lid maybe", "lid takes on or off"),
    ("water 150", "water must be 0–99 °C"),
    ("ambient nan", "ambient must be"),
    ("ambient warm", "takes a temperature"),
    ("inject nope", "unknown fault 'nope'"),
    ("inject panel-dead", "applies to a remote"),
    ("inject heater-open:sideways", "has no modes"),
    ("probe neutral", "unknown test point"),
    ("key bubbles", "unknown command 'key'"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_COMMANDS)
def test_a_bad_command_gets_one_error_line_and_changes_nothing(
    launch: Callable[..., ServedUnit], line: str, reason: str
) -> None:
    _, address = with_control(launch)
    with ControlClient(address) as client:
        before = unchanged(client.request("status"))
        with pytest.raises(ControlRefused, match=reason.replace("(", r"\(")):
            client.request(line)
        assert unchanged(client.request("status")) == before


def test_the_wire_is_one_json_line_per_command_line(launch: Callable[..., ServedUnit]) -> None:
    """Raw socket: several commands in one write, a line longer than the limit (one error,
    the whole line dropped, the next command served), bytes that are not UTF-8."""
    import socket

    _, address = with_control(launch)
    host, port = parse_address(address)
    with socket.create_connection((host, port), timeout=10) as sock:
        stream = sock.makefile("rwb")
        stream.write(b"look\nfaults\r\n")
        stream.write(b"x" * (MAX_LINE_BYTES * 3) + b"\n")
        stream.write(b"\xff\xfe\n")
        stream.write(b"faults\n")
        stream.flush()
        replies = [json.loads(stream.readline()) for _ in range(5)]
    assert replies[0]["ok"] and "look" in replies[0]
    assert replies[1] == {"ok": True, "faults": []}
    assert replies[2] == {"ok": False, "error": "line too long"}
    assert replies[3] == {"ok": False, "error": "not UTF-8"}
    assert replies[4] == {"ok": True, "faults": []}


def test_two_clients_at_once(launch: Callable[..., ServedUnit]) -> None:
    _, address = with_control(launch)
    with ControlClient(address) as first, ControlClient(address) as second:
        first.request("inject heater-open")
        assert second.request("faults")["faults"] == ["heater-open"]
        first.close()
        assert second.request("clear heater-open")["ok"]


def test_the_panel_s_keys_and_display(launch: Callable[..., ServedUnit]) -> None:
    """``--role remote``: a person presses the panel's keys and reads its display."""
    _, address = with_control(launch, "--role", "remote")
    with ControlClient(address) as client:
        panel = client.request("panel")["panel"]
        assert panel["bubbles"] == 0
        assert client.request("key bubbles")["look"]["panel"]["bubbles"] == 1
        assert client.request("key filter")["look"]["panel"]["filter"] is True
        with pytest.raises(ControlRefused, match="unknown key"):
            client.request("key jump")
        with pytest.raises(ControlRefused, match="unknown command 'prcd'"):
            client.request("prcd test")
        client.request("inject panel-dead")
        assert client.request("panel")["panel"] is None  # a dead panel shows nothing
        client.request("clear panel-dead")
        assert client.request("panel")["panel"] is not None


def test_the_jets_key_on_a_panel_with_jets(launch: Callable[..., ServedUnit]) -> None:
    """Issue 12: the Elite's panel has a jets key (0D 0/1 switches the jet pump); a panel
    without jets refuses the key by saying so, and changes nothing."""
    _, address = with_control(launch, "--role", "remote", "--profile", "elite-6")
    with ControlClient(address) as client:
        assert client.request("panel")["panel"]["jets"] is False
        assert client.request("key jets")["look"]["panel"]["jets"] is True
        assert client.request("key jets")["look"]["panel"]["jets"] is False
    _, address = with_control(launch, "--role", "remote", "--profile", "premium-4")
    with ControlClient(address) as client:
        with pytest.raises(ControlRefused, match="no jets"):
            client.request("key jets")
        assert client.request("panel")["panel"]["jets"] is False
        with pytest.raises(ControlRefused, match="jets"):  # the keys it names include it
            client.request("key jump")


def _serve_usage(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spasim", "serve", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        (["--control", "0.0.0.0:0"], "not a loopback address"),
        (["--control", "192.0.2.1:0"], "not a loopback address"),
        (["--control-any-host"], "--control-any-host needs --control"),
        (["--control", "nowhere:1"], "host must be an IP address"),
    ],
)
def test_serve_refuses_a_control_channel_beyond_loopback(arguments: list[str], needle: str) -> None:
    done = _serve_usage("--tcp", "127.0.0.1:0", *arguments)
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and needle in done.stderr, done.stderr


def test_spasim_control_command(
    launch: Callable[..., ServedUnit], capsys: pytest.CaptureFixture[str]
) -> None:
    _, address = with_control(launch)
    code, out, _ = cli(spasim_main, capsys, "control", address, "inject", "heater-open")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = cli(spasim_main, capsys, "control", f"control://{address}", "faults")
    assert (code, json.loads(out)["faults"]) == (0, ["heater-open"])
    one_line(cli(spasim_main, capsys, "control", address, "knob", "up"), 1, "refused", "knob")


def test_spasim_control_without_a_channel(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    one_line(cli(spasim_main, capsys, "control", f"127.0.0.1:{port}", "look"), 3, "error")
    one_line(cli(spasim_main, capsys, "control", "nowhere", "look"), 3, "HOST:PORT")


def test_client_refuses_two_lines_in_one_request(launch: Callable[..., ServedUnit]) -> None:
    _, address = with_control(launch)
    with ControlClient(address) as client, pytest.raises(ControlError, match="one command"):
        client.request("look\nprcd test")
