"""The virtual control box: firmware, hardware and water behind one remote-cable port.

What it does (SPEC §3–§5): boots after mains on and sends the captured power-on frames,
answers the remote's handshake and keep-alive at once, reports the water temperature and the
flow switches every report period, obeys the remote's state frames within its own hard
limits, switches every load off when the remote goes silent, and misbehaves exactly as the
fault catalogue says when a fault is injected.

How it is put together, and why:

* **Regions** (:mod:`spasim.regions`): power/PRCD, filter pump (with its run-on), heater,
  blower, ozone, UVC, jets, the F1 flow error and the link watchdog are separate flat
  ``transitions`` machines, one shared machine per
  region type, so a board is a handful of plain objects. Every input — a frame, a timer, a
  world action, a fault — ends in :meth:`VirtualBox._settle`, which moves each follower
  region to its target state, recomputes the hardware, and repeats until nothing moves. One
  path for every input is what lets the invariants hold whatever order inputs arrive in.
* **Wire duties** (:class:`protocols.mspa.box.BoxDuty`, shared with the bench's box role):
  power-on frames, handshake and keep-alive replies, the report schedule and the model's
  extra frames, and the silence watchdog, all timed by the model plate. The firmware is the
  duty's owner: it answers what each report carries when it goes out (the 06 is a fresh
  sensor poll when the sensor is polled in step with it; the 08 is :meth:`_flow_parameter`)
  and judges every frame the duty hands it.
* **Command memory** (:mod:`spasim.remote_requests`) judges each frame (range, edges, auto-off);
  **loads** (:mod:`spasim.loads`) turn region states and faults into watts; the
  **over-temperature watch** (:mod:`spasim.overtemp`) latches on the firmware's own
  readings.
* **Firmware senses, the world is true**: the firmware decides only on what it can sense —
  its temperature sensor, polled every ``[sensor] poll_s`` (the noisy, 0.5 °C-quantised
  reading it also reports in ``06``; a reading stuck at a rail, 0.0 or 127.5 °C, is a failed
  sensor and locks the heater out), its two flow switches (inlet and outlet: the heater
  needs both closed; F1 latches when the pump is commanded and they are not) and the knob's
  reed switch. The water
  (:mod:`spasim.physics`, closed form) is the truth an observer may measure
  (:attr:`VirtualBox.water_c`); the over-temperature margin keeps it below 42 °C.
* **Time** is the shared :class:`~protocols.clock.Scheduler`: boot frames, periodic reports,
  sensor polls, stage 2, auto-offs and the watchdog are events — no threads, no wall clock —
  so the same box runs in a test that jumps through a day and behind a real-time server.
* **Driven vs energised**: :meth:`VirtualBox.driven` is what the firmware switches on,
  :meth:`VirtualBox.energised` what physically draws power; they differ only under faults.
  The SPEC §4 invariants hold on ``driven()`` always and on ``energised()`` unless a
  *hardware-bypass* fault is active (``heater-relay-welded``: the element is live whatever
  the firmware does; see :attr:`spasim.faults.FaultSpec.hardware_bypass`).
* **Hot path**: nothing is rebuilt between state changes. A report computes one ``exp`` and
  sends a precomputed frame; a repeated state frame is recognised by the command memory
  and never reaches a machine; the watchdog is one event per watchdog period, not one per
  frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from protocols.clock import Event, Periodic, Scheduler
from protocols.line_noise import LineNoise
from protocols.mspa import DecoderCounters, FlowSwitches
from protocols.mspa.box import BoxDuty, BoxPort, led_flags, status_parameter
from protocols.ports import Port
from protocols.sdm120 import MeterReading
from spasim.faults import Fault, parse_fault
from spasim.loads import NO_FLOW, Loads, compute_loads, flow_switches
from spasim.overtemp import OverTemperatureWatch
from spasim.physics import SensorNoise, Water
from spasim.profiles import Profile, resolve_profile
from spasim.regions import (
    BOOTING,
    DEAD,
    F1,
    FAILSAFE,
    IDLE,
    INFLATING,
    OFF,
    ON,
    PUMP_RUNNING,
    RUN_ON,
    RUNNING,
    STAGE1,
    STAGE2,
    TRIPPED,
    UNPOWERED,
    BlowerRegion,
    FlowErrorRegion,
    HeaterRegion,
    JetsRegion,
    PowerRegion,
    PumpRegion,
    Region,
    SanitiserRegion,
    WatchdogRegion,
)
from spasim.remote_requests import CHANGED, IGNORED, RESET, RemoteRequests

LOADS = Loads._fields
"""Names of the loads :meth:`VirtualBox.load_powers` reports, in a fixed order."""
SWITCHED_LOADS = LOADS[:-1]
"""The loads the firmware switches (all but ``standby``)."""
KNOB_POSITIONS = ("off", "inflate")
TRANSFORMER_SECONDARY_VAC = 12.0
"""[model] The transformer's secondary (the filter pump is a 12 V pump, SPEC §2)."""
LINK_NOISE = {"flip": 0.008, "drop": 0.002, "duplicate": 0.002}
"""[model] Per-byte probabilities of ``link-noisy`` in each direction: ≈ 5 % of frames
damaged (a bit flipped anywhere, a byte lost or doubled), well above SPEC §5's 1 %."""
SENSOR_OPEN_PARAMETER = 0x00
"""An open NTC reads as 0.0 °C."""
SENSOR_SHORT_PARAMETER = 0xFF
"""A shorted NTC reads as the maximum, 127.5 °C."""
_NO_SENSOR_FAULT = -1

FLOW_BOTH_CLOSED = 0x03
"""The 08 parameter with both switches closed (inlet bit 0, outlet bit 1)."""
_HEATING = frozenset((STAGE1, STAGE2))
_PUMP_DRIVEN = frozenset((PUMP_RUNNING, RUN_ON))
_SUPPLIED = frozenset((DEAD, BOOTING, RUNNING))
"""Power states in which mains reaches the box through a closed PRCD."""
_BOARD_FAULTS = frozenset(("transformer-dead", "power-board-dead"))


def _checked_litres(p: Profile, tank_litres: float | None) -> float:
    """The water the box heats: the profile's tub or a test tank, never less than the
    over-temperature margin was sized for."""
    litres = p.water_litres if tank_litres is None else float(tank_litres)
    if litres < p.thermal_min_litres:
        raise ValueError(
            f"{litres:g} L is below the {p.thermal_min_litres:g} L the {p.name} "
            "firmware's over-temperature margin is sized for ([thermal] min_litres)"
        )
    return litres


class _Firmware:
    """The firmware's side of its protocol duty (:class:`~protocols.mspa.box.BoxOwner`): the
    board's own methods, bound once so the duty's hot path calls them directly."""

    __slots__ = (
        "blower_running",
        "booted",
        "flow_parameter",
        "led_flags",
        "on_frame",
        "status_parameter",
        "temperature_parameter",
        "watchdog_expired",
        "watchdog_restored",
    )

    def __init__(self, board: VirtualBox) -> None:
        self.temperature_parameter: Callable[[], int] = board._temperature_parameter
        self.flow_parameter: Callable[[], int] = board._flow_parameter
        self.blower_running: Callable[[], bool] = board._blower_running
        self.led_flags: Callable[[], int] = board._led_flags
        self.status_parameter: Callable[[], int] = board._status_parameter
        self.on_frame: Callable[[int, int], bool] = board._take_frame
        self.booted: Callable[[], None] = board._booted
        self.watchdog_expired: Callable[[], None] = board._watchdog_expired
        self.watchdog_restored: Callable[[], None] = board._watchdog_restored


class VirtualBox:
    """An MSpa control box on a remote-cable :class:`~protocols.ports.Port` (or none yet).

    ``profile`` is a packaged profile name, a ``.toml`` path or a :class:`Profile`.
    ``water_c`` defaults to ``ambient_c``; ``tank_litres`` replaces the tub (the 20 L bench
    tank). ``faults`` are catalogue ids (``"prcd-faulty:stuck-open"``) present from the
    start. ``noise=False`` reports the true temperature (quantised) without sensor noise.
    Call :meth:`close` (or use ``with``) to stop its events when done.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        port: Port | None,
        profile: Profile | str | os.PathLike[str] = "premium-4",
        *,
        seed: int = 0,
        faults: Iterable[str] = (),
        water_c: float | None = None,
        ambient_c: float = 20.0,
        tank_litres: float | None = None,
        mains_on: bool = True,
        noise: bool = True,
    ) -> None:
        self.scheduler = scheduler
        self.profile = p = resolve_profile(profile)
        self.seed = seed
        self.litres = _checked_litres(p, tank_litres)
        self._init_world(ambient_c if water_c is None else water_c, ambient_c, noise)
        self.boots = 0
        """How many times the firmware has started."""
        self._init_state()
        self._init_firmware()

        if port is not None:
            self.attach(port)
        for fault in faults:
            self.inject(fault)
        self.set_mains(mains_on)

    def _init_world(self, water_c: float, ambient_c: float, noise: bool) -> None:
        """What the firmware can only sense: the water, its sensor's noise, the cable's noise."""
        p = self.profile
        seed = self.seed
        self._water = Water(
            self.litres,
            water_c,
            ambient_c,
            p.thermal_ua_w_per_k,
            lid_factor=p.thermal_lid_off_factor,
            blower_factor=p.thermal_blower_factor,
            now=self.scheduler.now(),
        )
        self._noise = (
            SensorNoise(seed, p.sensor_noise_sigma_c, p.sensor_noise_clip_c, stream=0)
            if noise
            else None
        )
        # ``link-noisy``: a bad cable or connector spoils bytes both ways (any byte, any bit).
        self._line_out = LineNoise(**LINK_NOISE, seed=seed * 4 + 1)
        self._line_in = LineNoise(**LINK_NOISE, seed=seed * 4 + 2)

    def _init_state(self) -> None:
        """Everything that changes while the box runs, as it is before anything happened: no
        faults, no mains, no cable, no events."""
        self._faults: dict[str, Fault] = {}
        self._fault_ids: frozenset[str] = frozenset()
        self._sensor_parameter = _NO_SENSOR_FAULT
        self._mains = False
        self._knob = "off"
        self._settling = False
        self._dirty = False
        self._loads = Loads()
        self._switches = NO_FLOW
        """The flow switches as the firmware senses them (inlet, outlet)."""
        self._reading = 0
        """The firmware's latest sensor reading, as the 06 parameter (°C × 2)."""
        self._sensor_ok = False
        """The firmware's judgement of its latest reading: not stuck at a rail."""
        self._poll: Periodic | None = None
        self._plug_in: Event | None = None
        """A plug-in still to come (:meth:`plug_in_at`)."""

    def _init_firmware(self) -> None:
        """The firmware's command memory, its over-temperature latch and its regions."""
        p = self.profile
        self.requests = RemoteRequests(self.scheduler, p, self._settle)
        """What the remote has asked for, as the firmware remembers it."""
        self._overtemp = OverTemperatureWatch(
            p.heater_overtemp_cut_c, p.heater_overtemp_recover_c, p.heater_overtemp_margin_c
        )
        self._power = PowerRegion(self)
        self._pump = PumpRegion(self.scheduler, p.filter_run_on_s, self._settle)
        self._heater = HeaterRegion(self.scheduler, p.heater_stage1_s, self._settle)
        self._blower = BlowerRegion()
        self._ozone = SanitiserRegion(p.ozone_fitted)
        self._uvc = SanitiserRegion(p.uvc_fitted)
        self._jets = JetsRegion(p.jets_fitted)
        self._flow_error = FlowErrorRegion(
            self.scheduler, p.errors_f1_after_s, p.errors_f1_reset_report_s, self._settle
        )
        self._watchdog = WatchdogRegion(self._fail_safe)
        self._link = BoxDuty(self.scheduler, None, p, _Firmware(self))
        """The box's protocol duties: boot frames, replies, reports, the silence watchdog."""
        self._regions: dict[str, Region] = {
            "power": self._power,
            "filter": self._pump,
            "heater": self._heater,
            "blower": self._blower,
            "ozone": self._ozone,
            "uvc": self._uvc,
            "jets": self._jets,
            "flow_error": self._flow_error,
            "watchdog": self._watchdog,
        }

    # ------------------------------------------------------------------ port

    def attach(self, port: Port) -> None:
        """Connect the remote cable (replacing any other); the firmware keeps running."""
        self._link.attach(port)

    def detach(self) -> None:
        """Unplug the cable: what the box sends goes nowhere, nothing arrives."""
        self._link.detach()

    @property
    def port(self) -> BoxPort | None:
        return self._link.port

    @property
    def ignored_frames(self) -> int:
        """Valid-checksum frames the firmware ignored (unknown code, out-of-range parameter)."""
        return self._link.ignored_frames

    def close(self) -> None:
        """Unplug and pull the mains for good: this box schedules nothing more."""
        self.detach()
        self.set_mains(False)

    def __enter__(self) -> VirtualBox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ world actions

    def set_mains(self, on: bool) -> None:
        """Plug in / pull the plug. A tripped PRCD stays tripped either way. It supersedes
        a plug-in still to come (:meth:`plug_in_at`)."""
        if self._plug_in is not None:
            self._plug_in.cancel()
            self._plug_in = None
        self._mains = bool(on)
        state = self._power.state
        if on and state == UNPOWERED:
            self._power.trigger("mains_on")
        elif not on and state in _SUPPLIED:
            self._power.trigger("mains_off")
        self._settle()

    def plug_in_at(self, when: float) -> None:
        """Plug the box in at simulated time ``when``, as a technician plugs in the boxes of
        a bench one after another (so their reports do not come in the same millisecond).
        Any mains action before then (:meth:`set_mains`: the control channel's ``mains``)
        is the technician's, and cancels it."""
        if self._plug_in is not None:
            self._plug_in.cancel()
        self._plug_in = self.scheduler.call_at(when, self._plugged_in)

    def _plugged_in(self) -> None:
        self._plug_in = None
        self.set_mains(True)

    def press_prcd_test(self) -> None:
        """The PRCD's TEST button: trips it while powered, unless the PRCD is faulty."""
        if self._power.state in _SUPPLIED and self.prcd_trips:
            self._power.trigger("trip")
            self._settle()

    def press_prcd_reset(self) -> None:
        """The PRCD's RESET button: power returns (the box reboots) unless it is stuck open."""
        if self._power.state != TRIPPED:
            return
        if self._power.trigger("reset"):
            self._drop_fault("prcd-tripped")
        self._settle()

    def set_knob(self, position: str) -> None:
        """The rotation knob: ``"off"`` (air to the bubbles) or ``"inflate"`` (to the bladder)."""
        if position not in KNOB_POSITIONS:
            raise ValueError(f"knob position must be 'off' or 'inflate', got {position!r}")
        self._knob = position
        self._settle()

    def set_lid(self, on: bool) -> None:
        self._water.update(self.scheduler.now(), lid_on=bool(on))
        self._settle()

    def set_ambient(self, celsius: float) -> None:
        self._water.update(self.scheduler.now(), ambient_c=float(celsius))
        self._settle()

    def set_water(self, celsius: float) -> None:
        """Pour in water at ``celsius`` (or refill the tank): the temperature jumps there.

        A real refill takes minutes, during which the firmware polls its sensor many times;
        the jump stands for all of it, so the firmware takes one reading of the new water at
        once (otherwise a pour no firmware could outrun would break SPEC §4 invariant 1)."""
        self._water.update(self.scheduler.now(), temp_c=float(celsius))
        if self._power.state == RUNNING:
            self._poll_sensor()
        self._settle()

    def inject(self, fault_id: str) -> None:
        """Break a part now (SPEC §5 id, ``id:mode`` for a mode); ``ValueError`` if unknown
        or not a box fault."""
        fault = parse_fault(fault_id, role="box")
        self._faults[fault.id] = fault
        self._faults_changed()
        power = self._power
        if fault.id == "prcd-tripped" or (fault.id == "prcd-faulty" and fault.mode == "stuck-open"):
            if power.state != TRIPPED:
                power.trigger("trip")
        elif fault.id in _BOARD_FAULTS and power.state in (BOOTING, RUNNING):
            power.trigger("fail")
        self._settle()

    def clear(self, fault_id: str) -> None:
        """Repair a part. Clearing ``prcd-tripped`` is the operator's RESET; a repaired
        transformer or power board boots; a tripped PRCD otherwise stays tripped until RESET.
        Clearing a fault that is not active does nothing."""
        fault = parse_fault(fault_id, role="box")
        if fault.id not in self._faults:
            return
        self._drop_fault(fault.id)
        power = self._power
        if fault.id == "prcd-tripped" and power.state == TRIPPED:
            power.trigger("reset")
        elif fault.id in _BOARD_FAULTS and power.state == DEAD and not self.board_faulty:
            power.trigger("revive")
        self._settle()

    def _drop_fault(self, fault_id: str) -> None:
        if self._faults.pop(fault_id, None) is not None:
            self._faults_changed()

    def _faults_changed(self) -> None:
        ids = self._fault_ids = frozenset(self._faults)
        noisy = "link-noisy" in ids
        self._link.tx_filter = self._line_out if noisy else None
        self._link.rx_filter = self._line_in if noisy else None
        if "temp-sensor-open" in ids:
            self._sensor_parameter = SENSOR_OPEN_PARAMETER
        elif "temp-sensor-short" in ids:
            self._sensor_parameter = SENSOR_SHORT_PARAMETER
        else:
            self._sensor_parameter = _NO_SENSOR_FAULT

    @property
    def active_faults(self) -> tuple[str, ...]:
        """Injected faults, spelled as :meth:`inject` takes them."""
        return tuple(str(fault) for fault in self._faults.values())

    @property
    def hardware_bypass(self) -> bool:
        """A fault energises loads the firmware does not drive (energised-state invariants
        do not apply while it is active)."""
        return any(fault.spec.hardware_bypass for fault in self._faults.values())

    # ----------------------------------------------------------- power guards

    @property
    def mains(self) -> bool:
        return self._mains

    @property
    def board_faulty(self) -> bool:
        """A dead transformer or power board: supply present, firmware never runs."""
        return not self._fault_ids.isdisjoint(_BOARD_FAULTS)

    @property
    def prcd_closes(self) -> bool:
        """RESET can close the PRCD (not a stuck-open one)."""
        fault = self._faults.get("prcd-faulty")
        return fault is None or fault.mode != "stuck-open"

    @property
    def prcd_trips(self) -> bool:
        """The PRCD opens on TEST or an earth fault (a faulty one does not)."""
        return "prcd-faulty" not in self._faults

    # ------------------------------------------------------------ truth

    @property
    def powered(self) -> bool:
        """Mains reaches the box through a closed PRCD (the firmware may still be dead)."""
        return self._power.state in _SUPPLIED

    @property
    def prcd_tripped(self) -> bool:
        return self._power.state == TRIPPED

    @property
    def prcd_light(self) -> bool:
        """The PRCD's indicator: lit while it passes mains to the box."""
        return self._power.state in _SUPPLIED

    @property
    def running(self) -> bool:
        """The firmware runs (booted, talking on the cable)."""
        return self._power.state == RUNNING

    @property
    def water_c(self) -> float:
        """True water temperature now."""
        return self._water.at(self.scheduler.now())

    @property
    def ambient_c(self) -> float:
        return self._water.ambient_c

    @property
    def lid_on(self) -> bool:
        return self._water.lid_on

    @property
    def knob(self) -> str:
        return self._knob

    @property
    def reported_c(self) -> float:
        """What the temperature report says now, before sensor noise."""
        if self._sensor_parameter != _NO_SENSOR_FAULT:
            return self._sensor_parameter / 2
        return min(max(round(self.water_c * 2), 0), 255) / 2

    @property
    def flow(self) -> FlowSwitches:
        """The flow switches as the box reports them now (``08``)."""
        return FlowSwitches.from_parameter(self._flow_parameter())

    @property
    def flow_switches(self) -> FlowSwitches:
        """The flow switches as they are (what the firmware senses), inlet and outlet."""
        return self._switches

    @property
    def flow_error(self) -> bool:
        """The firmware's F1 latch (no flow with the pump commanded; SPEC §4, issue 12)."""
        return self._flow_error.state == F1

    @property
    def blower_running(self) -> bool:
        """The firmware drives the blower (what a ``12`` blower frame reports)."""
        return self._blower_running()

    @property
    def led_flags(self) -> int:
        """The ``1A`` parameter (layout :func:`protocols.mspa.box.led_flags`)."""
        return self._led_flags()

    @property
    def status_parameter(self) -> int:
        """The ``1B`` parameter (layout :func:`protocols.mspa.box.status_parameter`)."""
        return self._status_parameter()

    @property
    def bubbles_visible(self) -> bool:
        """What the operator sees in the tub: blower energised and air going to the water."""
        return self._loads.blower > 0 and self._blower.state != INFLATING

    @property
    def blower_level(self) -> int:
        """The level the firmware runs the blower at (0 when off)."""
        return self.requests.bubbles.value if self._blower.state != OFF else 0

    @property
    def overtemp_latched(self) -> bool:
        """The firmware's over-temperature latch (set by its own sensor readings)."""
        return self._overtemp.latched

    @property
    def setpoint(self) -> int:
        """The remote's last valid set-point (the remote runs the thermostat; SPEC §3)."""
        return self.requests.setpoint

    def load_powers(self) -> dict[str, float]:
        """Watts each load draws now: heater, filter, blower, ozone, uvc, jets, standby."""
        return self._loads._asdict()

    def meter(self) -> MeterReading:
        """A mains meter upstream of the PRCD: it sees the voltage whenever mains is on."""
        voltage = self.profile.mains_voltage_v if self._mains else 0.0
        power = self._loads.total
        return MeterReading(voltage, power / voltage if voltage else 0.0, power)

    def test_point_v(self, name: str) -> float:
        """Volts a technician's multimeter finds at a test point (true value, no meter error).

        ``transformer-secondary`` (AC): the transformer's low-voltage output at the power
        board, present whenever mains reaches a healthy transformer — what tells a dead
        transformer from a dead power board when no meter can see the standby draw (the
        panel's 5 V and its display are dark in both).
        """
        if name == "transformer-secondary":
            supplied = self.powered and "transformer-dead" not in self._fault_ids
            return TRANSFORMER_SECONDARY_VAC if supplied else 0.0
        raise ValueError(f"unknown test point {name!r} (transformer-secondary)")

    def energised(self) -> dict[str, bool]:
        """Which switched loads physically draw power now."""
        loads = self._loads
        return {name: getattr(loads, name) > 0 for name in SWITCHED_LOADS}

    def driven(self) -> dict[str, bool]:
        """Which switched loads the firmware drives now."""
        return {
            "heater": self._heater.state in (STAGE1, STAGE2),
            "filter": self._pump.state in _PUMP_DRIVEN,
            "blower": self._blower.state != OFF,
            "ozone": self._ozone.state == ON,
            "uvc": self._uvc.state == ON,
            "jets": self._jets.state == ON,
        }

    def region_states(self) -> dict[str, str]:
        """Region → current state name."""
        return {name: region.state for name, region in self._regions.items()}

    @property
    def counters(self) -> DecoderCounters:
        """The box receiver's counters (good frames, bad sums, discarded bytes, timeouts)."""
        return self._link.counters

    def snapshot(self) -> dict[str, Any]:
        """Everything a frame could change in the box: two equal snapshots mean a frame
        changed nothing (the test oracle of SPEC §4 invariant 5)."""
        c = self.requests
        return {
            "regions": self.region_states(),
            "heater": (
                c.heater,
                self._overtemp.latched,
                self._sensor_ok,
                self._heater.stage_deadline,
            ),
            "filter": (c.filter, self._pump.run_on_deadline),
            "jets": c.jets,
            "flow_error": (
                self._flow_error.deadline,
                self._flow_error.timed_out,
                self._flow_error.reporting_reset,
            ),
            "bubbles": (c.bubbles.last_received, c.bubbles.value, c.bubbles.deadline),
            "ozone": (c.ozone.last_received, c.ozone.value, c.ozone.deadline),
            "uvc": (c.uvc.last_received, c.uvc.value, c.uvc.deadline),
            "setpoint": c.setpoint,
            "last_heard": self._link.last_heard,
            "loads": self._loads,
            "water": (self._water.t_ref, self._water.temp_ref, self._water.equilibrium_c),
        }

    # ------------------------------------------------------------ boot & firmware

    def _begin_boot(self) -> None:
        """Entering ``booting``: the protocol duty says the power-on frames at the plate's
        times and calls :meth:`_booted` with the 07 0C."""
        self._link.power_on()

    def _abort_boot(self) -> None:
        """Leaving ``booting`` (power lost, board failed, or booted): no stray boot frames."""
        if self._link.booting:
            self._link.power_off()

    def _booted(self) -> None:
        self._power.trigger("booted")
        self._settle()

    def _start_firmware(self) -> None:
        """Entering ``running``: fresh memory, the sensor read, the watchdog armed (the
        duty schedules the reports right after)."""
        p = self.profile
        self.boots += 1
        self.requests.reset()
        self._overtemp.reset()
        self._poll_sensor()  # the firmware reads its sensor before it obeys anything
        if p.sensor_poll_s != p.link_report_period_s:
            # Polls on their own period, from the first report on; scheduled before the
            # reports, a poll due with a report runs first, so the 06 carries the reading
            # just taken, otherwise the latest one. (In step, each 06 is a poll: one event.)
            self._poll = self.scheduler.call_every(
                p.sensor_poll_s, self._poll_sensor, first=self._link.first_report_at
            )
        self._watchdog.trigger("arm")

    def _stop_firmware(self) -> None:
        """Leaving ``running``: reports stop, and the firmware's memory is lost."""
        self._link.power_off()
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        if self._watchdog.state != IDLE:
            self._watchdog.trigger("disarm")
        self.requests.forget()
        self._pump.forget()
        self._flow_error.forget()
        self._overtemp.reset()
        self._sensor_ok = False

    def _fail_safe(self) -> None:
        """Entering the watchdog's ``failsafe``: every command forgotten, no pump run-on."""
        self.requests.forget()
        self._pump.forget()

    # ------------------------------------------------------------ what the duty reports

    def _temperature_parameter(self) -> int:
        """The 06 parameter: the firmware's latest sensor reading (a fresh one when the
        sensor is polled in step with the report)."""
        if self._poll is None:
            self._poll_sensor()
        return self._reading

    def _flow_parameter(self) -> int:
        """The ``08`` parameter the box reports now: its switches (inlet bit 0, outlet bit 1),
        or ``03`` inside the window after an F1 reset (ET: "08 03 briefly, then 00")."""
        if self._flow_error.reporting_reset:
            return FLOW_BOTH_CLOSED
        return self._switches.to_parameter()

    def _blower_running(self) -> bool:
        return self._blower.state != OFF

    def _led_flags(self) -> int:
        """The 1A parameter: the loads the firmware drives (layout [model], :func:`led_flags`)."""
        driven = self.driven()
        return led_flags(
            heater=driven["heater"],
            filter=driven["filter"],
            bubbles=driven["blower"],
            ozone=driven["ozone"],
            uvc=driven["uvc"],
            jets=driven["jets"],
        )

    def _status_parameter(self) -> int:
        """The 1B parameter: the set-point and the bubble level ([model] layout)."""
        return status_parameter(self.requests.setpoint, self.blower_level)

    def _take_frame(self, command: int, parameter: int) -> bool:
        """A frame from the remote: the command memory judges it; False when ignored."""
        outcome = self.requests.handle(command, parameter)
        if outcome == IGNORED:
            return False
        if outcome & RESET and self._flow_error.reset_by_remote():
            outcome |= CHANGED
        if outcome & CHANGED:
            self._settle()
        return True

    def _watchdog_expired(self) -> None:
        self._watchdog.trigger("expire")  # entering failsafe forgets every command
        self._settle()

    def _watchdog_restored(self) -> None:
        self._watchdog.trigger("hear")

    # ------------------------------------------------------------ sensor

    def _poll_sensor(self) -> None:
        """The firmware reads its sensor: the water with noise, quantised to 0.5 °C (or what
        a failed sensor gives), and decides on that reading alone — a reading at a rail is a
        failed sensor, one at the over-temperature threshold cuts the heater."""
        parameter = self._sensor_parameter
        if parameter == _NO_SENSOR_FAULT:
            celsius = self._water.at(self.scheduler.now())
            noise = self._noise
            if noise is not None:
                celsius += noise()
            parameter = round(celsius * 2)
            if parameter < 0:
                parameter = 0
            elif parameter > 255:
                parameter = 255
        self._reading = parameter
        # A reading at a rail (SENSOR_OPEN/SHORT_PARAMETER) is a failed sensor: no water is
        # at 0.0 or 127.5 °C.
        sensor_ok = SENSOR_OPEN_PARAMETER < parameter < SENSOR_SHORT_PARAMETER
        if self._overtemp.observe(parameter * 0.5) or sensor_ok != self._sensor_ok:
            self._sensor_ok = sensor_ok
            self._settle()

    # ------------------------------------------------------------ settle & hardware

    def _settle(self) -> None:
        """Bring every follower region to its target, then the hardware, until stable."""
        if self._settling:
            self._dirty = True
            return
        self._settling = True
        try:
            for _ in range(16):
                self._dirty = False
                moved = self._settle_regions()
                self._update_hardware()
                if not (moved or self._dirty):
                    return
            raise RuntimeError("board regions did not settle")  # a modelling bug
        finally:
            self._settling = False

    def _settle_regions(self) -> bool:
        """Each follower region towards its target, in dependency order: the pump, what the
        firmware senses of it (flow switches, F1), the heater, the blower, the sanitisers
        and the jets. The switches are re-read after the pump moves; the hardware update that
        follows every pass re-reads them for the next."""
        running = self._power.state == RUNNING
        failsafe = self._watchdog.state == FAILSAFE
        requests = self.requests
        ids = self._fault_ids
        pump, heater, flow_error = self._pump, self._heater, self._flow_error
        heating = heater.state in _HEATING
        moved = pump.move_to(pump.target(running, requests.filter, heating, failsafe))
        switches = flow_switches(ids, pump.state in _PUMP_DRIVEN)
        both_closed = switches.inlet and switches.outlet
        moved = (
            flow_error.move_to(flow_error.target(running, requests.filter, both_closed)) or moved
        )
        # Filtering: the pump runs on its command and the F1 interlock is off (no F1
        # latched, no reset still awaiting flow; run-on is not filtering: the heater and the
        # sanitisers follow the filter command).
        filtering = pump.state == PUMP_RUNNING and not flow_error.interlocked
        moved = (
            heater.move_to(
                heater.target(
                    running,
                    requests.heater,
                    filtering and both_closed,
                    self._sensor_ok,
                    self._overtemp.latched,
                )
            )
            or moved
        )
        if heating and heater.state not in _HEATING:
            pump.heating_stopped(running, failsafe)  # no run-on after power loss/fail-safe
            self._dirty = True  # the pump's run-on may start: evaluate it again
        knob_inflate = self._knob == "inflate" or "knob-reed-switch-stuck" in ids
        blower = self._blower
        moved = (
            blower.move_to(blower.target(running, requests.bubbles.value, knob_inflate)) or moved
        )
        ozone, uvc, jets = self._ozone, self._uvc, self._jets
        moved = ozone.move_to(ozone.target(running, requests.ozone.value > 0, filtering)) or moved
        moved = uvc.move_to(uvc.target(running, requests.uvc.value > 0, filtering)) or moved
        moved = jets.move_to(jets.target(running, requests.jets)) or moved
        return moved

    def _update_hardware(self) -> None:
        """Loads, flow switch, water inputs and the safety consequences of the region states."""
        p = self.profile
        ids = self._fault_ids
        pump_driven = self._pump.state in _PUMP_DRIVEN
        was_blowing = self._loads.blower > 0
        loads = self._loads = compute_loads(
            p,
            ids,
            supplied=self._power.state in _SUPPLIED,
            heater_state=self._heater.state,
            pump_driven=pump_driven,
            blower_level=self.blower_level,
            ozone_on=self._ozone.state == ON,
            uvc_on=self._uvc.state == ON,
            jets_on=self._jets.state == ON,
        )
        self._switches = flow_switches(ids, pump_driven)

        water = self._water
        bubbling = loads.blower > 0 and self._blower.state != INFLATING
        loss_w = p.blower_loss_w if bubbling else 0.0
        if water.heater_w != loads.heater or water.bubbling != bubbling or water.loss_w != loss_w:
            water.update(
                self.scheduler.now(), heater_w=loads.heater, bubbling=bubbling, loss_w=loss_w
            )

        if loads.blower > 0 and not was_blowing and "check-valve-leak" in ids and self.prcd_trips:
            self._power.trigger("trip")  # water reached the blower: earth fault
            self._dirty = True
