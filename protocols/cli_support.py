"""Command-line plumbing shared by ``spasim`` and ``spabench``.

The house rule for bad arguments: one line saying why, exit status 2, nothing changed.
argparse already exits 2; :class:`OneLineParser` trims its multi-line usage dump to one
line that names the command and points at ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import math
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


def bounded_float(low: float, high: float, unit: str = "") -> Callable[[str], float]:
    """An argparse ``type``: a finite number from ``low`` to ``high`` (inclusive).

    Every number a user gives has a documented range: NaN, infinities and values outside
    it are refused up front with one line, never discovered by a crash seconds later.
    """
    shown = f"{low:g}–{high:g}{unit}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be {shown}, got {text!r}")
        return value

    return parse


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high`` (inclusive)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}–{high}, got {text!r}")
        return value

    return parse


WILDCARD_HOSTS = ("0.0.0.0", "::")
"""The only spellings that listen on every interface: the user must write one of them."""


def _host(text: str) -> str:
    """A strict IP literal (or ``localhost``): what a listening socket may bind.

    ``socket.bind`` takes ``0``, ``0.0``, ``0x0`` (inet_aton's shorthands) or a name that
    resolves to the wildcard, and silently listens on every interface. Only a literal IPv4
    or IPv6 address is accepted here, and the wildcard only when written as ``0.0.0.0`` or
    ``::``; any other spelling of it is refused.
    """
    if text == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"host must be an IP address such as 127.0.0.1 or ::1 "
            f"(0.0.0.0 or :: for every interface), got {text!r}"
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise argparse.ArgumentTypeError(f"scoped IPv6 addresses are not supported: {text!r}")
    mapped = getattr(address, "ipv4_mapped", None)
    if (address.is_unspecified or (mapped is not None and mapped.is_unspecified)) and (
        text not in WILDCARD_HOSTS
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r} means every interface: write 0.0.0.0 or :: if that is meant"
        )
    return str(address)


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``PORT`` (host defaults to 127.0.0.1); port 0
    picks a free one. HOST is a strict IP literal or ``localhost`` (see :func:`_host`)."""
    host_text, colon, port_text = text.rpartition(":")
    if not colon:
        port_text = text
    if host_text.startswith("[") and host_text.endswith("]"):
        host_text = host_text[1:-1]
    elif ":" in host_text:
        raise argparse.ArgumentTypeError(f"write an IPv6 host in brackets, [{host_text}]:PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0–65535, got {port}")
    host = _host(host_text) if host_text else "127.0.0.1"
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
