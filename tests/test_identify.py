"""Issue 12: the bench tells the variant where the wire shows it (1A/1B frames → a
Super-Camaro-like box, 07 0C repeated → a Série-D-like box), refuses a model the wire
contradicts, and otherwise asks the operator for the model plate instead of assuming one."""

from __future__ import annotations

import pytest

from bench.testing.identify import (
    ModelPlateError,
    WireWatch,
    choose_model,
    fitting,
    listen,
    listen_window_s,
)
from bench.testing.instruments.operator import AnswersOperator, VirtualOperator
from protocols.mspa.frames import Frame
from protocols.mspa.models import available_models, load_model
from spasim.control import BoxWorkbench
from spasim.rig import build_box_rig

PLATES = [load_model(name) for name in available_models()]


def heard(profile: str) -> tuple[object, float, object]:
    rig = build_box_rig(profile, seed=1)
    watch = listen(rig.driver, rig.port, listen_window_s(PLATES) + 6.0)  # + the box's boot
    return watch, watch.listened_s(rig.driver.now()), rig.box


def scripted(seconds: float, *, extra: bool = False, repeat_s: float = 0.0) -> WireWatch:
    """A box as the model files describe it (AH/ET/EE): 09 00 and 07 0C at power-on, 06
    every 1.0132 s (with 1A when ``extra``), 08 0.81 s later (with 1B), 07 0C again every
    ``repeat_s`` when it repeats it."""
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
