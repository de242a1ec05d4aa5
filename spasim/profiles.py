"""Board profiles: every per-model number of the simulator as TOML data, loaded into a frozen
:class:`Profile`.

Why data and not code: most figures are [model] choices (SPEC §2–§4) that a service partner
may want to change for a box we have not measured. A profile is a model file of
:mod:`protocols.mspa.models` (``protocols/mspa/models/*.toml``, or a user file by path): the
same file gives the bench a model's plate and wire facts (:class:`~protocols.mspa.models.
ModelPlate`) and the simulator its figures here — watts, water, physics, timings — so no
fact is written twice. The file format (sections, ``base = "premium-4"`` inheritance, type
conversion) and the plate's own checks live there; this module adds the simulator's fields
and the checks that keep a simulated box physically possible.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from protocols.mspa.models import (
    PLATE_FIELDS,
    PLATE_RANGES,
    UVC_VARIANT_A,
    UVC_VARIANT_B,
    ModelPlate,
    available_models,
    plate_problems,
    range_problems,
    read_model_values,
    typed_values,
)
from spasim.overtemp import minimum_margin_c

__all__ = [
    "RANGES",
    "UVC_VARIANT_A",
    "UVC_VARIANT_B",
    "Profile",
    "available_profiles",
    "load_profile",
    "resolve_profile",
]


@dataclass(frozen=True, slots=True)
class Profile(ModelPlate):
    """One control-box model: its plate and wire facts (:class:`ModelPlate`, inherited) and
    the simulator's figures — loads, water, physics, sensor (field per TOML key)."""

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
    blower_loss_w: float
    jets_w: float
    ozone_w: float
    uvc_w: float
    thermal_ua_w_per_k: float
    thermal_lid_off_factor: float
    thermal_blower_factor: float
    thermal_min_litres: float
    sensor_noise_sigma_c: float
    sensor_noise_clip_c: float
    sensor_poll_s: float

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(f"profile {self.name!r}: " + "; ".join(problems))

    @property
    def plate(self) -> ModelPlate:
        """This model's plate and wire facts (what the bench knows of a real box)."""
        return ModelPlate(**{field: getattr(self, field) for field in PLATE_FIELDS})

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
    "blower_loss_w": (0, 5000, "W"),
    "ozone_w": (0, 500, "W"),
    "uvc_w": (0, 500, "W"),
    "jets_w": (0, 3000, "W"),
    "thermal_ua_w_per_k": (0.01, 1000, "W/K"),
    "thermal_lid_off_factor": (0.01, 100, ""),
    "thermal_blower_factor": (0.01, 100, ""),
    "sensor_noise_sigma_c": (0, 5, "°C"),
    "sensor_noise_clip_c": (0, 10, "°C"),
    "sensor_poll_s": (0.01, 60, "s"),
    "heater_overtemp_margin_c": (0, 20, "°C"),
    "thermal_min_litres": (0, 5000, "L"),
    **PLATE_RANGES,
}
"""Physical range of every numeric profile field (low, high, unit), inclusive.

Wide enough for any inflatable spa's control box, narrow enough that a typo (``1e308`` W,
``inf`` seconds, ``nan``) is refused with the field's name instead of overflowing or
freezing the simulation later.
"""


def _problems(p: Profile) -> list[str]:
    """Everything in ``p`` that would make a box behave impossibly (empty when fine)."""
    problems = plate_problems(p)
    positive = (
        "water_litres",
        "mains_voltage_v",
        "heater_stage1_w",
        "heater_stage2_w",
        "filter_pump_w",
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
    for field in ("standby_w", "heater_stage1_s", "blower_loss_w", "ozone_w", "uvc_w", "jets_w"):
        if getattr(p, field) < 0:
            problems.append(f"{field} must not be negative")
    if len(p.blower_level_w) != 3 or any(w <= 0 for w in p.blower_level_w):
        problems.append("blower level_w needs three positive powers (levels 1–3)")
    if not p.heater_overtemp_recover_c < p.heater_overtemp_cut_c:
        problems.append("heater overtemp_recover_c must be below overtemp_cut_c")
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
    return problems + range_problems(p, _SIMULATION_RANGES)


_FIELD_TYPES = {field.name: str(field.type) for field in dataclasses.fields(Profile)}
_SIMULATION_RANGES = {key: limits for key, limits in RANGES.items() if key not in PLATE_FIELDS}
"""The ranges :func:`plate_problems` does not already check."""


def available_profiles() -> list[str]:
    """Names of the packaged profiles, sorted: every model file of :mod:`protocols.mspa.models`."""
    return available_models()


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """A packaged profile by name, or a user profile from a ``.toml`` path.

    ``ValueError`` lists the known names for an unknown one, and names the key for a bad value.
    """
    values = read_model_values(name_or_path, known=_FIELD_TYPES)
    return Profile(**typed_values(name_or_path, values, _FIELD_TYPES))


def resolve_profile(profile: Profile | str | os.PathLike[str]) -> Profile:
    """A :class:`Profile` as is, anything else through :func:`load_profile`."""
    return profile if isinstance(profile, Profile) else load_profile(profile)
