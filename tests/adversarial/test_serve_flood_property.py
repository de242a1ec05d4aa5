"""A served box under any flood, in process: what it hears and says stays bounded.

The box is plugged in through the real :class:`~spasim.serve.Server` (so the server's own
receive/transmit bounds are what is tested) over a scripted link on a simulated clock: a
flood of any shape arrives at chosen simulated times, and every byte the box puts on the
link is recorded with the time it left. Nothing waits in wall time; hypothesis picks the
flood. What is judged is the wire: how many bytes came out, when the reports left.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from protocols.driver import SimulatedDriver
from protocols.links import Link
from protocols.mspa import Command, Frame, FrameDecoder
from protocols.mspa.frames import FRAME_SECONDS
from spasim.board import VirtualBox
from spasim.profiles import load_profile
from spasim.serve import Server

LINE_BYTES_PER_S = 960.0
KEEPALIVE = bytes(Frame(Command.KEEPALIVE, 0))
HANDSHAKES = [bytes.fromhex(h) for h in ("a50b00b0", "a50a00af", "a51100b6", "a51000b5")]


class ScriptedLink(Link):
    """A client whose bytes arrive when the test says; what the box writes is recorded."""

    url = "scripted://client"

    def __init__(self, driver: SimulatedDriver) -> None:
        self.driver = driver
        self.inbox: deque[bytes] = deque()
        self.written: list[tuple[float, bytes]] = []

    def read(self, timeout: float | None = 0.0) -> bytes:
        return self.inbox.popleft() if self.inbox else b""

    def write(self, data: bytes) -> None:
        self.written.append((self.driver.now(), bytes(data)))

    def close(self) -> None:
        self.inbox.clear()


class SelectlessDriver(SimulatedDriver):
    """A simulated driver that lets a port register for "readable" like the real one does;
    the test calls the registered callback when it delivers bytes (what ``select`` would)."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: dict[int, Callable[[], None]] = {}

    def add_reader(self, link: Link, on_readable: Callable[[], None]) -> None:
        self.readers[id(link)] = on_readable

    def remove_reader(self, link: Link) -> None:
        self.readers.pop(id(link), None)


class OneClient:
    """An endpoint with one scripted client, plugged in at once."""

    address = "scripted"

    def __init__(self, link: ScriptedLink) -> None:
        self.link = link

    def open(self, driver: object, connect: Callable[[Link], None]) -> None:
        connect(self.link)

    def client_gone(self) -> None:
        return None

    def close(self) -> None:
        return None


def serve_flood(chunks: list[tuple[float, bytes]], until: float) -> tuple[ScriptedLink, float]:
    """Serve a box to a client that sends ``chunks`` (at simulated times); the link and the
    box's report period."""
    driver = SelectlessDriver()
    link = ScriptedLink(driver)
    profile = load_profile("premium-4")
    box = VirtualBox(driver.scheduler, None, profile, water_c=30.0)
    server = Server(driver, box, OneClient(link), sender="box")
    server.start()

    def arrive(data: bytes) -> None:
        link.inbox.append(data)
        callback = driver.readers.get(id(link))
        if callback is not None:
            callback()

    for when, data in chunks:
        driver.scheduler.call_at(when, arrive, data)
    driver.sleep(until)
    server.close()
    return link, profile.link_report_period_s


def reports(link: ScriptedLink) -> list[float]:
    """When each water-temperature report finished leaving the box."""
    decoder = FrameDecoder()
    times = []
    for when, data in link.written:
        for frame in decoder.feed(data, when):
            if frame.command == Command.WATER_TEMP:
                times.append(when)
    return times


floods = st.lists(
    st.tuples(
        st.floats(0.0, 0.05),  # simulated seconds since the previous chunk
        st.integers(1, 2048),  # frames in the chunk
        st.sampled_from(["keepalive", "handshakes", "garbage"]),
    ),
    min_size=1,
    max_size=400,
)


def _chunks(flood: list[tuple[float, int, str]], start: float) -> list[tuple[float, bytes]]:
    chunks = []
    when = start
    for gap, frames, kind in flood:
        when += gap
        if kind == "keepalive":
            data = KEEPALIVE * frames
        elif kind == "handshakes":
            data = b"".join(HANDSHAKES[i % 4] for i in range(frames))
        else:
            data = bytes((i * 37) & 0xFF for i in range(frames * 4))
        chunks.append((when, data))
    return chunks


@given(floods)
def test_a_flooded_box_says_no_more_than_the_line_carries_and_keeps_reporting(
    flood: list[tuple[float, int, str]],
) -> None:
    start = 7.0  # the box is running (boot frames at 5.46–5.66 s)
    chunks = _chunks(flood, start)
    end = max(chunks[-1][0], start) + 5.0
    link, period = serve_flood(chunks, end)

    # Never more out than the line carries: bytes leave one at a time at 9600 8N1.
    times = [when for when, _ in link.written]
    out = sum(len(data) for _, data in link.written)
    assert out <= (end - 0.0) * LINE_BYTES_PER_S + 4

    if any(kind == "handshakes" for _, _, kind in flood):
        return  # a handshake restarts the box's report schedule: nothing to time then
    # The reports keep their period: none lost, none later than the frame being sent.
    series = [t for t in reports(link) if t >= start]
    assert len(series) >= int((end - start) / period) - 1
    for earlier, later in itertools.pairwise(series):
        assert abs((later - earlier) - period) <= FRAME_SECONDS + 1e-9, (earlier, later)
    assert times == sorted(times)


@given(st.integers(1, 50_000), st.floats(0.0, 2.0))
def test_a_keepalive_flood_leaves_no_backlog_behind(frames: int, spread: float) -> None:
    """However many keep-alives arrive, the box answers no more of them than a 9600-baud
    line could have carried (plus its small receive buffer), and once the flood stops its
    transmit queue is drained within a fraction of a second: the next second is reports."""
    start = 7.0
    chunks = [(start + spread * i / 8, KEEPALIVE * (frames // 8 + 1)) for i in range(8)]
    flood_end = start + spread
    end = flood_end + 3.0
    link, period = serve_flood(chunks, end)
    answer = bytes(Frame(Command.KEEPALIVE, 0x86))
    answers = [when for when, data in link.written if data == answer]
    assert len(answers) <= (flood_end - start) * LINE_BYTES_PER_S / 4 + 256 / 4 + 1
    late = [when for when in answers if when > flood_end + 0.5]
    assert not late, f"{len(late)} answers still queued {late[-1] - flood_end:.1f} s after"
    assert [t for t in reports(link) if t > end - 2 * period], "reports after the flood"


@given(st.floats(0.5, 3.0), st.floats(0.0, FRAME_SECONDS))
def test_a_line_rate_keepalive_flood_delays_reports_by_one_frame_at_most(
    factor: float, phase: float
) -> None:
    """Keep-alives arriving one by one as fast as (or faster than) the line carries them:
    the box is answering all the time, and a report waits at most for the answer on the
    wire, never behind a queue of them."""
    start = 7.0 + phase
    spacing = FRAME_SECONDS / factor
    count = int(10.0 / spacing)
    chunks = [(start + i * spacing, KEEPALIVE) for i in range(count)]
    link, period = serve_flood(chunks, start + 10.0)
    answers = sum(data == bytes(Frame(Command.KEEPALIVE, 0x86)) for _, data in link.written)
    assert answers >= 10.0 / FRAME_SECONDS * 0.4, "the box answers the flood"
    series = [t for t in reports(link) if t >= start]
    assert len(series) >= 9
    for earlier, later in itertools.pairwise(series):
        assert abs((later - earlier) - period) <= FRAME_SECONDS + 1e-9, (earlier, later)
