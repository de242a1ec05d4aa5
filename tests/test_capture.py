"""Capture files: the text format, its reader's errors, and the splitter that fills it."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocols.capture as capture_module
from protocols.capture import (
    BAD_CHECKSUM,
    GARBAGE,
    INCOMPLETE,
    TIMED_OUT,
    Capture,
    CaptureEntry,
    CaptureWriter,
    FrameSplitter,
    Segment,
    classify,
    open_capture,
    parse_capture,
    read_capture,
    round_time,
)
from protocols.mspa import POWER_ON, Command, Direction, Frame, FrameDecoder, encode

WATER = encode(Command.WATER_TEMP, 0x2F)
HEATER_ON = encode(Command.HEATER, 1)


def _write(entries: list[CaptureEntry], **header: str) -> str:
    stream = io.StringIO()
    writer = CaptureWriter(stream, header=header)
    for entry in entries:
        writer.write(entry.t, entry.sender, entry.data)
    writer.close()
    return stream.getvalue()


def test_power_on_capture_round_trips_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "power-on.txt"
    with open_capture(path, profile="premium-4", source="test") as writer:
        for item in POWER_ON:
            writer.write_frame(item.time, item.direction, item.frame)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# spasim capture v1\n")
    assert "\n5.460000 box A5 09 00 AE\n" in text
    assert "\n5.890000 remote A5 0B 00 B0\n" in text
    capture = read_capture(path)
    assert capture.header["profile"] == "premium-4"
    assert capture.header["source"] == "test"
    assert capture.header["date"].endswith("Z")
    assert [(e.t, e.direction, e.data) for e in capture.entries] == [
        (item.time, item.direction, bytes(item.frame)) for item in POWER_ON
    ]


def test_the_documented_example_is_a_valid_capture() -> None:
    """The module docstring is what the README shows users; it must parse."""
    doc = capture_module.__doc__ or ""
    example = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    capture = parse_capture(line.strip() for line in example.splitlines())
    assert capture.header["profile"] == "premium-4"
    assert [e.data.hex(" ").upper() for e in capture.entries][-1] == "A5 01 01 A8"
    assert len(capture.entries) == 5


def test_given_date_is_kept_and_header_order_is_the_callers() -> None:
    text = _write([], date="2024-05-01T18:20:00Z", profile="elite-6", note="bench 3")
    assert text.splitlines() == [
        "# spasim capture v1",
        "# date: 2024-05-01T18:20:00Z",
        "# profile: elite-6",
        "# note: bench 3",
    ]
    assert parse_capture(text.splitlines()).header == {
        "date": "2024-05-01T18:20:00Z",
        "profile": "elite-6",
        "note": "bench 3",
    }


_entry = st.builds(
    CaptureEntry,
    st.integers(min_value=0, max_value=10**10).map(lambda us: us / 1e6),
    st.sampled_from(["box", "remote"]),
    st.binary(min_size=1, max_size=12),
)


@given(st.lists(_entry, max_size=30))
def test_any_entries_round_trip(entries: list[CaptureEntry]) -> None:
    # Times never go back per sender in a valid capture; across senders anything goes.
    latest: dict[str, float] = {}
    ordered = []
    for entry in entries:
        t = max(entry.t, latest.get(entry.sender, 0.0))
        latest[entry.sender] = t
        ordered.append(entry._replace(t=t))
    assert parse_capture(io.StringIO(_write(ordered))).entries == ordered


@given(st.floats(min_value=0, max_value=1e6), st.binary(min_size=1, max_size=8))
def test_any_time_is_stored_to_the_microsecond(t: float, data: bytes) -> None:
    (entry,) = parse_capture(io.StringIO(_write([CaptureEntry(t, "box", data)]))).entries
    assert entry.t == round_time(t)
    assert math.isclose(entry.t, t, abs_tol=5e-7)


def test_non_frame_bytes_carry_a_comment_and_read_back_unchanged() -> None:
    entries = [
        CaptureEntry(1.0, "box", WATER),
        CaptureEntry(1.5, "box", b"\x00\xff"),
        CaptureEntry(2.0, "remote", bytes.fromhex("A5062FDB")),
        CaptureEntry(2.5, "remote", b"\xa5\x06"),
    ]
    lines = _write(entries).splitlines()[2:]
    assert lines == [
        "1.000000 box A5 06 2F DA",
        "1.500000 box 00 FF  # garbage",
        "2.000000 remote A5 06 2F DB  # bad checksum",
        "2.500000 remote A5 06  # incomplete frame",
    ]
    assert parse_capture(lines_with_magic(lines)).entries == entries


def lines_with_magic(lines: list[str]) -> list[str]:
    return ["# spasim capture v1", *lines]


def test_a_note_overrides_the_guess_but_never_comments_a_frame() -> None:
    stream = io.StringIO()
    writer = CaptureWriter(stream, header={"date": "x"})
    writer.write(0.5, "box", b"\xa5\x06", note=TIMED_OUT)
    writer.write(0.6, "box", WATER, note="ignored")
    assert stream.getvalue().splitlines()[2:] == [
        "0.500000 box A5 06  # partial frame timed out",
        "0.600000 box A5 06 2F DA",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (WATER, None),
        (WATER + HEATER_ON, "2 frames on one line"),
        (WATER + b"\x00", "frames mixed with other bytes"),
        (b"\x00\x01", GARBAGE),
        (b"\xa5\x06\x2f\xdb", BAD_CHECKSUM),
        (b"\xa5\x06", INCOMPLETE),
    ],
)
def test_classify_says_why_bytes_are_not_a_frame(data: bytes, reason: str | None) -> None:
    assert classify(data) == reason


def test_comments_and_blank_lines_anywhere_crlf_and_trailing_comments() -> None:
    text = (
        "\r\n# spasim capture v1\r\n\r\n# profile: premium-4\r\n# a free remark\r\n"
        "1.000000 box A5 06 2F DA  # water\r\n\r\n# later: not a header any more\r\n"
        "   2.5   remote   a5 01 01 a7   \r\n"
    )
    capture = parse_capture(io.StringIO(text))
    assert capture.header == {"profile": "premium-4"}
    assert capture.entries == [
        CaptureEntry(1.0, "box", WATER),
        CaptureEntry(2.5, "remote", HEATER_ON),
    ]


def test_times_may_step_back_across_senders() -> None:
    lines = lines_with_magic(["2.000000 box A5 06 2F DA", "1.000000 remote A5 01 01 A7"])
    assert [e.t for e in parse_capture(lines).entries] == [2.0, 1.0]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], r"line 1: empty file"),
        (["", "5.0 box"], r"line 2: expected '<seconds> .*; not a spasim capture"),
        (["# notes", "hello"], r"line 2: expected '<seconds> .*; not a spasim capture"),
        (["# notes", ""], r"line 3: no frame lines and no '# spasim capture v1' line"),
        (["# spasim capture v2"], r"line 1: unsupported capture version '2'"),
        (["# spasim capture v1", "# a: 1", "# a: 2"], r"line 3: header 'a' given twice"),
        (["# spasim capture v1", "5.0 box"], r"line 2: expected '<seconds> <box\|remote>"),
        (["# spasim capture v1", "", "x box A5"], r"line 3: bad time 'x'"),
        (["# spasim capture v1", "-1.0 box A5"], r"line 2: bad time '-1.0'"),
        (["# spasim capture v1", "nan box A5"], r"line 2: bad time 'nan'"),
        (["# spasim capture v1", "1e3 box A5"], r"line 2: bad time '1e3'"),
        (["# spasim capture v1", "1.0 panel A5"], r"line 2: unknown sender 'panel'"),
        (["# spasim capture v1", "1.0 box A5 ZZ"], r"line 2: bad byte 'ZZ'"),
        (["# spasim capture v1", "1.0 box A5062FDA"], r"line 2: bad byte 'A5062FDA'"),
        (["# spasim capture v1", "1.0 box 0x A5"], r"line 2: bad byte '0x'"),
        (
            ["# spasim capture v1", "2.0 box A5", "1.0 remote A5", "1.5 box A5"],
            r"line 4: box time 1.5 goes back \(previous 2.000000\)",
        ),
    ],
)
def test_malformed_files_are_rejected_naming_the_line(lines: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_capture(lines)


def test_a_binary_file_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "capture.bin"
    path.write_bytes(b"# spasim capture v1\n1.0 box A5 06 2F DA\n\xff\xfe\x00\n")
    with pytest.raises(ValueError, match="line 3: not UTF-8 text"):
        read_capture(path)


def test_frame_lines_without_the_version_line_are_a_capture_without_a_header() -> None:
    """Captures made by hand or converted from a logic analyser's export (issue 13)."""
    capture = parse_capture(["", "# source: an analyser", "1.0 box A5 06 2F DA", "# a: b"])
    assert capture.entries == [CaptureEntry(1.0, "box", WATER)]
    assert capture.header == {}


def test_a_byte_order_mark_from_an_editor_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "edited.txt"
    path.write_bytes("\ufeff# spasim capture v1\r\n1.0 box A5 06 2F DA\r\n".encode())
    assert read_capture(path).entries == [CaptureEntry(1.0, "box", WATER)]


def test_writer_refuses_what_a_reader_would_refuse() -> None:
    writer = CaptureWriter(io.StringIO(), header={})
    writer.write(2.0, "box", WATER)
    with pytest.raises(ValueError, match="box time goes back"):
        writer.write(1.0, "box", WATER)
    writer.write(1.0, "remote", HEATER_ON)  # the other wire may be behind
    with pytest.raises(ValueError, match="at least one byte"):
        writer.write(3.0, "box", b"")
    for bad_time in (-0.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="finite number"):
            writer.write(bad_time, "remote", HEATER_ON)
    with pytest.raises(ValueError, match="unknown sender"):
        writer.write(3.0, "panel", WATER)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bad header key"):
        CaptureWriter(io.StringIO(), header={"two words": "x"})
    with pytest.raises(ValueError, match="one line"):
        CaptureWriter(io.StringIO(), header={"note": "a\nb"})


def test_every_line_is_on_disk_before_close(tmp_path: Path) -> None:
    """A sniffer killed mid-capture leaves a valid file holding every line written so far."""
    path = tmp_path / "live.txt"
    writer = open_capture(path, source="test")
    writer.write(0.25, "box", WATER)
    writer.comment("knob turned")
    writer.write(0.5, "box", b"\x00")
    assert read_capture(str(path)).entries == [
        CaptureEntry(0.25, "box", WATER),
        CaptureEntry(0.5, "box", b"\x00"),
    ]
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(1.0, "box", WATER)


def test_write_stream_puts_each_frame_on_its_own_line() -> None:
    stream = io.StringIO()
    writer = CaptureWriter(stream, header={"date": "x"})
    writer.write_stream(1.0, Direction.REMOTE_TO_BOX, b"\x00" + HEATER_ON + WATER + b"\xa5")
    assert stream.getvalue().splitlines()[2:] == [
        "1.000000 remote 00  # garbage",
        "1.000000 remote A5 01 01 A7",
        "1.000000 remote A5 06 2F DA",
        "1.000000 remote A5  # incomplete frame",
    ]


# --- the splitter -------------------------------------------------------------------------


def test_splitter_keeps_frames_whole_across_chunks_and_times_them_by_first_byte() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(WATER[:2], 1.0) == []
    assert splitter.feed(WATER[2:] + b"\x00", 1.05) == [
        Segment(1.0, WATER, Frame(Command.WATER_TEMP, 0x2F), None),
        Segment(1.05, b"\x00", None, GARBAGE),
    ]


def test_splitter_reports_a_bad_sum_run_and_a_timed_out_partial() -> None:
    splitter = FrameSplitter()
    bad = bytes.fromhex("A5062FDB")
    assert splitter.feed(bad + WATER[:2], 1.0) == [Segment(1.0, bad, None, BAD_CHECKSUM)]
    assert splitter.feed(WATER[2:], 1.2) == [
        Segment(1.0, WATER[:2], None, TIMED_OUT),
        Segment(1.2, WATER[2:], None, GARBAGE),
    ]
    assert splitter.feed(b"\xa5", 2.0) == []
    assert splitter.flush() == [Segment(2.0, b"\xa5", None, INCOMPLETE)]
    counters = splitter.counters
    assert (counters.frames, counters.bad_checksums, counters.timeouts) == (0, 1, 1)
    assert counters.discarded_bytes == 3 + 2 + 2


def test_splitter_cuts_a_run_where_its_arrival_time_changes() -> None:
    """Each non-frame byte keeps its own arrival time, so a replay hands it to the decoder
    when it really came (a partial frame's 100 ms clock depends on it)."""
    splitter = FrameSplitter()
    assert splitter.feed(b"\xa5\x11", 1.0) == []
    assert splitter.feed(b"\x22\x33", 1.05) == [
        Segment(1.0, b"\xa5\x11", None, BAD_CHECKSUM),
        Segment(1.05, b"\x22\x33", None, GARBAGE),
    ]


_piece = st.one_of(
    st.builds(encode, st.integers(0, 255), st.integers(0, 255)),
    st.builds(
        lambda c, p, e: encode(c, p)[:3] + bytes(((encode(c, p)[3] + e) % 256,)),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(1, 255),
    ),
    st.binary(min_size=1, max_size=5),
    st.just(b"\xa5"),
    st.just(b"\xa5\xa5"),
)


@st.composite
def _timed_chunks(draw: st.DrawFn) -> list[tuple[float, bytes]]:
    """A byte stream in random chunks at random times, gaps straddling the 100 ms timeout."""
    stream = b"".join(draw(st.lists(_piece, max_size=25)))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    gap = st.one_of(st.integers(0, 200_000), st.integers(99_990, 100_010))
    t_us, timed = 0, []
    for chunk in chunks:
        if chunk:
            t_us += draw(gap)
            timed.append((t_us / 1e6, chunk))
    return timed


@given(_timed_chunks())
def test_splitter_decides_like_a_chunk_fed_decoder(chunks: list[tuple[float, bytes]]) -> None:
    reference = FrameDecoder()
    expected = [frame for t, data in chunks for frame in reference.feed(data, t)]
    splitter = FrameSplitter()
    segments = [s for t, data in chunks for s in splitter.feed(data, t)]
    assert [s.frame for s in segments if s.frame is not None] == expected
    assert splitter.counters == reference.counters
    segments += splitter.flush()
    assert b"".join(s.data for s in segments) == b"".join(data for _, data in chunks)
    assert [s.t for s in segments] == sorted(s.t for s in segments)


@given(_timed_chunks())
def test_a_capture_replays_through_a_decoder_to_the_same_frames(
    chunks: list[tuple[float, bytes]],
) -> None:
    """The promise behind ``spabench replay``: same frames, same times, same counters."""
    splitter = FrameSplitter()
    stream = io.StringIO()
    writer = CaptureWriter(stream, header={})
    live = []
    for t, data in chunks:
        for segment in splitter.feed(data, t):
            writer.write(segment.t, "box", segment.data, note=segment.note)
            if segment.frame is not None:
                live.append((segment.t, segment.frame))
    for segment in splitter.flush():
        writer.write(segment.t, "box", segment.data, note=segment.note)
    capture: Capture = parse_capture(io.StringIO(stream.getvalue()))
    decoder = FrameDecoder()
    replayed = [(e.t, f) for e in capture.entries for f in decoder.feed(e.data, e.t)]
    assert replayed == live
    assert decoder.counters == splitter.counters
