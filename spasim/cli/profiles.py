"""``spasim profiles``: the board profiles this installation knows, as a table.

``--show NAME|FILE.toml`` prints every figure of one profile (packaged or a user file), which
is also how a service partner checks a profile file before serving a box with it.
``--provenance [NAME|FILE.toml]`` prints every value of one profile (or of every packaged one)
with where it comes from — ``capture``, ``source:KEY``, ``weak:KEY`` or ``model`` — the file
that set it, and for a source its repository (or the maker's document).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from protocols.cli_support import EXIT_OK, Subcommand, UsageError
from protocols.mspa.models import ProvenanceEntry, Source, model_provenance
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


PROVENANCE_COLUMNS = ("key", "value", "from", "set in", "source")
TAG_LEGEND = (
    "tags:",
    "  capture     seen in the public capture of a real box (johannesc/mspa-wifi README, SPEC §3)",
    "  source:KEY  stated by that source",
    "  weak:KEY    stated by one source that is itself uncertain",
    "  model       our own choice where no public source exists",
    "  untagged    a bare value in a user file",
)


def format_value(key: str, value: Any) -> str:
    """A model file's value as a person reads it: ``0x10`` for a wire code, lists by comma."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if key == "uvc_command" and isinstance(value, int):
        return f"0x{value:02X}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(format_value(key, item) for item in value)
    return str(value)


def _source_cell(entry: ProvenanceEntry) -> str:
    source = entry.provenance.source
    return source.where if source else ""


def format_provenance(names: list[str]) -> str:
    """Every value of each named model with its tag, the file that set it and its source's
    repository; a ``model`` column first when more than one model is shown. The sources
    named in the table follow it, then what the tags mean."""
    many = len(names) > 1
    header = ("model", *PROVENANCE_COLUMNS) if many else PROVENANCE_COLUMNS
    rows: list[tuple[str, ...]] = []
    used: dict[str, Source] = {}
    for name in names:
        for entry in model_provenance(name):
            row = (
                entry.key,
                format_value(entry.key, entry.value),
                entry.tag,
                entry.file,
                _source_cell(entry),
            )
            rows.append((name, *row) if many else row)
            if entry.provenance.source is not None:
                used[entry.provenance.source.key] = entry.provenance.source
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if used:
        lines += ["", "sources:"]
        for key, source in sorted(used.items()):
            lines.append(f"  {key:<4} {source.where}: {source.what}")
            if source.repository:
                lines.append(f"       {source.documents}")
    lines += ["", *TAG_LEGEND]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- README table

README_BEGIN = (
    "<!-- model-table: generated from the model files by scripts/readme_model_table.py -->"
)
README_END = "<!-- /model-table -->"
README_COLUMNS = (
    "model",
    "plate",
    "UVC code (variant)",
    "jets (0D)",
    "set-point in 04",
    "extra box frames",
    "16 marker",
    "auto-offs timed by",
    "pump run-on",
    "report period",
)
_BOX_FRAMES = (("box_blower_frame", "12"), ("box_led_frame", "1A"), ("box_status_frame", "1B"))


def _model_row(name: str) -> tuple[str, ...]:
    """One model's variant facts, each with its tag in brackets (``0x10 (B) [source:MW]``)."""
    e = {entry.key: entry for entry in model_provenance(name)}

    def cell(text: str, *keys: str) -> str:
        tags = dict.fromkeys(e[key].tag for key in keys)
        return f"{text} [{', '.join(tags)}]"

    plate = load_profile(name)
    if plate.uvc_fitted:
        uvc = cell(f"0x{plate.uvc_command:02X} ({plate.uvc_variant})", "uvc_command")
    else:
        uvc = cell("not fitted", "uvc_fitted")
    frames = [cell(label, key) for key, label in _BOX_FRAMES if e[key].value]
    if plate.boot_repeat_07_s:
        frames.append(cell(f"07 0C every {plate.boot_repeat_07_s:g} s", "boot_repeat_07_s"))
    frame_keys = (*(key for key, _ in _BOX_FRAMES), "boot_repeat_07_s")
    return (
        f"`{name}`",
        cell(plate.model, "model"),
        uvc,
        cell("yes" if plate.jets_fitted else "no", "jets_fitted"),
        cell("°C × 2" if plate.setpoint_encoding == "double" else "whole °C", "setpoint_encoding"),
        ", ".join(frames) if frames else cell("none", *frame_keys),
        cell("yes" if plate.plate.key_marker else "no", "remote_burst"),
        cell(plate.auto_off_by, "auto_off_by"),
        cell(f"{plate.filter_run_on_s:g} s", "filter_run_on_s"),
        cell(f"{plate.link_report_period_s:g} s", "link_report_period_s"),
    )


def readme_model_table() -> str:
    """The README's model table: one row per packaged model, its variant facts with their
    tags, then the sources those tags name (between :data:`README_BEGIN` and
    :data:`README_END`; ``tests/test_model_provenance.py`` keeps the README in step)."""
    names = available_profiles()
    rows = [README_COLUMNS, tuple("---" for _ in README_COLUMNS), *map(_model_row, names)]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    used: dict[str, Source] = {}
    for name in names:
        for entry in model_provenance(name):
            if entry.provenance.source is not None:
                used[entry.provenance.source.key] = entry.provenance.source
    sources = "; ".join(
        f"{key} = {f'`{source.repository}`' if source.repository else source.documents}"
        for key, source in sorted(used.items())
    )
    lines += ["", f"Sources: {sources} (`protocols/mspa/sources.toml`)."]
    return "\n".join([README_BEGIN, *lines, README_END])


def _configure(parser: argparse.ArgumentParser) -> None:
    views = parser.add_mutually_exclusive_group()
    views.add_argument(
        "--show",
        metavar="NAME|FILE",
        help="print every figure of one profile (a packaged name or a .toml file)",
    )
    views.add_argument(
        "--provenance",
        nargs="?",
        const="",
        metavar="NAME|FILE",
        help="print every value with where it comes from (capture, source:KEY, weak:KEY, "
        "model) and the file that set it: one profile, or every packaged one",
    )


def _run(args: argparse.Namespace) -> int:
    if args.provenance is not None:
        names = [args.provenance] if args.provenance else available_profiles()
        try:
            for name in names:
                load_profile(name)  # a bad value is refused here, as --show would
            text = format_provenance(names)
        except ValueError as error:
            raise UsageError(str(error)) from None
        print(text)
        return EXIT_OK
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
