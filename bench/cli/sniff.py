"""``spabench sniff``: tap both wires of a live remote↔box cable, print and record the frames."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial

from bench.capture.sniff import Sniffer, open_sniffer, taps_line
from protocols.cli_support import EXIT_ERROR, EXIT_OK, Subcommand, UsageError, positive_float
from protocols.files import OutputPathError, check_output_path
from protocols.links import LinkLost


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--box",
        required=True,
        metavar="URL",
        help="adapter whose RX is on the green wire: hears what the box sends",
    )
    parser.add_argument(
        "--remote",
        required=True,
        metavar="URL",
        help="adapter whose RX is on the black wire: hears what the remote sends",
    )
    parser.add_argument("--capture", metavar="FILE", help="write a capture file (replaced)")
    parser.add_argument(
        "--duration",
        type=positive_float,
        metavar="S",
        help="stop after S seconds (default: run until Ctrl-C or SIGTERM)",
    )
    parser.add_argument("--console", action="store_true", help="show the frames in a live console")


@contextmanager
def _stop_on_signals(sniffer: Sniffer) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the sniff cleanly: capture flushed, summary printed, exit 0."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; a caller's thread stops us itself
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.signal(s, lambda *_: sniffer.stop()) for s in signals]
    try:
        yield
    finally:
        for number, handler in zip(signals, previous, strict=True):
            signal.signal(number, handler)


def _print(line: str) -> None:
    print(line, flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.capture:
        try:
            check_output_path(args.capture)  # before any adapter is opened
        except OutputPathError as error:
            raise UsageError(str(error)) from None
    if args.console:
        from bench.console.sniffing import run_sniff_console

        return run_sniff_console(args)
    with ExitStack() as stack:
        try:
            sniffer = open_sniffer(
                stack, args.box, args.remote, args.capture, partial(Sniffer, out=_print)
            )
        except LinkLost as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_ERROR
        print(
            f"sniffing {taps_line(args.box, args.remote)}"
            + (f", capture {args.capture}" if args.capture else "")
            + ("" if args.duration else "; Ctrl-C to stop"),
            file=sys.stderr,
        )
        try:
            with _stop_on_signals(sniffer):
                result = sniffer.run(args.duration)
        except OSError as error:  # the capture's disk filled up or went away
            print(f"error: capture {args.capture}: {error.strerror}", file=sys.stderr)
            return EXIT_ERROR
        if result.lost is not None:
            print(f"error: link lost ({result.lost_url})", file=sys.stderr)
            return EXIT_ERROR
    return EXIT_OK


COMMAND = Subcommand(
    "sniff",
    "listen to a live remote↔box cable through two adapters; print and capture the frames",
    _configure,
    _run,
)
