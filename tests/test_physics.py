"""Water physics: the closed form, its inverse and the sensor noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.sim import time_to_reach, water_time_to_reach

from spasim.physics import (
    SensorNoise,
    Water,
    capacity_j_per_k,
    equilibrium,
    settle,
)


def _euler(
    temp: float,
    ambient: float,
    heater_w: float,
    loss_w: float,
    ua: float,
    capacity: float,
    seconds: float,
    step: float = 1.0,
) -> float:
    """Brute-force integration of C·dT/dt = P − UA·(T − T_amb) − P_loss (the SPEC §4 ODE)."""
    for _ in range(int(seconds / step)):
        temp += step * (heater_w - ua * (temp - ambient) - loss_w) / capacity
    return temp


def test_capacity_of_700_litres() -> None:
    assert capacity_j_per_k(700) == pytest.approx(700 * 4186)


@pytest.mark.parametrize(
    ("temp", "ambient", "heater", "loss", "ua"),
    [(20.0, 20.0, 2000.0, 0.0, 12.0), (38.0, 5.0, 0.0, 0.0, 18.0), (30.0, 35.0, 0.0, 200.0, 24.0)],
)
def test_closed_form_matches_the_differential_equation(
    temp: float, ambient: float, heater: float, loss: float, ua: float
) -> None:
    capacity = capacity_j_per_k(700)
    eq = equilibrium(ambient, heater, loss, ua)
    exact = settle(temp, eq, ua / capacity, 6 * 3600.0)
    assert exact == pytest.approx(
        _euler(temp, ambient, heater, loss, ua, capacity, 6 * 3600), abs=1e-3
    )


def test_heating_rate_is_what_makers_claim() -> None:
    water = Water(700, 30.0, 20.0, 12.0)
    water.update(0.0, heater_w=2000.0)
    rise = water.at(3600.0) - 30.0
    assert 1.5 <= rise <= 2.5  # "1.5–2 °C/h", a little more in a well-insulated tub


def test_lid_and_bubbles_increase_the_losses() -> None:
    def loss_after_an_hour(**inputs: bool) -> float:
        water = Water(700, 38.0, 10.0, 12.0)
        water.update(0.0, **inputs)
        return 38.0 - water.at(3600.0)

    lid_on = loss_after_an_hour()
    lid_off = loss_after_an_hour(lid_on=False)
    bubbles = loss_after_an_hour(bubbling=True)
    assert lid_off == pytest.approx(1.5 * lid_on, rel=0.01)
    assert bubbles == pytest.approx(2.0 * lid_on, rel=0.01)


def test_update_keeps_the_curve_continuous() -> None:
    water = Water(700, 25.0, 20.0, 12.0)
    water.update(100.0, heater_w=2000.0)
    at_switch = water.at(100.0)
    water.update(100.0, heater_w=0.0)
    assert water.at(100.0) == at_switch
    water.update(200.0, temp_c=41.0)
    assert water.at(200.0) == 41.0


@pytest.mark.parametrize("target", [30.0, 39.5, 41.999999])
def test_time_to_reach_is_the_inverse(target: float) -> None:
    water = Water(20, 25.0, 20.0, 12.0)
    water.update(0.0, heater_w=2000.0)
    seconds = water_time_to_reach(water, 0.0, target)
    assert math.isfinite(seconds) and seconds > 0
    assert water.at(seconds) == pytest.approx(target, abs=1e-9)
    assert water.at(seconds * 0.999) < target


def test_time_to_reach_never_when_moving_away_or_beyond_equilibrium() -> None:
    assert time_to_reach(30.0, 20.0, 1e-4, 35.0) == math.inf  # cooling, target above
    assert time_to_reach(30.0, 40.0, 1e-4, 45.0) == math.inf  # beyond the equilibrium
    assert time_to_reach(30.0, 40.0, 1e-4, 40.0) == math.inf  # reached only asymptotically
    assert time_to_reach(30.0, 30.0, 1e-4, 31.0) == math.inf  # already at equilibrium
    assert time_to_reach(30.0, 40.0, 1e-4, 30.0) == 0.0
    assert time_to_reach(30.0, 20.0, 1e-4, 25.0) == pytest.approx(math.log(2) / 1e-4)


def test_sensor_noise_is_reproducible_and_clipped() -> None:
    first = SensorNoise(7, 0.1, 0.3, block=64)
    again = SensorNoise(7, 0.1, 0.3, block=64)
    other = SensorNoise(8, 0.1, 0.3, block=64)
    a = [first() for _ in range(1000)]
    assert a == [again() for _ in range(1000)]
    assert a != [other() for _ in range(1000)]
    assert max(abs(x) for x in a) <= 0.3
    assert 0.07 < float(np.std(a)) < 0.13
    wide = SensorNoise(7, 1.0, 0.3)
    assert max(abs(wide()) for _ in range(1000)) == 0.3


def test_noise_streams_are_independent() -> None:
    assert SensorNoise(1, 1.0, 5.0, stream=0)() != SensorNoise(1, 1.0, 5.0, stream=1)()


def test_zero_noise_is_zero() -> None:
    quiet = SensorNoise(1, 0.0, 0.3)
    assert [quiet() for _ in range(10)] == [0.0] * 10


def test_water_needs_a_volume() -> None:
    with pytest.raises(ValueError, match="positive"):
        Water(0, 20.0, 20.0, 12.0)
