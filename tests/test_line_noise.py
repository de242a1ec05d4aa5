"""Line noise as a bad cable makes it (issue 9): any bit of any byte — sync, command,
parameter, sum — in both directions, plus lost and doubled bytes; and the bench's
link-quality step counting what a receiver can count."""

from __future__ import annotations

import pytest

from bench.testing.plans import load_plan
from bench.testing.runner import Runner
from bench.testing.targets import virtual_box_target
from protocols.line_noise import LineNoise
from protocols.mspa import Command, Frame, encode

FRAME = encode(Command.WATER_TEMP, 0x2F)


def test_flips_reach_every_byte_of_a_frame_including_sync_and_command() -> None:
    noise = LineNoise(flip=0.05, seed=1)
    hit = set()
    for _ in range(2000):
        out = noise(FRAME)
        assert len(out) == len(FRAME)  # flips only
        hit.update(i for i in range(4) if out[i] != FRAME[i])
        for i in range(4):
            assert bin(out[i] ^ FRAME[i]).count("1") <= 1  # one bit per flipped byte
    assert hit == {0, 1, 2, 3}


def test_drops_and_duplicates_change_the_byte_count_as_counted() -> None:
    noise = LineNoise(drop=0.05, duplicate=0.05, seed=2)
    sent = received = 0
    for _ in range(1000):
        out = noise(FRAME)
        sent += len(FRAME)
        received += len(out)
    counters = noise.counters
    assert counters.dropped > 0 and counters.duplicated > 0
    assert received == sent - counters.dropped + counters.duplicated


def test_the_same_seed_is_the_same_noise_and_a_quiet_line_is_clean() -> None:
    stream = FRAME * 500
    assert LineNoise(flip=0.01, drop=0.01, seed=3)(stream) == LineNoise(
        flip=0.01, drop=0.01, seed=3
    )(stream)
    assert LineNoise()(stream) == stream
    with pytest.raises(ValueError, match="flip"):
        LineNoise(flip=0.9)


def _keepalive_answers(faults: list[str], count: int = 400) -> tuple[int, int]:
    """Send keep-alives from the bench; (keep-alives sent, ``0B 86`` answers heard)."""
    target = virtual_box_target(faults=faults, seed=5)
    link = target.link
    assert link is not None
    answers: list[float] = []
    asked: list[float] = []

    def listen(time: float, sender: str, frame: Frame) -> None:
        if sender == "box" and frame == Frame.make(Command.KEEPALIVE, 0x86):
            answers.append(time)
        if sender == "remote" and frame == Frame.make(Command.KEEPALIVE, 0x00):
            asked.append(time)  # ours, and the remote duty's own once a minute

    target.start()
    target.driver.sleep(10.0)
    link.listeners.append(listen)
    for _ in range(count):
        link.send_frame(Frame.make(Command.KEEPALIVE, 0x00))
        target.driver.sleep(0.2)
    target.driver.sleep(1.0)
    target.close()
    return len(asked), len(answers)


def test_a_noisy_cable_loses_frames_both_ways_a_good_one_none() -> None:
    """Each keep-alive must cross the line twice: remote→box and the answer box→remote."""
    asked, answered = _keepalive_answers([])
    assert asked >= 400 and answered == asked
    asked, answered = _keepalive_answers(["link-noisy"])
    assert asked * 0.02 < asked - answered < asked * 0.3  # ≈ 5 % of frames damaged each way


@pytest.mark.parametrize(("faults", "clean"), [([], True), (["link-noisy"], False)])
def test_link_quality_counts_bad_sums_discarded_bytes_and_lost_reports(
    faults: list[str], clean: bool
) -> None:
    record = Runner(load_plan("verify-cable"), virtual_box_target(faults=faults, seed=6)).run()
    step = next(s for s in record.steps if s.kind == "link-quality")
    values = {m.name: m.value for m in step.measurements}
    if clean:
        assert values["bad_sum_percent"] == 0 and values["discarded_percent"] == 0
        assert values["lost_report_percent"] == 0
        assert record.verdict == "pass"
    else:
        assert float(values["bad_sum_percent"] or 0) > 1.0
        assert float(values["discarded_percent"] or 0) > 0.0
        assert float(values["lost_report_percent"] or 0) > 0.0
        assert record.verdict == "fail"
        assert [p.part_number for p in record.suspected_parts] == ["cable"]
