"""``spasim selfcheck``: prove the codec on this machine against the captured traffic."""

from __future__ import annotations

import argparse

from protocols.cli_support import EXIT_FAIL, EXIT_OK, Subcommand
from protocols.mspa import POWER_ON, FrameDecoder, describe, parse


def run_selfcheck(verbose: bool = True) -> bool:
    """Encode every captured power-on frame, decode the stream back, compare."""
    stream = b"".join(bytes(item.frame) for item in POWER_ON)
    decoder = FrameDecoder()
    decoded = decoder.feed(b"\x00\xff" + stream + b"\xa5\x01")  # garbage around it
    expected = [item.frame for item in POWER_ON]
    ok = decoded == expected and all(parse(bytes(f)) == f for f in expected)
    if verbose:
        for item in POWER_ON:
            print(f"{item.time:6.2f} s  {describe(item.frame, item.direction)}")
        counters = decoder.counters
        print(
            f"codec self-check: {'ok' if ok else 'FAILED'} — {counters.frames} frames, "
            f"{counters.bad_checksums} bad sums, {counters.discarded_bytes} discarded bytes"
        )
    return ok


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing, exit status only"
    )


def _run(args: argparse.Namespace) -> int:
    return EXIT_OK if run_selfcheck(verbose=not args.quiet) else EXIT_FAIL


COMMAND = Subcommand(
    "selfcheck", "check the wire codec against the captured power-on traffic", _configure, _run
)
