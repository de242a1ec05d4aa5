"""``spasim profiles``: the board profiles this installation knows, as a table.

``--show NAME|FILE.toml`` prints every figure of one profile (packaged or a user file), which
is also how a service partner checks a profile file before serving a box with it.
"""

from __future__ import annotations

import argparse
import dataclasses

from protocols.cli_support import EXIT_OK, Subcommand, UsageError
from spasim.profiles import Profile, available_profiles, load_profile

COLUMNS = ("name", "model", "litres", "heater", "blower", "ozone", "UVC cmd", "auto-off")


def _watts(value: float) -> str:
    return f"{value:g}"


def profile_row(profile: Profile) -> tuple[str, ...]:
    """One table row: what tells two profiles apart at a glance."""
    p = profile
    ozone = f"{p.ozone_w:g} W" if p.ozone_fitted else "—"
    uvc = f"0x{p.uvc_command:02X} ({p.uvc_variant})" if p.uvc_fitted else "not fitted"
    if p.ozone_auto_off_h == p.uvc_auto_off_h:
        sanitisers = f"O3/UVC {p.ozone_auto_off_h:g} h"
    else:
        sanitisers = f"O3 {p.ozone_auto_off_h:g} h, UVC {p.uvc_auto_off_h:g} h"
    auto_off = f"bubbles {p.blower_auto_off_min:g} min, {sanitisers}"
    return (
        p.name,
        p.model,
        f"{p.water_litres:g} L",
        f"{_watts(p.heater_stage1_w)}/{_watts(p.heater_stage2_w)} W",
        "/".join(_watts(w) for w in p.blower_level_w) + " W",
        ozone,
        uvc,
        auto_off,
    )


def format_table(rows: list[tuple[str, ...]]) -> str:
    table = [COLUMNS, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def format_profile(profile: Profile) -> str:
    """Every field of one profile, one per line."""
    fields = dataclasses.fields(profile)
    width = max(len(field.name) for field in fields)
    lines = []
    for field in fields:
        value = getattr(profile, field.name)
        if field.name == "uvc_command":
            value = f"0x{value:02X} (variant {profile.uvc_variant})"
        lines.append(f"{field.name.ljust(width)}  {value}")
    return "\n".join(lines)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--show",
        metavar="NAME|FILE",
        help="print every figure of one profile (a packaged name or a .toml file)",
    )


def _run(args: argparse.Namespace) -> int:
    if args.show:
        try:
            profile = load_profile(args.show)
        except ValueError as error:
            raise UsageError(str(error)) from None
        print(format_profile(profile))
        return EXIT_OK
    print(format_table([profile_row(load_profile(name)) for name in available_profiles()]))
    return EXIT_OK


COMMAND = Subcommand(
    "profiles", "list the board profiles (loads, water, timings)", _configure, _run
)
