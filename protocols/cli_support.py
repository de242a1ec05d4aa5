"""Command-line plumbing shared by ``spasim`` and ``spabench``.

The house rule for bad arguments: one line saying why, exit status 2, nothing changed.
argparse already exits 2; :class:`OneLineParser` trims its multi-line usage dump to one
line that names the command and points at ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_ERROR = 3


class UsageError(Exception):
    """Raised by command handlers for arguments argparse could not judge (bad dates, ...)."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(EXIT_USAGE)


def usage_exit(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.exit(EXIT_USAGE)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``PORT`` (host defaults to 127.0.0.1); port 0 picks a free one."""
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0–65535, got {port}")
    return host, port


class Subcommand:
    """What a subcommand module exports as ``COMMAND``: its name, its arguments, its handler.

    ``spasim``/``spabench`` import each module listed in their ``COMMAND_MODULES`` only when
    asked for ``--help`` or that command, so a slow import (Textual, matplotlib) costs nothing
    elsewhere.
    """

    def __init__(
        self,
        name: str,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
    ) -> None:
        self.name = name
        self.help = help
        self.configure = configure
        self.run = run


def run_cli(
    prog: str,
    description: str,
    version: str,
    command_modules: Sequence[str],
    argv: Sequence[str] | None,
) -> int:
    """Build the parser from the subcommand modules, parse, dispatch; exit codes per house rules."""
    parser = OneLineParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {version}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {}
    for module_name in command_modules:
        command: Subcommand = importlib.import_module(module_name).COMMAND
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        sub.__class__ = OneLineParser
        command.configure(sub)
        handlers[command.name] = command.run
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return handlers[args.command](args)
    except UsageError as error:
        usage_exit(f"{prog} {args.command}", str(error))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``spasim faults | head``): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
