"""Water physics: the lumped model of SPEC §4, solved in closed form so time can jump.

``C·dT/dt = P_heater − UA·(T − T_amb) − P_loss`` with constant inputs between events has the
solution ``T(t) = T_eq + (T0 − T_eq)·exp(−t·UA/C)`` where ``T_eq = T_amb + (P_heater −
P_loss)/UA``. Nothing here steps through time: a board asks for the temperature *at* an
instant (the scalar :class:`Water`, one ``exp`` per sensor poll). This is the world's
truth: the firmware never reads it directly, only through its noisy sensor (:class:`SensorNoise`,
see :mod:`spasim.overtemp` for why its margin keeps the true water below 42 °C).

:func:`settle` is the one formula; the scalar path passes ``math.exp`` (no array overhead per
report) and the fleet benchmark (``benchmarks/sim.py``) passes ``np.exp`` to advance many
boards in one call.
Sensor noise comes from a seeded numpy ``Generator`` drawn in blocks, so a run is
reproducible from its seed and a report costs a list pop, not a numpy call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

SPECIFIC_HEAT_J_PER_KG_K = 4186.0
"""Water; one litre is taken as one kilogram."""

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T", float, FloatArray)


def capacity_j_per_k(litres: float) -> float:
    """Heat capacity C of ``litres`` of water (1 L = 1 kg)."""
    return litres * SPECIFIC_HEAT_J_PER_KG_K


def effective_ua(
    ua_w_per_k: float, lid_on: bool, bubbling: bool, lid_factor: float, blower_factor: float
) -> float:
    """UA with the lid off (× lid factor) and bubbles running (× blower factor) applied."""
    ua = ua_w_per_k
    if not lid_on:
        ua *= lid_factor
    if bubbling:
        ua *= blower_factor
    return ua


def equilibrium(ambient_c: T, heater_w: T, loss_w: T, ua_w_per_k: T) -> T:
    """The temperature the water tends to with these inputs held: ``T_amb + (P − P_loss)/UA``."""
    return ambient_c + (heater_w - loss_w) / ua_w_per_k


def settle(temp0: T, equilibrium_c: T, rate: T, dt: T, exp: Callable[[Any], Any] = math.exp) -> T:
    """Temperature ``dt`` seconds after ``temp0`` with ``rate = UA/C``: the closed form.

    ``exp`` is ``math.exp`` for one board or ``np.exp`` for arrays of boards: one formula.
    """
    result: T = equilibrium_c + (temp0 - equilibrium_c) * exp(-rate * dt)
    return result


class Water:
    """One board's water: inputs change at events, the temperature is computed when asked.

    The state is the temperature ``temp_ref`` at time ``t_ref`` and the inputs in force since;
    :meth:`update` re-anchors at *now* before changing an input, so the curve stays continuous.
    """

    __slots__ = (
        "ambient_c",
        "blower_factor",
        "bubbling",
        "capacity",
        "equilibrium_c",
        "heater_w",
        "lid_factor",
        "lid_on",
        "loss_w",
        "rate",
        "t_ref",
        "temp_ref",
        "ua_base",
    )

    def __init__(
        self,
        litres: float,
        temp_c: float,
        ambient_c: float,
        ua_w_per_k: float,
        *,
        lid_factor: float = 1.5,
        blower_factor: float = 2.0,
        now: float = 0.0,
    ) -> None:
        if not litres > 0:
            raise ValueError(f"water volume must be positive, got {litres} L")
        self.capacity = capacity_j_per_k(litres)
        self.ua_base = ua_w_per_k
        self.lid_factor = lid_factor
        self.blower_factor = blower_factor
        self.ambient_c = float(ambient_c)
        self.heater_w = 0.0
        self.loss_w = 0.0
        self.lid_on = True
        self.bubbling = False
        self.t_ref = now
        self.temp_ref = float(temp_c)
        self.rate = 0.0
        self.equilibrium_c = 0.0
        self._derive()

    def _derive(self) -> None:
        ua = effective_ua(
            self.ua_base, self.lid_on, self.bubbling, self.lid_factor, self.blower_factor
        )
        self.rate = ua / self.capacity
        self.equilibrium_c = equilibrium(self.ambient_c, self.heater_w, self.loss_w, ua)

    def at(self, now: float) -> float:
        """The true water temperature at ``now`` (≥ the last update)."""
        return settle(self.temp_ref, self.equilibrium_c, self.rate, now - self.t_ref)

    def update(
        self,
        now: float,
        *,
        temp_c: float | None = None,
        ambient_c: float | None = None,
        heater_w: float | None = None,
        loss_w: float | None = None,
        lid_on: bool | None = None,
        bubbling: bool | None = None,
    ) -> None:
        """Re-anchor at ``now`` and change the given inputs (``temp_c`` overrides the water)."""
        self.temp_ref = self.at(now) if temp_c is None else float(temp_c)
        self.t_ref = now
        if ambient_c is not None:
            self.ambient_c = float(ambient_c)
        if heater_w is not None:
            self.heater_w = heater_w
        if loss_w is not None:
            self.loss_w = loss_w
        if lid_on is not None:
            self.lid_on = lid_on
        if bubbling is not None:
            self.bubbling = bubbling
        self._derive()


class SensorNoise:
    """Reproducible, clipped Gaussian sensor noise: one float per call.

    Draws ``block`` values at a time from ``numpy.random.default_rng((seed, stream))`` so the
    per-report cost is a list pop. ``stream`` separates independent uses of one seed (sensor
    noise vs. link corruption) so enabling one does not shift the other.
    """

    __slots__ = ("_block", "_clip", "_pool", "_rng", "_sigma")

    def __init__(
        self, seed: int, sigma: float, clip: float, *, stream: int = 0, block: int = 4096
    ) -> None:
        self._rng = np.random.default_rng((seed, stream))
        self._sigma = sigma
        self._clip = clip
        self._block = block
        self._pool: list[float] = []

    def __call__(self) -> float:
        pool = self._pool
        if not pool:
            draws = (
                self._rng.normal(0.0, self._sigma, self._block)
                if self._sigma > 0
                else (np.zeros(self._block))
            )
            pool.extend(np.clip(draws, -self._clip, self._clip)[::-1].tolist())
        return pool.pop()
