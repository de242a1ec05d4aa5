"""Numbers and addresses from the command line: a documented range, else one line and exit 2.

Each case runs ``spasim`` in a subprocess with a wall-time bound, so a value that slips
through (the server prints ``listening on`` and serves, or spins) fails the test instead of
hanging it. Nothing is bound to any address but loopback: the wildcard spellings are
refused before any socket exists, and a bind to anything else is itself a failure.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys

import pytest

from protocols.cli_support import host_port
from spasim.cli import main

WAIT = 20.0


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``spasim <arguments>`` with a bound; a process still running then is a failure."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "spasim", *arguments],
            capture_output=True,
            text=True,
            timeout=WAIT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as stuck:
        out = stuck.stdout.decode() if isinstance(stuck.stdout, bytes) else stuck.stdout
        pytest.fail(f"spasim {' '.join(arguments)} still running after {WAIT:g} s: {out!r}")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--speed", "1e6"], "--speed"),
        (["--speed", "1e-300"], "--speed"),
        (["--speed", "nan"], "--speed"),
        (["--speed", "inf"], "--speed"),
        (["--water", "nan"], "--water"),
        (["--water", "1e308"], "--water"),
        (["--water", "-5"], "--water"),
        (["--ambient", "1e308"], "--ambient"),
        (["--ambient", "-inf"], "--ambient"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**70)], "--seed"),
        (["--tank-litres", "1e308"], "--tank-litres"),
        (["--tank-litres", "1e-9"], "--tank-litres"),
    ],
)
def test_serve_refuses_numbers_out_of_range(arguments: list[str], message: str) -> None:
    done = run("serve", "--tcp", "127.0.0.1:0", *arguments)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "", "nothing served: not even a listening line"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**70)], "--seed"),
        (["--ambient", "nan"], "ambient"),
        (["--water", "1e308"], "water"),
        (["--hours", "1e308"], "hours"),
        (["--sample", "1e-300"], "sample"),
    ],
)
def test_simulate_refuses_numbers_out_of_range(arguments: list[str], message: str) -> None:
    done = run("simulate", "--hours", "0.1", *arguments)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any bind to a non-loopback address fail instead of exposing the machine."""
    real_bind = socket.socket.bind

    def bind(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1"):
            raise OSError(f"test refuses to bind {host!r}")
        real_bind(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "bind", bind)


@pytest.mark.parametrize("where", ["0:0", "0.0:0", "0x0:0", "[0]:0", "[0:0::0]:0", "0.0.0:0"])
@pytest.mark.parametrize("option", ["--tcp", "--meter-tcp"])
def test_other_spellings_of_every_interface_are_refused(
    where: str, option: str, loopback_only: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", option, where])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "0.0.0.0" in lines[0], lines


def test_only_an_explicit_wildcard_means_every_interface() -> None:
    assert host_port("0.0.0.0:7001") == ("0.0.0.0", 7001)
    assert host_port("[::]:7001") == ("::", 7001)
    assert host_port("7001") == ("127.0.0.1", 7001)
    assert host_port("[::1]:0") == ("::1", 0)
    for spelling in ("0:1", "0.0:1", "0x0:1", "[0]:1", "[::ffff:0.0.0.0]:1", "example.com:1"):
        with pytest.raises(argparse.ArgumentTypeError):
            host_port(spelling)


def first_line(*arguments: str) -> str:
    """Start ``spasim serve``, read its first line, stop it with SIGTERM (exit 0 expected)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "spasim", "serve", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
    finally:
        process.terminate()
        process.communicate(timeout=WAIT)
    assert process.returncode == 0
    return line


def test_the_listening_line_shows_the_address_really_bound() -> None:
    assert first_line("--tcp", "localhost:0").startswith("listening on 127.0.0.1:")


@pytest.mark.parametrize("arguments", [["--speed", "1000"], ["--speed", "0.01"], ["--water", "99"]])
def test_serve_at_the_bounds_starts(arguments: list[str]) -> None:
    assert first_line("--tcp", "127.0.0.1:0", *arguments).startswith("listening on 127.0.0.1:")
