"""Running ``spabench`` in-process the way a shell would, for the tests that judge its exit
code and its words: usage errors raise ``SystemExit`` inside argparse, the others return."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.cli import main as spabench_main

Result = tuple[int, str, str]
"""(exit code, stdout, stderr)."""


def cli(main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """Run a command-line ``main`` (``spabench``'s or ``spasim``'s) with ``args``."""
    try:
        code = main(list(args))
    except SystemExit as leave:
        code = int(leave.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def spabench(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    return cli(spabench_main, capsys, *args)


def one_line(result: Result, code: int, *needles: str) -> str:
    """The command ended with ``code`` and said why in one line on stderr, no traceback."""
    got, out, err = result
    assert got == code, (got, out, err)
    assert err.count("\n") == 1, err
    assert "Traceback" not in out + err
    for needle in needles:
        assert needle in err, err
    return err
