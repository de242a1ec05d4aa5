"""Which loads draw power, and how much, given what the firmware drives and what is broken.

This is the hardware between the firmware's relays and the mains meter: a pure function of
the region states and the injected faults, so the board's accounting and the fault
signatures of SPEC §5 ("filter on: no pump draw", "heater draw with heater off") can be
read and tested in one place.
"""

from __future__ import annotations

from collections.abc import Set
from typing import NamedTuple

from spasim.profiles import Profile
from spasim.regions import STAGE1, STAGE2


class Loads(NamedTuple):
    """Watts per load; ``standby`` is the power board and panel themselves."""

    heater: float = 0.0
    filter: float = 0.0
    blower: float = 0.0
    ozone: float = 0.0
    uvc: float = 0.0
    standby: float = 0.0

    @property
    def total(self) -> float:
        return self.heater + self.filter + self.blower + self.ozone + self.uvc + self.standby


def flow_switch_closed(faults: Set[str], pump_driven: bool) -> bool:
    """The heating loop's reed switch: closed by water flow, or stuck."""
    if "flow-switch-stuck-closed" in faults:
        return True
    return (
        pump_driven and "filter-pump-dead" not in faults and "flow-switch-stuck-open" not in faults
    )


def compute_loads(
    profile: Profile,
    faults: Set[str],
    *,
    supplied: bool,
    heater_state: str,
    pump_driven: bool,
    blower_level: int,
    ozone_on: bool,
    uvc_on: bool,
) -> Loads:
    """Loads drawing power now. ``supplied``: mains reaches the box through a closed PRCD;
    ``blower_level``: the level the firmware drives the blower at (0 = off)."""
    p = profile
    if "heater-open" in faults:
        heater = 0.0
    elif heater_state == STAGE1:
        heater = p.heater_stage1_w
    elif heater_state == STAGE2:
        heater = p.heater_stage2_w
    elif supplied and "heater-relay-welded" in faults:
        heater = p.heater_stage1_w  # the welded stage-1 contact is live whatever the firmware says
    else:
        heater = 0.0
    return Loads(
        heater=heater,
        filter=p.filter_pump_w if pump_driven and "filter-pump-dead" not in faults else 0.0,
        blower=p.blower_w(blower_level) if "blower-dead" not in faults else 0.0,
        ozone=p.ozone_w if ozone_on and "ozone-dead" not in faults else 0.0,
        uvc=p.uvc_w if uvc_on and "uvc-dead" not in faults else 0.0,
        standby=p.standby_w if supplied and "transformer-dead" not in faults else 0.0,
    )
