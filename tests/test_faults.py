"""The fault catalogue (SPEC §5) and each fault's signature on a virtual box."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from protocols.clock import Scheduler
from protocols.mspa import Command, Frame, FrameDecoder, RemoteState, key_press_burst, state_frames
from protocols.ports import SimCable
from spasim.board import VirtualBox
from spasim.cli.faults import format_table
from spasim.faults import CATALOGUE, fault_ids, fault_spec, parse_fault


class Bench:
    """A box on a SimCable with a remote that repeats ``state`` like a real panel."""

    def __init__(self, faults: tuple[str, ...] = (), **options: Any) -> None:
        options.setdefault("noise", False)
        options.setdefault("water_c", 30.0)
        self.scheduler = Scheduler()
        self.cable = SimCable(self.scheduler)
        self.box = VirtualBox(self.scheduler, self.cable.box, faults=faults, **options)
        self.decoder = FrameDecoder()
        self.received: list[tuple[float, Frame]] = []
        self.cable.remote.on_receive = self._receive
        self.state = RemoteState()
        self._tick = 0
        self.scheduler.call_every(1.5, self._cycle, first=7.0)

    def _receive(self, data: bytes) -> None:
        now = self.scheduler.now()
        self.received.extend((now, frame) for frame in self.decoder.feed(data, now))

    def _cycle(self) -> None:
        frames = state_frames(self.state)
        self.cable.remote.send(bytes(frames[self._tick % len(frames)]))
        self._tick += 1

    def press(self, **state: Any) -> None:
        self.state = RemoteState(**state)
        self.cable.remote.send(b"".join(bytes(f) for f in key_press_burst(self.state)))
        self.scheduler.advance(0.1)

    def advance(self, seconds: float) -> None:
        self.scheduler.advance(seconds)

    def frames_since(self, since: float, command: int | None = None) -> list[Frame]:
        return [
            f for t, f in self.received if t > since and (command is None or f.command == command)
        ]

    def last(self, command: int) -> Frame:
        return [f for _, f in self.received if f.command == command][-1]


# ---------------------------------------------------------------- the catalogue


def test_catalogue_covers_spec_section_5() -> None:
    assert fault_ids() == [
        "prcd-tripped",
        "prcd-faulty",
        "transformer-dead",
        "power-board-dead",
        "filter-pump-dead",
        "flow-switch-stuck-open",
        "inlet-flow-switch-stuck-open",
        "outlet-flow-switch-stuck-open",
        "flow-switch-stuck-closed",
        "heater-open",
        "heater-relay-welded",
        "temp-sensor-open",
        "temp-sensor-short",
        "blower-dead",
        "check-valve-leak",
        "knob-reed-switch-stuck",
        "ozone-dead",
        "uvc-dead",
        "jet-pump-dead",
        "link-noisy",
        "panel-dead",
    ]
    assert fault_ids("remote") == ["panel-dead"]
    assert fault_spec("filter-pump-dead").repair == "B9300929 filter pump"
    assert fault_spec("prcd-tripped").repair == "nothing to replace (reset the PRCD)"
    # Issue 12: two flow switches, each its own part; the faults of both name both.
    assert "inlet flow switch" in fault_spec("inlet-flow-switch-stuck-open").repair
    assert "outlet" not in fault_spec("inlet-flow-switch-stuck-open").repair
    assert "outlet flow switch" in fault_spec("outlet-flow-switch-stuck-open").repair
    for both in ("flow-switch-stuck-open", "flow-switch-stuck-closed"):
        repair = fault_spec(both).repair
        assert "inlet flow switch" in repair and "outlet flow switch" in repair
    assert "jet pump" in fault_spec("jet-pump-dead").repair
    assert all(spec.signature for spec in CATALOGUE)


def test_unknown_fault_lists_the_valid_ids() -> None:
    with pytest.raises(ValueError, match=r"unknown fault 'heater-melted'.*filter-pump-dead"):
        parse_fault("heater-melted")


def test_fault_modes_are_spelled_with_a_colon() -> None:
    assert parse_fault("prcd-faulty").mode == "no-trip"
    assert str(parse_fault("prcd-faulty")) == "prcd-faulty"
    stuck = parse_fault("prcd-faulty:stuck-open")
    assert stuck.mode == "stuck-open" and str(stuck) == "prcd-faulty:stuck-open"
    with pytest.raises(ValueError, match="modes no-trip, stuck-open"):
        parse_fault("prcd-faulty:melted")
    with pytest.raises(ValueError, match="has no modes"):
        parse_fault("heater-open:sometimes")


def test_a_box_refuses_a_remote_fault() -> None:
    with pytest.raises(ValueError, match="applies to a remote"):
        VirtualBox(Scheduler(), None, faults=("panel-dead",))
    with pytest.raises(ValueError, match="unknown fault"):
        VirtualBox(Scheduler(), None).inject("nope")


def test_faults_command_lists_every_fault() -> None:
    table = format_table(list(CATALOGUE))
    for spec in CATALOGUE:
        assert spec.id in table and spec.signature in table
    assert "prcd-faulty[:no-trip|stuck-open]" in table


# ---------------------------------------------------------------- signatures


def _no_frames(bench: Bench) -> None:
    bench.advance(30)
    assert bench.received == []


def sig_prcd_tripped(bench: Bench) -> None:
    assert bench.box.prcd_tripped and not bench.box.prcd_light
    assert bench.box.meter().power_w == 0
    _no_frames(bench)
    bench.box.press_prcd_reset()
    bench.advance(8)
    assert bench.received and bench.box.running
    assert "prcd-tripped" not in bench.box.active_faults


def sig_prcd_faulty(bench: Bench) -> None:
    bench.advance(8)
    bench.box.press_prcd_test()
    test_at = bench.scheduler.now()
    bench.advance(5)
    assert not bench.box.prcd_tripped and bench.box.running
    assert bench.frames_since(test_at, Command.WATER_TEMP)


def sig_prcd_faulty_stuck_open(bench: Bench) -> None:
    assert bench.box.prcd_tripped
    _no_frames(bench)
    bench.box.press_prcd_reset()
    bench.advance(10)
    assert bench.received == [] and bench.box.prcd_tripped and not bench.box.prcd_light


def sig_transformer_dead(bench: Bench) -> None:
    assert bench.box.prcd_light and bench.box.powered
    _no_frames(bench)
    assert bench.box.meter().power_w < 0.5


def sig_power_board_dead(bench: Bench) -> None:
    assert bench.box.prcd_light
    _no_frames(bench)
    assert bench.box.meter().power_w == pytest.approx(2.0)


def sig_filter_pump_dead(bench: Bench) -> None:
    bench.advance(8)
    bench.press(filter=True)
    bench.advance(3)
    assert bench.box.driven()["filter"] and bench.box.load_powers()["filter"] == 0
    assert bench.last(Command.FLOW) == Frame(Command.FLOW, 0)


def sig_flow_switch_stuck_open(bench: Bench) -> None:
    bench.advance(8)
    bench.press(filter=True, heater=True)
    bench.advance(3)
    assert bench.box.load_powers()["filter"] == 60
    assert bench.last(Command.FLOW) == Frame(Command.FLOW, 0)
    assert bench.box.region_states()["heater"] == "locked_no_flow"
    assert bench.box.load_powers()["heater"] == 0


def _one_flow_switch_open(bench: Bench, reported: int) -> None:
    """The pump runs and draws, only one switch closes: 08 shows which; the heater, which
    needs both, stays locked out."""
    bench.advance(8)
    bench.press(filter=True, heater=True)
    bench.advance(3)
    assert bench.box.load_powers()["filter"] == 60
    assert bench.last(Command.FLOW) == Frame(Command.FLOW, reported)
    assert bench.box.load_powers()["heater"] == 0


def sig_inlet_flow_switch_stuck_open(bench: Bench) -> None:
    _one_flow_switch_open(bench, 0x02)


def sig_outlet_flow_switch_stuck_open(bench: Bench) -> None:
    _one_flow_switch_open(bench, 0x01)


def sig_flow_switch_stuck_closed(bench: Bench) -> None:
    bench.advance(8)
    assert bench.last(Command.FLOW) == Frame(Command.FLOW, 3)
    bench.press(heater=True)  # pump off: the heater still needs the pump driven
    assert bench.box.region_states()["heater"] == "locked_no_flow"
    assert bench.box.load_powers()["filter"] == 0


def sig_heater_open(bench: Bench) -> None:
    bench.advance(8)
    before = bench.box.water_c
    bench.press(filter=True, heater=True)
    bench.advance(600)
    assert bench.box.driven()["heater"] and bench.box.load_powers()["heater"] == 0
    assert bench.box.water_c <= before


def sig_heater_relay_welded(bench: Bench) -> None:
    bench.advance(8)
    assert not bench.box.driven()["heater"]
    assert bench.box.load_powers()["heater"] > 0 and bench.box.energised()["heater"]
    before = bench.box.water_c
    bench.advance(600)
    assert bench.box.water_c > before


def sig_temp_sensor_open(bench: Bench) -> None:
    bench.advance(8)
    assert bench.last(Command.WATER_TEMP) == Frame(Command.WATER_TEMP, 0x00)
    bench.press(filter=True, heater=True)
    assert bench.box.region_states()["heater"] == "locked_sensor"


def sig_temp_sensor_short(bench: Bench) -> None:
    bench.advance(8)
    assert bench.last(Command.WATER_TEMP) == Frame(Command.WATER_TEMP, 0xFF)
    bench.press(filter=True, heater=True)
    assert bench.box.region_states()["heater"] == "locked_sensor"
    assert bench.box.load_powers()["heater"] == 0


def sig_blower_dead(bench: Bench) -> None:
    bench.advance(8)
    bench.press(bubbles=3)
    assert bench.box.driven()["blower"] and bench.box.load_powers()["blower"] == 0
    assert not bench.box.bubbles_visible


def sig_check_valve_leak(bench: Bench) -> None:
    bench.advance(8)
    bench.press(filter=True)
    assert bench.box.running
    bench.press(filter=True, bubbles=1)
    assert bench.box.prcd_tripped and not any(bench.box.energised().values())
    tripped_at = bench.scheduler.now()
    bench.advance(10)
    assert bench.frames_since(tripped_at + 0.01) == []


def sig_knob_reed_switch_stuck(bench: Bench) -> None:
    bench.advance(8)
    assert bench.box.knob == "off"
    bench.press(bubbles=2)
    assert bench.box.load_powers()["blower"] == 700
    assert not bench.box.bubbles_visible


def sig_ozone_dead(bench: Bench) -> None:
    bench.advance(8)
    bench.press(filter=True, ozone=True)
    assert bench.box.driven()["ozone"] and bench.box.load_powers()["ozone"] == 0


def sig_uvc_dead(bench: Bench) -> None:
    bench.advance(8)
    bench.press(filter=True, uvc=True)
    assert bench.box.driven()["uvc"] and bench.box.load_powers()["uvc"] == 0


def sig_jet_pump_dead(bench: Bench) -> None:
    """Elite (the bench's profile for this fault): 0D 01 switches the jets, none draw."""
    bench.advance(8)
    bench.cable.remote.send(bytes(Frame(Command.CYCLE_0D, 1)))
    bench.advance(0.1)
    assert bench.box.driven()["jets"] and bench.box.load_powers()["jets"] == 0


def sig_link_noisy(bench: Bench) -> None:
    bench.advance(600)
    counters = bench.decoder.counters
    assert counters.frames > 1000
    assert counters.bad_ratio > 0.01


SIGNATURES: dict[str, Callable[[Bench], None]] = {
    "prcd-tripped": sig_prcd_tripped,
    "prcd-faulty": sig_prcd_faulty,
    "prcd-faulty:stuck-open": sig_prcd_faulty_stuck_open,
    "transformer-dead": sig_transformer_dead,
    "power-board-dead": sig_power_board_dead,
    "filter-pump-dead": sig_filter_pump_dead,
    "flow-switch-stuck-open": sig_flow_switch_stuck_open,
    "inlet-flow-switch-stuck-open": sig_inlet_flow_switch_stuck_open,
    "outlet-flow-switch-stuck-open": sig_outlet_flow_switch_stuck_open,
    "flow-switch-stuck-closed": sig_flow_switch_stuck_closed,
    "heater-open": sig_heater_open,
    "heater-relay-welded": sig_heater_relay_welded,
    "temp-sensor-open": sig_temp_sensor_open,
    "temp-sensor-short": sig_temp_sensor_short,
    "blower-dead": sig_blower_dead,
    "check-valve-leak": sig_check_valve_leak,
    "knob-reed-switch-stuck": sig_knob_reed_switch_stuck,
    "ozone-dead": sig_ozone_dead,
    "uvc-dead": sig_uvc_dead,
    "jet-pump-dead": sig_jet_pump_dead,
    "link-noisy": sig_link_noisy,
}
SIGNATURE_PROFILES = {"jet-pump-dead": "elite-6"}
"""A fault of a part only some models have is shown on such a model (default premium-4)."""


def test_every_box_fault_has_a_signature_test() -> None:
    assert {key.partition(":")[0] for key in SIGNATURES} == set(fault_ids("box"))


@pytest.mark.parametrize("fault", list(SIGNATURES))
def test_fault_signature(fault: str) -> None:
    profile = SIGNATURE_PROFILES.get(fault, "premium-4")
    bench = Bench((fault,), tank_litres=20, profile=profile)
    SIGNATURES[fault](bench)


@pytest.mark.parametrize("fault", list(SIGNATURES))
def test_healthy_box_does_not_show_the_signature(fault: str) -> None:
    """Each signature check must fail on a healthy box, or it proves nothing."""
    bench = Bench((), tank_litres=20, profile=SIGNATURE_PROFILES.get(fault, "premium-4"))
    with pytest.raises(AssertionError):
        SIGNATURES[fault](bench)


@pytest.mark.parametrize("fault", list(SIGNATURES))
def test_fault_injected_later_and_cleared_restores_a_healthy_box(fault: str) -> None:
    bench = Bench(())
    bench.advance(8)
    bench.box.inject(fault)
    assert fault in bench.box.active_faults
    bench.box.clear(fault)
    assert bench.box.active_faults == ()
    if bench.box.prcd_tripped:
        bench.box.press_prcd_reset()  # a replaced PRCD is switched on by the operator
    bench.advance(8)
    bench.press(filter=True, heater=True, bubbles=2, ozone=True, uvc=True)
    bench.advance(2)
    assert bench.box.running
    # premium-4 has no jet pump: every other load runs.
    assert all(on for load, on in bench.box.driven().items() if load != "jets")
    assert all(on for load, on in bench.box.energised().items() if load != "jets")
    assert bench.box.bubbles_visible
    assert bench.last(Command.FLOW) == Frame(Command.FLOW, 3)
    assert bench.last(Command.WATER_TEMP) == Frame(Command.WATER_TEMP, 60)
    start = bench.scheduler.now()
    bench.box.press_prcd_test()
    assert bench.box.prcd_tripped
    bench.advance(5)
    assert bench.frames_since(start + 0.01) == []


def test_board_fault_injected_while_running_stops_the_firmware() -> None:
    bench = Bench(())
    bench.advance(8)
    bench.box.inject("power-board-dead")
    dead_at = bench.scheduler.now()
    bench.advance(10)
    assert bench.frames_since(dead_at + 0.01) == [] and bench.box.region_states()["power"] == "dead"
    bench.box.clear("power-board-dead")
    bench.advance(8)
    assert bench.box.running and bench.box.boots == 2


def test_frames_after_a_trip_in_the_same_chunk_are_not_obeyed() -> None:
    """Bubbles start, the leaking valve trips the PRCD: the rest of the chunk finds no
    firmware to answer it (a tripped box sends nothing)."""
    bench = Bench(("check-valve-leak",))
    bench.advance(8)
    start = bench.scheduler.now()
    chunk = Frame(Command.BUBBLES, 1), Frame(Command.KEEPALIVE, 0), Frame(Command.FILTER, 1)
    bench.cable.remote.send(b"".join(bytes(frame) for frame in chunk))
    bench.advance(1)
    assert bench.box.prcd_tripped
    assert bench.frames_since(start) == []
    assert bench.box.requests.filter is False


@pytest.mark.parametrize(
    ("fault", "reading"), [("temp-sensor-open", 0x00), ("temp-sensor-short", 0xFF)]
)
def test_a_sensor_failing_while_heating_is_recognised_by_its_reading(
    fault: str, reading: int
) -> None:
    """The firmware knows its sensor only through readings: the heater stops at the first
    poll that reads a rail (0.0 or 127.5 °C), the one the next 06 report carries, and stays
    off while it reads there."""
    bench = Bench(())
    bench.advance(8)
    bench.press(filter=True, heater=True)
    assert bench.box.load_powers()["heater"] > 0
    bench.box.inject(fault)
    injected = bench.scheduler.now()
    bench.advance(1.0)
    assert bench.frames_since(injected, Command.WATER_TEMP) == [Frame(Command.WATER_TEMP, reading)]
    assert bench.box.load_powers()["heater"] == 0
    bench.press(filter=True, heater=False)
    bench.press(filter=True, heater=True)
    bench.advance(60)
    assert bench.box.load_powers()["heater"] == 0
    bench.box.clear(fault)
    bench.advance(1.0)
    assert bench.box.load_powers()["heater"] > 0
