"""Board profiles: every per-model number of the simulator as TOML data, loaded into a frozen
:class:`Profile`.

Why data and not code: most figures are [model] choices (SPEC §2–§4) that a service partner
may want to change for a box we have not measured. A profile file is flat TOML grouped in
sections (``[heater] stage1_w`` becomes the field ``heater_stage1_w``) and may start from
another with ``base = "premium-4"``, repeating only what differs. The packaged profiles live
next to this module in ``spasim/profiles/*.toml``; a user file is loaded by path the same way.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from protocols.files import parse_toml, read_text_file
from spasim.overtemp import minimum_margin_c

UVC_VARIANT_A = 0x15
"""UVC enable code on a variant A box."""
UVC_VARIANT_B = 0x10
"""UVC enable code on a variant B box (shared with the power-on 0x10 exchange)."""

_SECTIONS = (
    "heater",
    "filter",
    "blower",
    "ozone",
    "uvc",
    "setpoint",
    "thermal",
    "link",
    "boot",
    "sensor",
)


@dataclass(frozen=True, slots=True)
class Profile:
    """One control-box model: loads, water, timings and limits (field per TOML key)."""

    name: str
    model: str
    water_litres: float
    mains_voltage_v: float
    standby_w: float
    heater_stage1_w: float
    heater_stage2_w: float
    heater_stage1_s: float
    heater_overtemp_cut_c: float
    heater_overtemp_recover_c: float
    heater_overtemp_margin_c: float
    filter_pump_w: float
    blower_level_w: tuple[float, float, float]
    blower_auto_off_min: float
    blower_loss_w: float
    ozone_fitted: bool
    ozone_w: float
    ozone_auto_off_h: float
    uvc_fitted: bool
    uvc_w: float
    uvc_command: int
    uvc_auto_off_h: float
    setpoint_min_c: int
    setpoint_max_c: int
    setpoint_default_c: int
    thermal_ua_w_per_k: float
    thermal_lid_off_factor: float
    thermal_blower_factor: float
    thermal_min_litres: float
    link_watchdog_s: float
    link_report_period_s: float
    link_flow_offset_s: float
    boot_frame_09_s: float
    boot_frame_07_s: float
    boot_first_temperature_s: float
    sensor_noise_sigma_c: float
    sensor_noise_clip_c: float
    sensor_poll_s: float

    def __post_init__(self) -> None:
        problems = _problems(self)
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
        return "A" if self.uvc_command == UVC_VARIANT_A else "B"

    def blower_w(self, level: int) -> float:
        """Electrical power of the blower at ``level`` (0 = off)."""
        return 0.0 if level <= 0 else self.blower_level_w[level - 1]


RANGES: dict[str, tuple[float, float, str]] = {
    "water_litres": (1, 5000, "L"),
    "mains_voltage_v": (90, 260, "V"),
    "standby_w": (0, 200, "W"),
    "heater_stage1_w": (1, 6000, "W"),
    "heater_stage2_w": (1, 6000, "W"),
    "heater_stage1_s": (0, 3600, "s"),
    "heater_overtemp_cut_c": (0, 100, "°C"),
    "heater_overtemp_recover_c": (0, 100, "°C"),
    "filter_pump_w": (1, 1000, "W"),
    "blower_level_w": (1, 5000, "W"),
    "blower_auto_off_min": (0.1, 1440, "min"),
    "blower_loss_w": (0, 5000, "W"),
    "ozone_w": (0, 500, "W"),
    "ozone_auto_off_h": (0.01, 48, "h"),
    "uvc_w": (0, 500, "W"),
    "uvc_auto_off_h": (0.01, 48, "h"),
    "setpoint_min_c": (0, 60, "°C"),
    "setpoint_max_c": (0, 60, "°C"),
    "setpoint_default_c": (0, 60, "°C"),
    "thermal_ua_w_per_k": (0.01, 1000, "W/K"),
    "thermal_lid_off_factor": (0.01, 100, ""),
    "thermal_blower_factor": (0.01, 100, ""),
    "link_watchdog_s": (0.1, 3600, "s"),
    "link_report_period_s": (0.01, 60, "s"),
    "link_flow_offset_s": (0, 60, "s"),
    "boot_frame_09_s": (0, 600, "s"),
    "boot_frame_07_s": (0, 600, "s"),
    "boot_first_temperature_s": (0, 600, "s"),
    "sensor_noise_sigma_c": (0, 5, "°C"),
    "sensor_noise_clip_c": (0, 10, "°C"),
    "sensor_poll_s": (0.01, 60, "s"),
    "heater_overtemp_margin_c": (0, 20, "°C"),
    "thermal_min_litres": (0, 5000, "L"),
}
"""Physical range of every numeric profile field (low, high, unit), inclusive.

Wide enough for any inflatable spa's control box, narrow enough that a typo (``1e308`` W,
``inf`` seconds, ``nan``) is refused with the field's name instead of overflowing or
freezing the simulation later.
"""


def _out_of_range(p: Profile) -> list[str]:
    problems = []
    for field, (low, high, unit) in RANGES.items():
        value = getattr(p, field)
        for item in value if isinstance(value, tuple) else (value,):
            if not (math.isfinite(item) and low <= item <= high):
                problems.append(f"{field} must be {low:g}–{high:g} {unit}".rstrip())
                break
    return problems


def _problems(p: Profile) -> list[str]:
    """Everything in ``p`` that would make a box behave impossibly (empty when fine)."""
    problems = []
    positive = (
        "water_litres",
        "mains_voltage_v",
        "heater_stage1_w",
        "heater_stage2_w",
        "filter_pump_w",
        "blower_auto_off_min",
        "ozone_auto_off_h",
        "uvc_auto_off_h",
        "thermal_ua_w_per_k",
        "thermal_lid_off_factor",
        "thermal_blower_factor",
        "link_watchdog_s",
        "link_report_period_s",
        "thermal_min_litres",
        "sensor_poll_s",
    )
    for field in positive:
        if not getattr(p, field) > 0:
            problems.append(f"{field} must be positive")
    for field in ("standby_w", "heater_stage1_s", "blower_loss_w", "ozone_w", "uvc_w"):
        if getattr(p, field) < 0:
            problems.append(f"{field} must not be negative")
    if len(p.blower_level_w) != 3 or any(w <= 0 for w in p.blower_level_w):
        problems.append("blower level_w needs three positive powers (levels 1–3)")
    if p.uvc_command not in (UVC_VARIANT_A, UVC_VARIANT_B):
        problems.append(
            f"uvc command must be 0x15 (variant A) or 0x10 (variant B), got {p.uvc_command:#x}"
        )
    if not p.setpoint_min_c <= p.setpoint_default_c <= p.setpoint_max_c:
        problems.append("set-point needs min_c <= default_c <= max_c")
    if not p.heater_overtemp_recover_c < p.heater_overtemp_cut_c:
        problems.append("heater overtemp_recover_c must be below overtemp_cut_c")
    if not 0 < p.boot_frame_09_s <= p.boot_frame_07_s < p.boot_first_temperature_s:
        problems.append("boot needs 0 < frame_09_s <= frame_07_s < first_temperature_s")
    if not 0 <= p.link_flow_offset_s < p.link_report_period_s:
        problems.append("link flow_offset_s must be within one report period")
    if p.sensor_noise_sigma_c < 0 or p.sensor_noise_clip_c < 0:
        problems.append("sensor noise figures must not be negative")
    if p.thermal_min_litres > p.water_litres:
        problems.append("thermal min_litres must not exceed water_litres")
    if p.thermal_min_litres > 0 and p.sensor_poll_s > 0:
        needed = minimum_margin_c(
            p.sensor_noise_clip_c,
            max(p.heater_stage1_w, p.heater_stage2_w),
            p.thermal_min_litres,
            p.sensor_poll_s,
        )
        if not p.heater_overtemp_margin_c >= needed:
            problems.append(
                f"heater overtemp_margin_c must be at least {needed:.3f} °C (sensor noise clip"
                " + half a 0.5 °C step + the fastest rise in min_litres over one sensor poll)"
            )
    return problems + _out_of_range(p)


_FIELD_TYPES = {field.name: field.type for field in dataclasses.fields(Profile)}


def _convert(key: str, value: Any) -> Any:
    """TOML value → the field's type; ``ValueError`` naming the key when it cannot be."""
    kind = _FIELD_TYPES[key]
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
    elif (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return tuple(float(v) for v in value)
    raise ValueError(f"{key} must be {kind}, got {value!r}")


def _flatten(document: dict[str, Any], origin: str) -> dict[str, Any]:
    """``{"heater": {"stage1_w": 1}}`` → ``{"heater_stage1_w": 1}``; unknown keys are errors."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if key == "base":
            continue
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ValueError(f"{origin}: [{key}] must be a table")
            for inner, inner_value in value.items():
                flat[f"{key}_{inner}"] = inner_value
        else:
            flat[key] = value
    unknown = sorted(set(flat) - set(_FIELD_TYPES))
    if unknown:
        raise ValueError(f"{origin}: unknown profile keys {', '.join(unknown)}")
    return flat


def _package_dir() -> Any:
    return resources.files("spasim").joinpath("profiles")


def available_profiles() -> list[str]:
    """Names of the packaged profiles, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _package_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def _read_document(name_or_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    text = os.fspath(name_or_path)
    if text in available_profiles():
        data = _package_dir().joinpath(f"{text}.toml").read_text(encoding="utf-8")
        origin = f"profile {text!r}"
    elif isinstance(name_or_path, os.PathLike) or text.endswith(".toml") or os.sep in text:
        origin = str(Path(text))
        data = read_text_file(text, "profile file")  # InputFileError: a one-line ValueError
    else:
        known = ", ".join(available_profiles())
        raise ValueError(f"unknown profile {text!r}: known profiles are {known} (or a .toml path)")
    return parse_toml(data, origin), origin


def _resolve(name_or_path: str | os.PathLike[str], seen: tuple[str, ...]) -> dict[str, Any]:
    document, origin = _read_document(name_or_path)
    base = document.get("base")
    merged: dict[str, Any] = {}
    if base is not None:
        if not isinstance(base, str):
            raise ValueError(f"{origin}: base must be a profile name")
        if base in seen:
            raise ValueError(f"{origin}: base profiles form a loop ({' → '.join((*seen, base))})")
        merged = _resolve(base, (*seen, base))
    merged.update(_flatten(document, origin))
    return merged


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """A packaged profile by name, or a user profile from a ``.toml`` path.

    ``ValueError`` lists the known names for an unknown one, and names the key for a bad value.
    """
    flat = _resolve(name_or_path, (os.fspath(name_or_path),))
    missing = sorted(set(_FIELD_TYPES) - set(flat))
    if missing:
        raise ValueError(
            f"profile {os.fspath(name_or_path)!r} lacks {', '.join(missing)} "
            '(start it with base = "premium-4" to inherit the rest)'
        )
    values = {key: _convert(key, value) for key, value in flat.items()}
    return Profile(**values)


def resolve_profile(profile: Profile | str | os.PathLike[str]) -> Profile:
    """A :class:`Profile` as is, anything else through :func:`load_profile`."""
    return profile if isinstance(profile, Profile) else load_profile(profile)
