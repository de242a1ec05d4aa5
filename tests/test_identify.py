"""Issue 12: the bench tells the variant where the wire shows it (1A/1B frames → a
Super-Camaro-like box, 07 0C repeated → a Série-D-like box), refuses a model the wire
contradicts, and otherwise asks the operator for the model plate instead of assuming one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.testing.identify import (
    ModelPlateError,
    WireWatch,
    choose_model,
    fitting,
    listen,
    listen_window_s,
)
from bench.testing.instruments.operator import (
    AnswersOperator,
    OperatorError,
    RehearsalOperator,
    VirtualOperator,
)
from protocols.mspa.frames import Frame
from protocols.mspa.models import available_models, load_model
from spasim.control import BoxWorkbench
from spasim.rig import build_box_rig
from tests.cli_runner import one_line, spabench

PLATES = [load_model(name) for name in available_models()]


def heard(profile: str) -> tuple[object, float, object]:
    rig = build_box_rig(profile, seed=1)
    watch = listen(rig.driver, rig.port, listen_window_s(PLATES) + 6.0)  # + the box's boot
    return watch, watch.listened_s(rig.driver.now()), rig.box


def scripted(
    seconds: float, *, extra: bool = False, repeat_s: float = 0.0, since: float = 0.0
) -> WireWatch:
    """A box as the model files describe it (AH/ET/EE): 09 00 and 07 0C at power-on, 06
    every 1.0132 s (with 1A when ``extra``), 08 0.81 s later (with 1B), 07 0C again every
    ``repeat_s`` when it repeats it; heard from ``since`` on."""
    watch = WireWatch()
    events: list[tuple[float, Frame]] = [(5.46, Frame(0x09, 0x00)), (5.66, Frame(0x07, 0x0C))]
    t = 6.06
    while t < seconds:
        events.append((t, Frame(0x06, 0x28)))
        events.append((t + 0.81, Frame(0x08, 0x00)))
        if extra:
            events.append((t + 0.01, Frame(0x1A, 0x00)))
            events.append((t + 0.82, Frame(0x1B, 0x00)))
        t += 1.0132
    if repeat_s:
        t = 5.66 + repeat_s
        while t < seconds:
            events.append((t, Frame(0x07, 0x0C)))
            t += repeat_s
    for at, frame in sorted(events, key=lambda item: item[0]):
        if at >= since:
            watch(at, "box", frame)
    return watch


@pytest.mark.parametrize(
    ("extra", "repeat_s", "expected"),
    [(True, 0.0, ["super-camaro"]), (False, 10.0, ["series-d"])],
)
def test_the_published_signs_name_their_model(
    extra: bool, repeat_s: float, expected: list[str]
) -> None:
    seconds = 6.0 + listen_window_s(PLATES)
    watch = scripted(seconds, extra=extra, repeat_s=repeat_s)
    listened = watch.listened_s(seconds)
    assert fitting(PLATES, watch, listened) == expected
    plate, how = choose_model(watch, listened, given=None, plates=PLATES, operator=None)
    assert plate.name == expected[0] and "the wire shows it" in how
    plain = scripted(seconds)
    assert set(fitting(PLATES, plain, plain.listened_s(seconds))) == set(available_models()) - {
        "super-camaro",
        "series-d",
    }


def test_too_short_a_listen_does_not_rule_out_a_repeating_box() -> None:
    watch = scripted(12.0)  # 6 s of reports: a 10 s repeat may not have come yet
    assert "series-d" in fitting(PLATES, watch, watch.listened_s(12.0))


@pytest.mark.parametrize(
    ("profile", "expected"), [("super-camaro", ["super-camaro"]), ("series-d", ["series-d"])]
)
def test_the_wire_names_a_variant_that_shows_itself(profile: str, expected: list[str]) -> None:
    watch, seconds, _ = heard(profile)
    assert fitting(PLATES, watch, seconds) == expected  # type: ignore[arg-type]
    plate, how = choose_model(watch, seconds, given=None, plates=PLATES, operator=None)  # type: ignore[arg-type]
    assert plate.name == profile
    assert "the wire shows it" in how


def test_a_variant_the_wire_cannot_tell_is_read_off_the_model_plate() -> None:
    watch, seconds, box = heard("elite-6")
    names = fitting(PLATES, watch, seconds)  # type: ignore[arg-type]
    assert "elite-6" in names and "premium-4" in names  # UVC code and jets are not on the wire
    assert "super-camaro" not in names and "series-d" not in names
    # Nobody to ask: refused, not assumed to be premium-4.
    with pytest.raises(ModelPlateError, match="model plate"):
        choose_model(watch, seconds, given=None, plates=PLATES, operator=None)  # type: ignore[arg-type]
    person = VirtualOperator(BoxWorkbench(box))
    plate, how = choose_model(watch, seconds, given=None, plates=PLATES, operator=person)  # type: ignore[arg-type]
    assert plate.name == "elite-6" and "model plate" in how
    assert person.asked == ["model-plate"]
    answers = AnswersOperator({"model-plate": "elite-6"})
    plate, _ = choose_model(watch, seconds, given=None, plates=PLATES, operator=answers)  # type: ignore[arg-type]
    assert plate.name == "elite-6"
    wrong = AnswersOperator({"model-plate": "super-camaro"})  # contradicted by the wire
    with pytest.raises(Exception, match="must be one of"):
        choose_model(watch, seconds, given=None, plates=PLATES, operator=wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("profile", "given", "word"),
    [
        ("super-camaro", "premium-4", "1A"),
        ("premium-4", "super-camaro", "none in"),
        ("series-d", "elite-6", "repeats 07 0C"),
        ("premium-4", "series-d", "none in"),
    ],
)
def test_a_model_the_wire_contradicts_is_refused(profile: str, given: str, word: str) -> None:
    watch, seconds, _ = heard(profile)
    with pytest.raises(ModelPlateError, match=word):
        choose_model(watch, seconds, given=load_model(given), plates=PLATES, operator=None)  # type: ignore[arg-type]


def test_a_model_the_wire_agrees_with_is_taken() -> None:
    watch, seconds, _ = heard("aurora-urban")
    plate, how = choose_model(
        watch,
        seconds,
        given=load_model("aurora-urban"),
        plates=PLATES,
        operator=None,  # type: ignore[arg-type]
    )
    assert plate.name == "aurora-urban" and "the wire agrees" in how


# -- a silent box (issue 12 review, bug 2) --------------------------------------------------


class Reader:
    """A person who reads ``model`` off the plate and notes the choices offered."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.offered: list[list[str]] = []

    def choose(self, prompt_id: str, question: str, choices: list[str]) -> str:
        assert prompt_id == "model-plate"
        self.offered.append(list(choices))
        return self.model


@pytest.mark.parametrize("fault", ["prcd-tripped", "transformer-dead", "power-board-dead"])
def test_a_silent_box_is_read_off_the_model_plate(fault: str) -> None:
    """A box that says nothing (the very boxes the bench diagnoses) cannot show its variant:
    the operator reads the plate, choosing among every shipped model — not a usage error."""
    rig = build_box_rig("series-d", seed=1, faults=[fault])
    watch = listen(rig.driver, rig.port, listen_window_s(PLATES) + 6.0)
    seconds = watch.listened_s(rig.driver.now())
    assert watch.box_frames == 0
    reader = Reader("series-d")
    plate, how = choose_model(watch, seconds, given=None, plates=PLATES, operator=reader)
    assert plate.name == "series-d" and "model plate" in how and "said nothing" in how
    assert len(reader.offered) == 1 and set(reader.offered[0]) == set(available_models())
    person = VirtualOperator(BoxWorkbench(rig.box))  # a person reads the plate of a dead box
    plate, _ = choose_model(watch, seconds, given=None, plates=PLATES, operator=person)
    assert plate.name == "series-d" and person.asked == ["model-plate"]
    # Nobody to ask: refused, naming --profile.
    with pytest.raises(ModelPlateError, match="--profile"):
        choose_model(watch, seconds, given=None, plates=PLATES, operator=None)
    with pytest.raises(ModelPlateError, match="no answer for prompt 'model-plate'"):
        choose_model(watch, seconds, given=None, plates=PLATES, operator=AnswersOperator({}))


def test_spabench_run_asks_for_the_plate_of_a_silent_box(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``spabench run`` on a line where nothing answers: with an answers file the plate is
    read and the run happens; with nobody at the terminal it is a one-line usage error."""
    answers = tmp_path / "answers.toml"
    answers.write_text('model-plate = "elite-6"\n', encoding="utf-8")
    common = ("run", "--port", "loop://", "--speed", "100", "--plan", "verify-prcd", "--no-store")
    code, out, err = spabench(capsys, *common, "--answers", str(answers))
    assert code != 2 and "Traceback" not in out + err, (code, err)
    assert "unit: model elite-6 (from the model plate; the box said nothing" in out, out
    one_line(spabench(capsys, *common), 2, "said nothing", "give --profile")


def test_a_rehearsal_channel_that_fails_at_the_plate_prompt_is_an_operator_error() -> None:
    """The rehearsal operator's channel dies before the model-plate prompt: an
    OperatorError (then a refusal naming --profile), not a ControlError traceback."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        operator = RehearsalOperator(f"127.0.0.1:{server.getsockname()[1]}")
    try:  # the served unit is gone: its listening socket closed with our connection queued
        with pytest.raises(OperatorError, match="control channel"):
            operator.choose("model-plate", "which model?", list(available_models()))
        with pytest.raises(ModelPlateError, match="--profile"):
            choose_model(WireWatch(), 12.0, given=None, plates=PLATES, operator=operator)
    finally:
        operator.close()


# -- a power-on 07 0C is no repeat (issue 12 review, bug 3) ---------------------------------


@pytest.mark.parametrize("start_s", [5.5, 5.6])
def test_listening_from_between_09_00_and_07_0c_sees_no_repeat(start_s: float) -> None:
    """Capture: 09 00 at 5.46 s, 07 0C at 5.66 s. A bench that starts listening between
    them hears a lone 07 0C before any report: the power-on one, not a Série-D repeat."""
    watch = scripted(6.0 + listen_window_s(PLATES), since=start_s)
    assert watch.boot_09_at is None and watch.repeats_07 == 0
    seconds = watch.listened_s(6.0 + listen_window_s(PLATES))
    names = fitting(PLATES, watch, seconds)
    assert "premium-4" in names and "series-d" not in names
    plate, how = choose_model(
        watch, seconds, given=load_model("premium-4"), plates=PLATES, operator=None
    )
    assert plate.name == "premium-4" and "the wire agrees" in how
    repeating = scripted(6.0 + listen_window_s(PLATES), repeat_s=10.0, since=start_s)
    assert repeating.repeats_07 == 1  # the one 10 s later is a repeat
    assert fitting(PLATES, repeating, repeating.listened_s(6.0 + listen_window_s(PLATES))) == [
        "series-d"
    ]


def test_a_healthy_box_heard_from_just_after_its_09_00_is_its_own_model() -> None:
    """The same on the virtual boxes: premium-4 is not called Série-D, Série-D still is."""
    for profile, expected in (("premium-4", False), ("series-d", True)):
        rig = build_box_rig(profile, seed=1)
        rig.driver.sleep(5.56)  # after 09 00 (5.46 s), before 07 0C (5.66 s)
        watch = listen(rig.driver, rig.port, listen_window_s(PLATES))
        names = fitting(PLATES, watch, watch.listened_s(rig.driver.now()))
        assert ("series-d" in names) is expected, (profile, names)
        assert profile in names


def test_07_0c_twice_is_a_repeat_even_before_any_report() -> None:
    watch = WireWatch()
    watch(0.0, "box", Frame(0x07, 0x0C))
    assert watch.repeats_07 == 0
    watch(10.0, "box", Frame(0x07, 0x0C))
    assert watch.repeats_07 == 1
