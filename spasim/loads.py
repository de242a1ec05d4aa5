"""Which loads draw power, and how much, given what the firmware drives and what is broken.

This is the hardware between the firmware's relays and the mains meter: a pure function of
the region states and the injected faults, so the board's accounting and the fault
signatures of SPEC §5 ("filter on: no pump draw", "heater draw with heater off") can be
read and tested in one place.
"""

from __future__ import annotations

from collections.abc import Set
from typing import NamedTuple

from protocols.mspa import FlowSwitches
from spasim.profiles import Profile
from spasim.regions import STAGE1, STAGE2


class Loads(NamedTuple):
    """Watts per load; ``standby`` is the power board and panel themselves."""

    heater: float = 0.0
    filter: float = 0.0
    blower: float = 0.0
    ozone: float = 0.0
    uvc: float = 0.0
    jets: float = 0.0
    standby: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.heater
            + self.filter
            + self.blower
            + self.ozone
            + self.uvc
            + self.jets
            + self.standby
        )


NO_FLOW = FlowSwitches(False, False)
BOTH_CLOSED = FlowSwitches(True, True)


def flow_switches(faults: Set[str], pump_driven: bool) -> FlowSwitches:
    """The heating loop's two reed switches (inlet = 0x08 bit 0, outlet = bit 1): each closed
    by the water the filter pump moves, or stuck.

    ``flow-switch-stuck-closed`` (both stuck closed) wins over a single switch's stuck-open
    fault: a switch cannot be stuck both ways, and the catalogue's older fault names both.
    """
    if "flow-switch-stuck-closed" in faults:
        return BOTH_CLOSED
    if not pump_driven or "filter-pump-dead" in faults or "flow-switch-stuck-open" in faults:
        return NO_FLOW
    return FlowSwitches(
        "inlet-flow-switch-stuck-open" not in faults,
        "outlet-flow-switch-stuck-open" not in faults,
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
    jets_on: bool = False,
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
        jets=p.jets_w if jets_on and "jet-pump-dead" not in faults else 0.0,
        standby=p.standby_w if supplied and "transformer-dead" not in faults else 0.0,
    )
