"""One virtual box on a simulated cable and clock: the rig every in-process user starts from.

The ``spasim simulate`` recorder, the pytest plugin's ``virtual_box`` fixture, the bench's
virtual target and the simulator benchmark all need the same assembly — a
:class:`~protocols.clock.Scheduler`, a :class:`~protocols.driver.SimulatedDriver` that runs
it, a :class:`~protocols.ports.SimCable` on it and a :class:`~spasim.board.VirtualBox` on
the cable's box end — so it is built here, once. What plugs into the free ``remote`` end
(a virtual panel, the bench playing the remote, a test sending bytes) is each user's own
business: this module knows nothing about them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from protocols.clock import Scheduler
from protocols.driver import SimulatedDriver
from protocols.ports import CableEnd, SimCable
from spasim.board import VirtualBox
from spasim.profiles import Profile


@dataclass
class BoxRig:
    """A virtual box on one end of a simulated cable, everything on one simulated clock."""

    scheduler: Scheduler
    driver: SimulatedDriver
    """Runs the scheduler: ``sleep``/``wait_until`` move simulated time, not wall time."""
    cable: SimCable
    box: VirtualBox

    @property
    def port(self) -> CableEnd:
        """The cable's free end, where a remote (or the bench, or a test) plugs in."""
        return self.cable.remote


def build_box_rig(
    profile: Profile | str | os.PathLike[str] = "premium-4",
    *,
    seed: int = 0,
    faults: Iterable[str] = (),
    water_c: float | None = None,
    ambient_c: float = 20.0,
    tank_litres: float | None = None,
    mains_on: bool = True,
) -> BoxRig:
    """A fresh clock, a cable on it and a :class:`VirtualBox` plugged into its box end.

    The keywords are the box's own (see :class:`~spasim.board.VirtualBox`); with
    ``mains_on`` the box starts booting at time 0.
    """
    scheduler = Scheduler()
    driver = SimulatedDriver(scheduler)
    cable = SimCable(scheduler)
    box = VirtualBox(
        scheduler,
        cable.box,
        profile,
        seed=seed,
        faults=tuple(faults),
        water_c=water_c,
        ambient_c=ambient_c,
        tank_litres=tank_litres,
        mains_on=mains_on,
    )
    return BoxRig(scheduler, driver, cable, box)
