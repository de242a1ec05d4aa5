"""``spabench replay``: play a capture through the decoder, or into a link at its times."""

from __future__ import annotations

import argparse
import sys

from bench.capture.replay import SIDES, decode_capture, play_capture
from protocols.capture import Capture, read_capture
from protocols.cli_support import EXIT_ERROR, EXIT_OK, Subcommand, UsageError, positive_float
from protocols.links import LinkLost, open_link


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        metavar="FILE",
        help="capture file: spasim capture v1, or lines in its format without the version line",
    )
    parser.add_argument(
        "--to",
        metavar="URL",
        help="write the bytes into this link at the captured times "
        "(default: decode and print as fast as possible)",
    )
    parser.add_argument(
        "--side",
        choices=SIDES,
        default="both",
        help="whose bytes to play: what the box sent, what the remote sent, or both",
    )
    parser.add_argument(
        "--speed",
        type=speed_argument,
        metavar="X",
        help=f"with --to: play X times faster than captured "
        f"({MIN_SPEED:g}–{MAX_SPEED:g}, default 1)",
    )


MIN_SPEED, MAX_SPEED = 0.001, 1000.0
"""Replay speed factors accepted: beyond them a capture's times overflow or blur into one."""


def speed_argument(text: str) -> float:
    value = positive_float(text)
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"must be {MIN_SPEED:g}–{MAX_SPEED:g}, got {text!r}")
    return value


def _load(path: str) -> Capture:
    try:
        return read_capture(path)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise UsageError(f"{path}: {error}") from None


def _print(line: str) -> None:
    print(line, flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.speed is not None and args.to is None:
        raise UsageError("--speed only applies with --to")
    capture = _load(args.file)
    if args.to is None:
        decode_capture(capture, side=args.side, out=_print)
        return EXIT_OK
    try:
        link = open_link(args.to)
    except LinkLost as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    with link:
        try:
            play_capture(capture, link, side=args.side, speed=args.speed or 1.0, out=_print)
        except LinkLost:
            print(f"error: link lost ({args.to})", file=sys.stderr)
            return EXIT_ERROR
    return EXIT_OK


COMMAND = Subcommand(
    "replay",
    "play a capture back: decoded on the console, or into a link at the captured times",
    _configure,
    _run,
)
