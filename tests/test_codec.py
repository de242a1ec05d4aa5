"""The MSpa codec against SPEC §3: golden vectors, helpers, and decoder properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.mspa import (
    POWER_ON,
    SYNC,
    Command,
    Direction,
    FlowSwitches,
    Frame,
    FrameDecoder,
    RemoteState,
    checksum,
    describe,
    encode,
    encode_bubble_level,
    encode_setpoint,
    encode_switch,
    encode_temperature,
    interpret,
    key_press_burst,
    parse,
    quantise_temperature,
)

# Frames exactly as SPEC §3 writes them (captured traffic), with their checksums.
GOLDEN = [
    ("A5 06 2F DA", Command.WATER_TEMP, 0x2F),  # 23.5 °C
    ("A5 04 25 CE", Command.SETPOINT, 0x25),  # 37 °C
    ("A5 09 00 AE", Command.BOOT_09, 0x00),
    ("A5 07 0C B8", Command.BOOT_07, 0x0C),
    ("A5 0B 00 B0", Command.KEEPALIVE, 0x00),
    ("A5 0B 86 36", Command.KEEPALIVE, 0x86),
    ("A5 0A 00 AF", Command.HANDSHAKE, 0x00),
    ("A5 0A 01 B0", Command.HANDSHAKE, 0x01),
    ("A5 11 00 B6", Command.HANDSHAKE_11, 0x00),
    ("A5 10 00 B5", Command.INIT_10, 0x00),
    ("A5 16 00 BB", Command.KEY_PRESS, 0x00),
    ("A5 08 03 B0", Command.FLOW, 0x03),
]


@pytest.mark.parametrize(("wire", "command", "parameter"), GOLDEN)
def test_golden_frames_round_trip(wire: str, command: Command, parameter: int) -> None:
    data = bytes.fromhex(wire)
    assert encode(command, parameter) == data
    assert parse(data) == Frame(command, parameter)
    assert bytes(Frame.make(command, parameter)) == data
    assert FrameDecoder().feed(data) == [Frame(command, parameter)]


def test_every_captured_power_on_frame_round_trips() -> None:
    stream = b"".join(bytes(item.frame) for item in POWER_ON)
    decoder = FrameDecoder()
    assert decoder.feed(stream) == [item.frame for item in POWER_ON]
    assert decoder.counters.frames == len(POWER_ON)
    assert decoder.counters.bad_checksums == 0


def test_captured_power_on_is_in_time_order() -> None:
    times = [item.time for item in POWER_ON]
    assert times == sorted(times)
    assert POWER_ON[0].direction is Direction.BOX_TO_REMOTE


def test_checksum_is_sum_mod_256() -> None:
    assert checksum(0x06, 0x2F) == 0xDA
    assert checksum(0xFF, 0xFF) == (0xA5 + 0xFF + 0xFF) % 256


@pytest.mark.parametrize("bad", [-1, 256, 1.5, True, None])
def test_encode_rejects_bytes_out_of_range(bad: object) -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        encode(bad, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"0\.\.255"):
        encode(1, bad)  # type: ignore[arg-type]


def test_parse_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        parse(b"\xa5\x06")
    with pytest.raises(ValueError, match="starts with A5"):
        parse(b"\x00\x06\x2f\xda")
    with pytest.raises(ValueError, match="expected DA, got DB"):
        parse(b"\xa5\x06\x2f\xdb")


def test_unknown_codes_decode_as_plain_ints() -> None:
    frame = FrameDecoder().feed(encode(0x05, 0x42))[0]
    assert frame.command == 0x05
    assert not frame.known
    assert "unknown command 05" in describe(frame, Direction.REMOTE_TO_BOX)


def test_describe_reads_like_the_spec() -> None:
    frame = parse(bytes.fromhex("A5062FDA"))
    assert describe(frame, Direction.BOX_TO_REMOTE) == "box→remote A5 06 2F DA  water 23.5 °C"
    assert describe(Frame(Command.SETPOINT, 37), Direction.REMOTE_TO_BOX).endswith(
        "set-point 37 °C"
    )


def test_temperature_helpers() -> None:
    assert encode_temperature(23.5) == 0x2F
    assert encode_temperature(127.5) == 0xFF
    assert interpret(Frame(Command.WATER_TEMP, 0x2F)).value == 23.5
    for bad in (23.3, -0.5, 128.0):
        with pytest.raises(ValueError, match=r"0\.5 °C steps"):
            encode_temperature(bad)
    assert quantise_temperature(23.26) == 23.5
    assert quantise_temperature(23.24) == 23.0
    assert quantise_temperature(-3) == 0.0
    assert quantise_temperature(500) == 127.5


def test_setpoint_bubbles_switch_helpers() -> None:
    assert encode_setpoint(37) == 0x25
    assert encode_setpoint(10) == 10, "MW's bridge sends 10 °C (hibernate)"
    for bad_setpoint in (9, 41, 37.5, True):
        with pytest.raises(ValueError, match="set-point"):
            encode_setpoint(bad_setpoint)  # type: ignore[arg-type]
    assert encode_bubble_level(3) == 3
    with pytest.raises(ValueError, match="bubble level"):
        encode_bubble_level(7)
    assert encode_switch(True) == 1
    with pytest.raises(ValueError, match="0 or 1"):
        encode_switch(2)


def test_out_of_range_values_are_flagged_not_fixed() -> None:
    bubbles = interpret(Frame(Command.BUBBLES, 7))
    assert bubbles.value is None and bubbles.problem == "bubble level must be 0–3"
    setpoint = interpret(Frame(Command.SETPOINT, 90))
    assert setpoint.value is None and setpoint.problem is not None
    heater = interpret(Frame(Command.HEATER, 2))
    assert heater.value is None and heater.problem is not None
    flow = interpret(Frame(Command.FLOW, 0x07))
    assert flow.problem is not None and flow.value == FlowSwitches(True, True)
    assert "[bubble level must be 0–3]" in describe(
        Frame(Command.BUBBLES, 7), Direction.REMOTE_TO_BOX
    )


def test_flow_bits() -> None:
    assert FlowSwitches.from_parameter(0b01) == FlowSwitches(inlet=True, outlet=False)
    assert FlowSwitches(True, True).to_parameter() == 3
    assert not FlowSwitches(False, False).flowing


def test_key_press_burst_order() -> None:
    state = RemoteState(heater=True, filter=True, bubbles=2, setpoint=37)
    burst = key_press_burst(state, setpoint_changed=True)
    assert [f.command for f in burst] == [  # the capture: 01 02 03 0D 0E 15 16 04
        Command.HEATER,
        Command.FILTER,
        Command.BUBBLES,
        Command.CYCLE_0D,
        Command.OZONE,
        Command.UVC,
        Command.KEY_PRESS,
        Command.SETPOINT,
    ]
    assert burst[2].parameter == 2 and burst[-1].parameter == 37
    variant_b = key_press_burst(state, uvc_command=Command.INIT_10)
    assert Command.INIT_10 in [f.command for f in variant_b]
    assert burst[-2] == Frame(Command.KEY_PRESS, 0)


# --- decoder behaviour -------------------------------------------------------------------


def test_decoder_resyncs_after_garbage_and_counts() -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(b"\x00\x01\x02" + encode(6, 0x2F) + b"\xff")
    assert frames == [Frame(Command.WATER_TEMP, 0x2F)]
    assert decoder.counters.discarded_bytes == 4


def test_decoder_drops_bad_sum_and_finds_frame_inside_it() -> None:
    decoder = FrameDecoder()
    # A stray A5 then a real frame: the candidate "A5 A5 06 2F" has a bad sum; the decoder
    # must drop only the stray A5 and find the real frame starting at the second byte.
    frames = decoder.feed(b"\xa5" + encode(6, 0x2F))
    assert frames == [Frame(Command.WATER_TEMP, 0x2F)]
    assert decoder.counters.bad_checksums == 1


def test_decoder_handles_byte_by_byte_input() -> None:
    decoder = FrameDecoder()
    data = encode(1, 1) + encode(2, 0)
    out: list[Frame] = []
    for byte in data:
        out += decoder.feed(bytes([byte]))
    assert out == [Frame(Command.HEATER, 1), Frame(Command.FILTER, 0)]


def test_partial_frame_dropped_after_100_ms() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\xa5\x06", now=10.0) == []
    # The rest arrives 150 ms later: the partial is stale and must be dropped.
    assert decoder.feed(b"\x2f\xda", now=10.15) == []
    assert decoder.counters.timeouts == 1
    # A complete frame afterwards still decodes.
    assert decoder.feed(encode(6, 0x2F), now=10.2) == [Frame(Command.WATER_TEMP, 0x2F)]


def test_partial_frame_within_100_ms_completes() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\xa5\x06", now=10.0)
    decoder.feed(b"\x2f", now=10.05)
    # Age counts from the first byte: 90 ms after it is still in time.
    assert decoder.feed(b"\xda", now=10.09) == [Frame(Command.WATER_TEMP, 0x2F)]
    assert decoder.counters.timeouts == 0


def test_partial_frame_timeout_measured_from_its_first_byte() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\xa5", now=0.0)
    decoder.feed(b"\x06", now=0.06)
    decoder.feed(b"\x2f", now=0.09)
    assert decoder.feed(b"\xda", now=0.12) == []
    assert decoder.counters.timeouts == 1


# --- properties ---------------------------------------------------------------------------


def test_encode_decode_identity_for_every_command_parameter_pair() -> None:
    """All 65,536 frames: encode then decode gives the same frame back (exhaustive)."""
    stream = b"".join(encode(c, p) for c in range(256) for p in range(256))
    decoder = FrameDecoder()
    frames = decoder.feed(stream)
    assert len(frames) == 65536
    assert decoder.counters.bad_checksums == 0
    for index, frame in enumerate(frames):
        assert (frame.command, frame.parameter) == divmod(index, 256)


@given(st.integers(0, 255), st.integers(0, 255))
def test_frame_round_trip_property(command: int, parameter: int) -> None:
    data = encode(command, parameter)
    assert parse(data) == Frame(command, parameter)
    assert bytes(parse(data)) == data


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    out, i = [], 0
    for size in sizes:
        if i >= len(data):
            break
        out.append(data[i : i + size])
        i += size
    if i < len(data):
        out.append(data[i:])
    return out


@given(st.binary(max_size=2000), st.lists(st.integers(1, 64), max_size=200))
def test_byte_soup_never_raises_and_never_yields_a_bad_frame(soup: bytes, sizes: list[int]) -> None:
    decoder = FrameDecoder()
    for chunk in _chunks(soup, sizes):
        for frame in decoder.feed(chunk):
            assert frame.command is not None
            assert bytes(frame)[3] == checksum(frame.command, frame.parameter)


@given(
    st.binary(max_size=300).map(lambda b: b.replace(b"\xa5", b"\x5a")),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=300),
    st.lists(st.integers(1, 16), max_size=100),
)
def test_valid_frame_in_garbage_is_always_found(
    before: bytes, command: int, parameter: int, after: bytes, sizes: list[int]
) -> None:
    """Garbage without a sync byte before the frame can never hide it, whatever the chunking."""
    decoder = FrameDecoder()
    found: list[Frame] = []
    for chunk in _chunks(before + encode(command, parameter) + after, sizes):
        found += decoder.feed(chunk)
    assert Frame(command, parameter) in found


@given(st.binary(max_size=300), st.integers(0, 255), st.integers(0, 255))
def test_valid_frame_after_idle_gap_is_always_found(
    garbage: bytes, command: int, parameter: int
) -> None:
    """Any garbage at all, then >100 ms of silence, then a frame: the frame is found."""
    decoder = FrameDecoder()
    decoder.feed(garbage, now=0.0)
    assert decoder.feed(encode(command, parameter), now=0.2) == [Frame(command, parameter)]


@settings(max_examples=4)
@given(st.integers(0, 2**32 - 1))
def test_decoder_survives_a_million_random_bytes_in_random_chunks(seed: int) -> None:
    rng = random.Random(seed)
    decoder = FrameDecoder()
    remaining = 1_000_000
    now = 0.0
    valid_sent = 0
    while remaining > 0:
        size = min(remaining, rng.randint(1, 512))
        chunk = bytearray(rng.randbytes(size))
        if rng.random() < 0.3:
            chunk += encode(rng.randrange(256), rng.randrange(256))
            valid_sent += 1
        now += rng.random() * 0.05
        for frame in decoder.feed(bytes(chunk), now=now):
            assert bytes(frame)[0] == SYNC
            assert bytes(frame)[3] == checksum(frame.command, frame.parameter)
        remaining -= size
    counters = decoder.counters
    assert counters.frames >= valid_sent * 0.9
    assert counters.discarded_bytes > 0 and counters.bad_checksums > 0


_BYTES_LIKE = st.sampled_from([bytes, bytearray, lambda b: memoryview(bytearray(b))])


@given(
    st.lists(st.binary(max_size=40) | st.sampled_from([b"\xa5\x0b\x00\xb0", b"\xa5"]), max_size=50),
    st.lists(_BYTES_LIKE, min_size=1, max_size=5),
)
def test_decoder_takes_any_bytes_like_chunk_and_decodes_the_same(
    chunks: list[bytes], kinds: list[object]
) -> None:
    """bytes, bytearray and memoryview chunks (what readinto and socket buffers give) decode
    exactly as the same bytes do; mutating a fed buffer afterwards changes nothing."""
    reference = FrameDecoder()
    expected = [frame for chunk in chunks for frame in reference.feed(chunk, 0.0)]
    decoder = FrameDecoder()
    got: list[Frame] = []
    for i, chunk in enumerate(chunks):
        wrap = kinds[i % len(kinds)]
        buffer = wrap(chunk)  # type: ignore[operator]
        got += decoder.feed(buffer, 0.0)
        if isinstance(buffer, bytearray):
            buffer[:] = b"\x00" * len(buffer)  # the caller reuses its buffer
    assert got == expected
    assert decoder.counters == reference.counters


def test_describe_names_the_model_dependent_codes() -> None:
    """Research: 12 blower, 1A LED flags, 1B status, 19 UVC (C), 0D jets, 0F, 0B 00 reset,
    04 as °C × 2 on some models; without a plate the ambiguity is named."""
    from protocols.mspa.models import load_model

    remote = Direction.REMOTE_TO_BOX
    box = Direction.BOX_TO_REMOTE
    camaro, elite = load_model("super-camaro"), load_model("elite-6")
    assert "set-point 37 °C" in describe(Frame(Command.SETPOINT, 74), remote, camaro)
    assert "30 °C (or 15 °C on a °C × 2 model)" in describe(Frame(Command.SETPOINT, 30), remote)
    assert "set-point 37 °C (°C × 2 model)" in describe(Frame(Command.SETPOINT, 74), remote)
    assert "jets on" in describe(Frame(Command.CYCLE_0D, 1), remote, elite)
    assert "[premium-4 has no jets" in describe(
        Frame(Command.CYCLE_0D, 1), remote, load_model("premium-4")
    )
    assert "UVC on (variant C)" in describe(Frame(Command.UVC_C, 1), remote)
    assert "UVC on (variant B)" in describe(Frame(Command.INIT_10, 1), remote, elite)
    assert "init-10 / UVC (variant B)" in describe(Frame(Command.INIT_10, 0), remote)
    assert "long press Filter clears F1, A0" in describe(Frame(Command.KEEPALIVE, 0), remote)
    assert "keep-alive answer" in describe(Frame(Command.KEEPALIVE, 0x86), box)
    assert "blower running" in describe(Frame(Command.BLOWER, 1), box)
    assert "blower stopped" in describe(Frame(Command.BLOWER, 0), box)
    assert "LEDs heater, filter" in describe(Frame(Command.LED_FLAGS, 0x03), box)
    assert "status" in describe(Frame(Command.STATUS, 0x25), box)
    assert "once after the first 0D" in describe(Frame(Command.BOOT_0F, 0), remote)
    assert interpret(Frame(Command.SETPOINT, 90)).problem is not None


# -- one reading of 0x04 and one 1A/1B layout (issue 12 review, dup 9 and 10) ----------------


def test_decode_setpoint_reads_0x04_as_the_plate_says() -> None:
    """Whole °C on most models (capture: 04 25 is 37 °C), °C × 2 on the Super-Camaro
    (weak source); the plate's 10–40 °C range holds; half a degree is no set-point."""
    from protocols.mspa.models import load_model
    from protocols.mspa.values import decode_setpoint

    premium, camaro = load_model("premium-4"), load_model("super-camaro")
    assert decode_setpoint(0x25, premium) == 37
    assert decode_setpoint(10, premium) == 10 and decode_setpoint(40, premium) == 40
    assert decode_setpoint(9, premium) is None and decode_setpoint(41, premium) is None
    assert decode_setpoint(74, camaro) == 37 and decode_setpoint(20, camaro) == 10
    assert decode_setpoint(75, camaro) is None  # 37.5 °C: whole degrees only
    assert decode_setpoint(18, camaro) is None and decode_setpoint(82, camaro) is None
    remote = Direction.REMOTE_TO_BOX
    assert "[half a degree" in describe(Frame(Command.SETPOINT, 75), remote, camaro)
    assert interpret(Frame(Command.SETPOINT, 74), camaro).value == 37
    assert interpret(Frame(Command.SETPOINT, 37), premium).value == 37


@settings(max_examples=200, deadline=None)
@given(
    heater=st.booleans(),
    filter_=st.booleans(),
    bubbles=st.booleans(),
    ozone=st.booleans(),
    uvc=st.booleans(),
    jets=st.booleans(),
)
def test_describe_reads_1a_in_the_layout_a_box_sends(
    heater: bool, filter_: bool, bubbles: bool, ozone: bool, uvc: bool, jets: bool
) -> None:
    from protocols.mspa.box import led_flags as box_led_flags
    from protocols.mspa.values import led_flags

    assert box_led_flags is led_flags  # one layout: the box duty's is the values' own
    lit = {"heater": heater, "filter": filter_, "bubbles": bubbles, "ozone": ozone}
    lit |= {"UVC": uvc, "jets": jets}
    flags = led_flags(
        heater=heater, filter=filter_, bubbles=bubbles, ozone=ozone, uvc=uvc, jets=jets
    )
    line = describe(Frame(Command.LED_FLAGS, flags), Direction.BOX_TO_REMOTE)
    shown = line.partition("LEDs ")[2]
    expected = [name for name, on in lit.items() if on]
    assert shown == (", ".join(expected) if expected else "none")


@settings(max_examples=200, deadline=None)
@given(setpoint=st.integers(10, 40), bubbles=st.integers(0, 3))
def test_describe_reads_1b_in_the_layout_a_box_sends(setpoint: int, bubbles: int) -> None:
    from protocols.mspa.box import status_parameter as box_status_parameter
    from protocols.mspa.values import decode_status, status_parameter

    assert box_status_parameter is status_parameter
    parameter = status_parameter(setpoint, bubbles)
    assert decode_status(parameter) == (setpoint, bubbles)
    reading = interpret(Frame(Command.STATUS, parameter))
    assert f"set-point {setpoint} °C" in reading.text and reading.problem is None
    assert ("bubbles off" if bubbles == 0 else f"bubbles level {bubbles}") in reading.text
