"""House rules every command line obeys: one-line usage errors (exit 2), --version, --help,
and no traceback when the reader of our output goes away."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.cli import COMMAND_MODULES as BENCH_COMMANDS
from bench.cli import main as spabench
from spasim.cli import COMMAND_MODULES as SPASIM_COMMANDS
from spasim.cli import main as spasim


@pytest.mark.parametrize(("main", "name"), [(spasim, "spasim"), (spabench, "spabench")])
def test_version_and_help(main: object, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])  # type: ignore[operator]
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"{name} 0.")
    assert main([]) == 0  # type: ignore[operator]
    assert "COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("main", "argv"),
    [
        (spasim, ["--bogus"]),
        (spasim, ["serve", "--speed", "0"]),
        (spasim, ["serve", "--tcp", "host:notaport"]),
        (spabench, ["run", "--plan"]),
        (spabench, ["no-such-command"]),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    main: object, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)  # type: ignore[operator]
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "error:" in err


def test_every_registered_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for main, modules in ((spasim, SPASIM_COMMANDS), (spabench, BENCH_COMMANDS)):
        for module in modules:
            command = __import__(module, fromlist=["COMMAND"]).COMMAND
            with pytest.raises(SystemExit) as exit_info:
                main([command.name, "--help"])
            assert exit_info.value.code == 0
            assert command.name in capsys.readouterr().out


def test_a_closed_pipe_is_not_a_traceback() -> None:
    """``spasim simulate --csv - | head -1``: the reader leaves early (megabytes of output
    still to come, far beyond a pipe's buffer); we exit quietly."""
    producer = subprocess.Popen(
        [sys.executable, "-m", "spasim", "simulate", "--hours", "24", "--csv", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert producer.stdout is not None and producer.stderr is not None
    producer.stdout.readline()
    producer.stdout.close()  # like head exiting after one line
    stderr = producer.stderr.read().decode()
    assert producer.wait(30) == 0
    assert "Traceback" not in stderr, stderr
