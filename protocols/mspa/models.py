"""The model files: what each MSpa model's plate and wire say, read without the simulator.

Why here: a bench testing a *real* box must know what its model plate says — which optional
parts are fitted, which code enables the UVC lamp on the wire, when the box switches bubbles,
ozone and UVC off by itself — and none of that is simulation. Keeping these facts at the
protocol layer lets the bench's real-hardware path run without importing :mod:`spasim`; the
simulator (:mod:`spasim.profiles`) reads the very same files for its own figures (watts,
water, physics, timings), so each fact is written once.

One TOML file per model in ``protocols/mspa/models/*.toml``; a file may start from another
with ``base = "premium-4"`` and repeat only what differs, and a user file is read by path the
same way. Keys are grouped in sections (``[uvc] command`` is the field ``uvc_command``).
:func:`load_model` gives the plate (:class:`ModelPlate`) and ignores the simulator's keys;
:func:`read_model_values` gives every key, for the simulator to check and convert.

Provenance: every value of a packaged file says where it comes from, beside it —
``report_period_s = { value = 1.0132, from = "capture" }`` — with one of the tags of
``research/mspa-public-facts.md``: ``capture``, ``source:KEY``, ``weak:KEY`` or ``model``
(:data:`TAG_KINDS`). The source keys are registered as data in ``protocols/mspa/sources.toml``
(:func:`model_sources`); a tag naming an unregistered key is refused by name in any file. A
user file may write bare values (``key = value``): they read as :data:`UNTAGGED`. The readers
above return plain values either way; :func:`model_provenance` returns each key's value, tag
and the file that set it (with ``base =``, a value keeps the tag of the file that wrote it).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from protocols.files import parse_toml, read_text_file
from protocols.mspa.frames import Command

UVC_VARIANT_A = int(Command.UVC)
"""UVC enable code on a variant A box."""
UVC_VARIANT_B = int(Command.INIT_10)
"""UVC enable code on a variant B box (shared with the power-on 0x10 exchange)."""

SECTIONS = (
    "heater",
    "filter",
    "blower",
    "jets",
    "ozone",
    "uvc",
    "setpoint",
    "thermal",
    "link",
    "boot",
    "box",
    "remote",
    "errors",
    "sensor",
)
"""The tables a model file may hold; ``[heater] stage1_w`` is read as ``heater_stage1_w``."""

SIMULATION_KEYS = frozenset(
    {
        "water_litres",
        "mains_voltage_v",
        "standby_w",
        "heater_stage1_w",
        "heater_stage2_w",
        "heater_stage1_s",
        "heater_overtemp_cut_c",
        "heater_overtemp_recover_c",
        "heater_overtemp_margin_c",
        "filter_pump_w",
        "blower_level_w",
        "blower_loss_w",
        "ozone_w",
        "uvc_w",
        "jets_w",
        "thermal_ua_w_per_k",
        "thermal_lid_off_factor",
        "thermal_blower_factor",
        "thermal_min_litres",
        "sensor_noise_sigma_c",
        "sensor_noise_clip_c",
        "sensor_poll_s",
    }
)
"""The keys of a model file the simulator reads (:mod:`spasim.profiles` converts and checks
them). Named here so that the bench, reading only the plate, still refuses a misspelt key
(``auto_of_min``) instead of silently using the default."""

UVC_VARIANT_C = 0x19
"""UVC enable code on a variant C box (weak source: "Sanitize" rides on 0x19)."""
UVC_COMMANDS = (UVC_VARIANT_A, UVC_VARIANT_B, UVC_VARIANT_C)
JETS_COMMAND = int(Command.CYCLE_0D)
"""On a model with a jet pump, 0x0D 0/1 switches the jets (0x0D 00 in the cycle otherwise)."""

CYCLE_ENTRIES = ("heater", "filter", "bubbles", "jets", "ozone", "uvc")
"""What the remote's state cycle can carry, by name (``jets`` is the 0x0D slot)."""
BURST_ENTRIES = (*CYCLE_ENTRIES, "marker", "setpoint")
"""What a key-press burst can carry: the states, the 0x16 marker, the 0x04 set-point."""
SETPOINT_ENCODINGS = ("celsius", "double")
"""0x04's parameter: whole °C, or °C × 2."""
AUTO_OFF_SIDES = ("box", "remote")
"""Who times the bubble/ozone/UVC auto-offs: the box's firmware, or the remote (panel)."""

PLATE_RANGES: dict[str, tuple[float, float, str]] = {
    "blower_auto_off_min": (0.1, 1440, "min"),
    "ozone_auto_off_h": (0.01, 48, "h"),
    "uvc_auto_off_h": (0.01, 48, "h"),
    "filter_run_on_s": (0, 600, "s"),
    "setpoint_min_c": (0, 60, "°C"),
    "setpoint_max_c": (0, 60, "°C"),
    "setpoint_default_c": (0, 60, "°C"),
    "link_watchdog_s": (0.1, 3600, "s"),
    "link_report_period_s": (0.01, 60, "s"),
    "link_flow_offset_s": (0, 60, "s"),
    "boot_frame_09_s": (0, 600, "s"),
    "boot_frame_07_s": (0, 600, "s"),
    "boot_first_temperature_s": (0, 600, "s"),
    "boot_repeat_07_s": (0, 3600, "s"),
    "remote_cycle_offsets_s": (0, 60, "s"),
    "remote_cycle_period_s": (0.1, 60, "s"),
    "remote_frame_0f_s": (0, 60, "s"),
    "remote_keepalive_s": (1, 3600, "s"),
    "errors_f1_after_s": (0.1, 600, "s"),
    "errors_f1_reset_report_s": (0, 60, "s"),
    "errors_a0_after_h": (1, 100000, "h"),
}
"""Range of every numeric plate fact (low, high, unit), inclusive: a typo is refused by name."""


@dataclass(frozen=True, slots=True)
class ModelPlate:
    """One model's plate and wire facts: what the bench needs to test a real box.

    Every field is a key of the model file (``[link] report_period_s`` is
    ``link_report_period_s``); the model files say where each value comes from.
    """

    name: str
    """The model file's key (``premium-4``)."""
    model: str
    """The maker's name for the model, as on the plate."""
    auto_off_by: str
    """Who switches bubbles, ozone and UVC off after their time: ``box`` or ``remote``."""
    filter_run_on_s: float
    """The box keeps the filter pump running this long after the heater stops (0: none)."""
    blower_auto_off_min: float
    jets_fitted: bool
    """A jet pump, switched by 0x0D 0/1 (Elite)."""
    ozone_fitted: bool
    ozone_auto_off_h: float
    uvc_fitted: bool
    uvc_command: int
    """The wire code that enables the UVC lamp: 0x15 (variant A), 0x10 (B) or 0x19 (C)."""
    uvc_auto_off_h: float
    setpoint_min_c: int
    setpoint_max_c: int
    setpoint_default_c: int
    """The box's set-point after power-on."""
    setpoint_encoding: str
    """0x04's parameter: ``celsius`` (whole °C) or ``double`` (°C × 2)."""
    link_watchdog_s: float
    """The box switches every load off after hearing no valid frame for this long."""
    link_report_period_s: float
    """0x06 and 0x08 each once per period."""
    link_flow_offset_s: float
    """0x08 follows 0x06 by this much."""
    boot_frame_09_s: float
    """Box 09 00, seconds after mains on."""
    boot_frame_07_s: float
    """Box 07 0C, seconds after mains on."""
    boot_first_temperature_s: float
    """The first 0x06, seconds after mains on; the first 0x08 follows by the flow offset."""
    boot_repeat_07_s: float
    """The box repeats 07 0C this often while running (0: only at power-on)."""
    box_blower_frame: bool
    """The box sends 12 01 twice a second while the blower runs (12 00 when it stops)."""
    box_led_frame: bool
    """The box sends 1A <LED flags> with every temperature report."""
    box_status_frame: bool
    """The box sends 1B <set-point + bubbles> with every flow report."""
    remote_cycle: tuple[str, ...]
    """The remote's state cycle, in order (names of :data:`CYCLE_ENTRIES`)."""
    remote_cycle_offsets_s: tuple[float, ...]
    """When each cycle entry goes out, seconds after the cycle's first one."""
    remote_cycle_period_s: float
    """The cycle repeats this often."""
    remote_frame_0f_s: float
    """The remote sends 0F 00 once, this long after its first 0x0D (0: never)."""
    remote_burst: tuple[str, ...]
    """A key press's frames, in order (names of :data:`BURST_ENTRIES`; no ``marker``: no 16)."""
    remote_show_setpoint: bool
    """The first press of + or − only shows the set-point (04 with the unchanged value)."""
    remote_keepalive_s: float
    """The remote's 0B 00, this often."""
    errors_f1_after_s: float
    """F1 latches when the pump is commanded and the flow switches stay open this long."""
    errors_f1_reset_report_s: float
    """After the 0B 00 reset, the box reports 08 03 for this long before the true flow."""
    errors_a0_after_h: float
    """The panel shows A0 (clean the filter) after this many hours of filtering."""

    def __post_init__(self) -> None:
        problems = plate_problems(self)
        if problems:
            raise ValueError(f"profile {self.name!r}: " + "; ".join(problems))

    @property
    def bubble_auto_off_s(self) -> float:
        return self.blower_auto_off_min * 60.0

    @property
    def ozone_auto_off_s(self) -> float:
        return self.ozone_auto_off_h * 3600.0

    @property
    def uvc_auto_off_s(self) -> float:
        return self.uvc_auto_off_h * 3600.0

    @property
    def boot_first_flow_s(self) -> float:
        """The first 0x08 after mains on: the first 0x06 plus the flow-report offset."""
        return self.boot_first_temperature_s + self.link_flow_offset_s

    @property
    def uvc_variant(self) -> str:
        return {UVC_VARIANT_A: "A", UVC_VARIANT_B: "B"}.get(self.uvc_command, "C")

    @property
    def key_marker(self) -> bool:
        """The remote sends 16 00 in a key-press burst."""
        return "marker" in self.remote_burst


PLATE_FIELDS: dict[str, str] = {
    field.name: str(field.type) for field in dataclasses.fields(ModelPlate)
}
"""The plate's keys and their types (as written in the dataclass)."""

MODEL_KEYS = frozenset(PLATE_FIELDS) | SIMULATION_KEYS
"""Every key a model file may hold."""


def range_problems(values: object, ranges: Mapping[str, tuple[float, float, str]]) -> list[str]:
    """``"{field} must be low–high unit"`` for every field of ``values`` outside its range
    (each item of a tuple field is checked; NaN and infinities are always out)."""
    problems = []
    for field, (low, high, unit) in ranges.items():
        value = getattr(values, field)
        for item in value if isinstance(value, tuple) else (value,):
            if not (math.isfinite(item) and low <= item <= high):
                problems.append(f"{field} must be {low:g}–{high:g} {unit}".rstrip())
                break
    return problems


def plate_problems(p: ModelPlate) -> list[str]:
    """Everything in ``p``'s plate facts that no real box has (empty when fine)."""
    problems = [
        f"{field} must be positive"
        for field in ("blower_auto_off_min", "ozone_auto_off_h", "uvc_auto_off_h")
        if not getattr(p, field) > 0
    ]
    if p.uvc_command not in UVC_COMMANDS:
        problems.append(
            "uvc command must be 0x15 (variant A), 0x10 (variant B) or 0x19 (variant C), "
            f"got {p.uvc_command:#x}"
        )
    if p.setpoint_encoding not in SETPOINT_ENCODINGS:
        problems.append(f"setpoint encoding must be celsius or double, got {p.setpoint_encoding!r}")
    if p.auto_off_by not in AUTO_OFF_SIDES:
        problems.append(f"auto_off_by must be box or remote, got {p.auto_off_by!r}")
    if not p.setpoint_min_c <= p.setpoint_default_c <= p.setpoint_max_c:
        problems.append("set-point needs min_c <= default_c <= max_c")
    if not 0 < p.boot_frame_09_s <= p.boot_frame_07_s < p.boot_first_temperature_s:
        problems.append("boot needs 0 < frame_09_s <= frame_07_s < first_temperature_s")
    if not 0 <= p.link_flow_offset_s < p.link_report_period_s:
        problems.append("link flow_offset_s must be within one report period")
    cycle, offsets = p.remote_cycle, p.remote_cycle_offsets_s
    if sorted(cycle) != sorted(set(cycle)) or not set(cycle) <= set(CYCLE_ENTRIES) or not cycle:
        problems.append(f"remote cycle must name each of {', '.join(CYCLE_ENTRIES)} at most once")
    if len(offsets) != len(cycle) or list(offsets) != sorted(offsets) or (offsets and offsets[0]):
        problems.append("remote cycle_offsets_s needs one rising offset per entry, the first 0")
    elif offsets and not offsets[-1] < p.remote_cycle_period_s:
        problems.append("remote cycle_offsets_s must fall within cycle_period_s")
    burst = p.remote_burst
    if sorted(burst) != sorted(set(burst)) or not set(burst) <= set(BURST_ENTRIES):
        problems.append(f"remote burst must name each of {', '.join(BURST_ENTRIES)} at most once")
    return problems + range_problems(p, PLATE_RANGES)


# ----------------------------------------------------------------------------- provenance

TAG_KINDS = ("capture", "source", "weak", "model")
"""How a value is known: ``capture`` (seen in the public capture of a real box, SPEC §3),
``source`` (stated by one source of :func:`model_sources`), ``weak`` (one source that is itself
uncertain), ``model`` (our own choice where no public source exists)."""


@dataclass(frozen=True, slots=True)
class Source:
    """One registered source of model facts (a row of ``protocols/mspa/sources.toml``)."""

    key: str
    """What a tag names: ``MW`` in ``source:MW``."""
    repository: str
    """The public repository (``owner/name`` on GitHub); empty for the maker's own documents."""
    documents: str
    """Which of its documents hold the facts (or the maker's document itself)."""
    what: str
    """What the source is."""

    @property
    def where(self) -> str:
        """Where to read it: the repository, or the document when there is none."""
        return self.repository or self.documents


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one value comes from: a kind of :data:`TAG_KINDS` (and its source), or
    ``untagged`` for a bare value in a user file."""

    kind: str
    source: Source | None = None

    @property
    def tag(self) -> str:
        """As written in a model file (``source:MW``); ``untagged (user file)`` for a bare value."""
        if self.kind == "untagged":
            return "untagged (user file)"
        return f"{self.kind}:{self.source.key}" if self.source else self.kind

    def __str__(self) -> str:
        return self.tag


UNTAGGED = Provenance("untagged")
"""The provenance of a bare value (``key = value``), legal in user files only."""


@dataclass(frozen=True, slots=True)
class ProvenanceEntry:
    """One key of a model as read: its value (as written, unconverted), where that value comes
    from, and which file set it."""

    key: str
    """The flat key (``uvc_command``)."""
    value: Any
    provenance: Provenance
    file: str
    """The packaged model's name (``premium-4``), or a user file's path."""

    @property
    def tag(self) -> str:
        return self.provenance.tag


def _sources_path() -> Traversable:
    return resources.files("protocols.mspa").joinpath("sources.toml")


@functools.cache
def model_sources() -> dict[str, Source]:
    """The registered sources, by key (``protocols/mspa/sources.toml``)."""
    origin = "protocols/mspa/sources.toml"
    document = parse_toml(_sources_path().read_text(encoding="utf-8"), origin)
    sources = {}
    for key, row in document.items():
        fields = ("repository", "documents", "what")
        if not isinstance(row, dict) or sorted(row) != sorted(fields):
            raise ValueError(f"{origin}: [{key}] needs exactly {', '.join(fields)}")
        sources[key] = Source(key, *(str(row[field]) for field in fields))
    return sources


def parse_tag(text: object, where: str) -> Provenance:
    """A ``from =`` tag → :class:`Provenance`; ``ValueError`` naming ``where`` for an unknown
    kind, a source key that is not registered, or a kind that takes no key."""
    sources = model_sources()
    if isinstance(text, str):
        kind, colon, key = text.partition(":")
        if kind in ("capture", "model") and not colon:
            return Provenance(kind)
        if kind in ("source", "weak") and key in sources:
            return Provenance(kind, sources[key])
        if kind in ("source", "weak"):
            known = ", ".join(sorted(sources))
            raise ValueError(f"{where}: unregistered source {key!r} in {text!r} (known: {known})")
    raise ValueError(
        f"{where}: unknown provenance tag {text!r} (capture, source:KEY, weak:KEY or model)"
    )


def _unwrap(key: str, value: Any, origin: str) -> tuple[Any, Provenance]:
    """A file's value → (the value, its provenance): ``{ value = …, from = "TAG" }`` or bare."""
    if not isinstance(value, dict):
        return value, UNTAGGED
    if sorted(value) != ["from", "value"]:
        raise ValueError(f'{origin}: {key} must be a value or {{ value = …, from = "TAG" }}')
    return value["value"], parse_tag(value["from"], f"{origin}: {key}")


# ----------------------------------------------------------------------------- the files


def _package_dir() -> Traversable:
    return resources.files("protocols.mspa").joinpath("models")


def available_models() -> list[str]:
    """Names of the packaged model files, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _package_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def _read_document(name_or_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str, str]:
    """(the parsed file, its name in messages, its name in provenance entries)."""
    text = os.fspath(name_or_path)
    if text in available_models():
        data = _package_dir().joinpath(f"{text}.toml").read_text(encoding="utf-8")
        origin, label = f"profile {text!r}", text
    elif isinstance(name_or_path, os.PathLike) or text.endswith(".toml") or os.sep in text:
        origin = label = str(Path(text))
        data = read_text_file(text, "profile file")  # InputFileError: a one-line ValueError
    else:
        known = ", ".join(available_models())
        raise ValueError(f"unknown profile {text!r}: known profiles are {known} (or a .toml path)")
    return parse_toml(data, origin), origin, label


def _flatten(
    document: dict[str, Any], origin: str, label: str, known: Collection[str] | None
) -> dict[str, ProvenanceEntry]:
    """``{"heater": {"stage1_w": 1}}`` → ``{"heater_stage1_w": entry}``; keys not in
    ``known`` are errors (``known=None``: every key is accepted)."""
    flat: dict[str, ProvenanceEntry] = {}
    for key, value in document.items():
        if key == "base":
            continue
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ValueError(f"{origin}: [{key}] must be a table")
            for inner, inner_value in value.items():
                flat_key = f"{key}_{inner}"
                written, provenance = _unwrap(f"[{key}] {inner}", inner_value, origin)
                flat[flat_key] = ProvenanceEntry(flat_key, written, provenance, label)
        else:
            written, provenance = _unwrap(key, value, origin)
            flat[key] = ProvenanceEntry(key, written, provenance, label)
    if known is not None:
        unknown = sorted(set(flat) - set(known))
        if unknown:
            raise ValueError(f"{origin}: unknown profile keys {', '.join(unknown)}")
    return flat


def _resolve(
    name_or_path: str | os.PathLike[str], seen: tuple[str, ...], known: Collection[str] | None
) -> dict[str, ProvenanceEntry]:
    document, origin, label = _read_document(name_or_path)
    base = document.get("base")
    merged: dict[str, ProvenanceEntry] = {}
    if base is not None:
        if not isinstance(base, str):
            raise ValueError(f"{origin}: base must be a profile name")
        if base in seen:
            raise ValueError(f"{origin}: base profiles form a loop ({' → '.join((*seen, base))})")
        merged = _resolve(base, (*seen, base), known)
    merged.update(_flatten(document, origin, label, known))
    return merged


def read_model_values(
    name_or_path: str | os.PathLike[str], known: Collection[str] | None = None
) -> dict[str, Any]:
    """Every key of a model file (packaged name or ``.toml`` path), its bases' included, as
    written (unconverted). ``ValueError`` for an unknown name, an unreadable file, a base
    loop, or a key not in ``known`` (when given)."""
    entries = _resolve(name_or_path, (os.fspath(name_or_path),), known)
    return {key: entry.value for key, entry in entries.items()}


def model_provenance(name_or_path: str | os.PathLike[str]) -> list[ProvenanceEntry]:
    """Every key of a model (packaged name or ``.toml`` path), its bases' included: its value
    as written, its provenance and the file that set it, in file order (the base's keys
    first, each in the place its first writer gave it). Judges keys and tags like
    :func:`load_model` but not the values (load the model for that)."""
    entries = _resolve(name_or_path, (os.fspath(name_or_path),), MODEL_KEYS)
    return list(entries.values())


def _convert(key: str, value: Any, kind: str) -> Any:
    """TOML value → the field's type; ``ValueError`` naming the key when it cannot be."""
    if kind == "str":
        if isinstance(value, str):
            return value
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind == "tuple[str, ...]":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif (
        isinstance(value, list)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and (kind == "tuple[float, ...]" or len(value) == 3)
    ):
        return tuple(float(v) for v in value)
    raise ValueError(f"{key} must be {kind}, got {value!r}")


def typed_values(
    name_or_path: str | os.PathLike[str], values: Mapping[str, Any], fields: Mapping[str, str]
) -> dict[str, Any]:
    """The ``fields`` (name → type) of a model file's ``values``, each converted to its type;
    ``ValueError`` naming what is missing or of the wrong type."""
    missing = sorted(set(fields) - set(values))
    if missing:
        raise ValueError(
            f"profile {os.fspath(name_or_path)!r} lacks {', '.join(missing)} "
            '(start it with base = "premium-4" to inherit the rest)'
        )
    return {key: _convert(key, values[key], kind) for key, kind in fields.items()}


def load_model(name_or_path: str | os.PathLike[str]) -> ModelPlate:
    """A packaged model by name, or a user model file from a ``.toml`` path: its plate.

    The simulator's keys in the file are not read here (:mod:`spasim.profiles` checks them),
    but a key that is neither a plate fact nor a simulator key is refused by name.
    ``ValueError`` lists the known names for an unknown one, and names the key for a bad value.
    """
    values = read_model_values(name_or_path, known=MODEL_KEYS)
    return ModelPlate(**typed_values(name_or_path, values, PLATE_FIELDS))
