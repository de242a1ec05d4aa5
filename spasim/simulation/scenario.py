"""What ``spasim simulate`` runs: a :class:`Scenario` and the checks that it can run.

Times in a scenario are minutes after mains on (as a person plans them: "bubbles after half
an hour"); the trace is in seconds. Construction checks everything (``_scenario_problem``)
and raises ``ValueError`` with one line naming the culprit, so the command line can refuse a
typo before hours of simulated time are spent on it. The ranges here are the simulator's
limits; ``spasim serve`` takes its water and air ranges from here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from spasim.faults import parse_fault
from spasim.profiles import Profile, load_profile

DEFAULT_PROFILE = "premium-4"
DEFAULT_SAMPLE_S = 10.0
MAX_HOURS = 24.0 * 366
"""A year: beyond that the lumped water model says nothing new."""
MAX_ROWS = 1_000_000
"""Sample rows a run may produce (memory for the trace and the plot stays in the 100 MB
range); a longer run needs a longer sample period."""
AMBIENT_RANGE_C = (-30.0, 50.0)
WATER_RANGE_C = (0.0, 99.0)
"""Liquid water; the over-temperature lock-out is part of what can be simulated."""
SEED_RANGE = (0, 2**32 - 1)
"""Seeds the noise generators take (a negative seed used to crash mid-run)."""


@dataclass(frozen=True, slots=True)
class LidOff:
    """The lid is off from ``start_min`` until ``end_min`` (None: until the end)."""

    start_min: float
    end_min: float | None = None


@dataclass(frozen=True, slots=True)
class TimedFault:
    """A catalogue fault (``id`` or ``id:mode``) that appears ``at_min`` into the run."""

    fault: str
    at_min: float = 0.0


def _default_profile() -> Profile:
    return load_profile(DEFAULT_PROFILE)


@dataclass(frozen=True)
class Scenario:
    """What to simulate: a box with the panel's heater and filter keys on.

    ``setpoint`` defaults to the profile's power-on set-point; ``water_c`` to ``ambient_c``.
    ``bubbles_at`` / ``ozone_at`` are key presses (minutes); each press does what the key
    does (bubbles step off → 1 → 2 → 3 → off, ozone toggles). Construction checks
    everything and raises ``ValueError`` with one line naming the culprit.
    """

    hours: float
    profile: Profile = field(default_factory=_default_profile)
    setpoint: int | None = None
    ambient_c: float = 20.0
    water_c: float | None = None
    seed: int = 0
    faults: tuple[TimedFault, ...] = ()
    bubbles_at: tuple[float, ...] = ()
    ozone_at: tuple[float, ...] = ()
    lid_off: tuple[LidOff, ...] = ()
    sample_s: float = DEFAULT_SAMPLE_S

    def __post_init__(self) -> None:
        problem = _scenario_problem(self)
        if problem:
            raise ValueError(problem)

    @property
    def target_c(self) -> int:
        """The set-point the panel holds."""
        return self.profile.setpoint_default_c if self.setpoint is None else self.setpoint

    @property
    def start_water_c(self) -> float:
        return self.ambient_c if self.water_c is None else self.water_c

    @property
    def seconds(self) -> float:
        return self.hours * 3600.0

    def describe(self) -> str:
        """One line for titles and the summary: profile and every parameter that matters."""
        parts = [
            f"{self.profile.name}",
            f"{self.hours:g} h",
            f"set-point {self.target_c} °C",
            f"water {self.start_water_c:g} °C",
            f"ambient {self.ambient_c:g} °C",
            f"seed {self.seed}",
        ]
        if self.bubbles_at:
            parts.append("bubbles at " + ", ".join(f"{m:g}" for m in self.bubbles_at) + " min")
        if self.ozone_at:
            parts.append("ozone at " + ", ".join(f"{m:g}" for m in self.ozone_at) + " min")
        for lid in self.lid_off:
            end = "end" if lid.end_min is None else f"{lid.end_min:g}"
            parts.append(f"lid off {lid.start_min:g}–{end} min")
        for fault in self.faults:
            when = f" at {fault.at_min:g} min" if fault.at_min else ""
            parts.append(f"fault {fault.fault}{when}")
        return ", ".join(parts)


def _scenario_problem(s: Scenario) -> str:
    """The first thing wrong with ``s`` (empty when it can run)."""
    if not (s.hours > 0 and math.isfinite(s.hours)) or s.hours > MAX_HOURS:
        return f"hours must be more than 0 and at most {MAX_HOURS:g}, got {s.hours:g}"
    if not (s.sample_s > 0 and math.isfinite(s.sample_s)):
        return f"sample period must be a positive number of seconds, got {s.sample_s:g}"
    if s.seconds / s.sample_s > MAX_ROWS:
        return (
            f"{s.hours:g} h at one sample every {s.sample_s:g} s is more than {MAX_ROWS:,} rows: "
            "use a longer sample period"
        )
    p = s.profile
    if s.setpoint is not None and not p.setpoint_min_c <= s.setpoint <= p.setpoint_max_c:
        return (
            f"set-point must be {p.setpoint_min_c}–{p.setpoint_max_c} °C on {p.name}, "
            f"got {s.setpoint}"
        )
    low, high = AMBIENT_RANGE_C
    if not low <= s.ambient_c <= high:
        return f"ambient must be {low:g}–{high:g} °C, got {s.ambient_c:g}"
    low, high = WATER_RANGE_C
    if s.water_c is not None and not low <= s.water_c <= high:
        return f"water must be {low:g}–{high:g} °C, got {s.water_c:g}"
    minutes = s.hours * 60.0
    times: list[tuple[str, float]] = [("--bubbles-at", m) for m in s.bubbles_at]
    times += [("--ozone-at", m) for m in s.ozone_at]
    times += [("--fault", f.at_min) for f in s.faults]
    for lid in s.lid_off:
        times.append(("--lid-off-at", lid.start_min))
        if lid.end_min is not None:
            if not lid.end_min > lid.start_min:
                return f"--lid-off-at: the lid must go back on after it came off ({lid})"
            times.append(("--lid-off-at", lid.end_min))
    for option, at in times:
        if not 0.0 <= at <= minutes:
            return f"{option} {at:g} min is outside the run (0–{minutes:g} min)"
    for fault in s.faults:
        try:
            parse_fault(fault.fault)
        except ValueError as error:
            return str(error)
    return ""
