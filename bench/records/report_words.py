"""The customer report's words: fault ids, measurements and runs as a spa owner reads them.

The record is written for technicians and machines: ``draw_w = 1499.2 W, limits 1000–2600``,
``= True``, "recorded only", "0x06 reports per second", operator ``virtual`` at station
``vm``. A customer reads "Heater power: 1,499.2 W (expected 1,000–2,600 W) — pass". This
module is that translation, in one place, so the page and the JSON say the same thing:

* :data:`FAULT_SENTENCES` — each SPEC §5 fault id as a sentence;
* :func:`measurement_sentence` — one measurement with its unit, its limits and its outcome;
* :func:`who_tested` / :func:`where_tested` — a run's operator and bench, never presenting the
  simulator's virtual person or its ``vm`` station as a person or a place.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bench.testing.record import Limits, Measurement, StepResult, TestRecord

SIMULATED_LABEL = "SIMULATED UNIT"
"""How a run on a simulated unit is labelled wherever the report shows it."""

# Fault ids of SPEC §5 in words a spa owner understands.
FAULT_SENTENCES: dict[str, str] = {
    "prcd-tripped": "The safety switch on the mains cord (PRCD) had switched off. It was reset; "
    "no part needed replacing.",
    "prcd-faulty": "The safety switch on the mains cord (PRCD) does not work as it should.",
    "transformer-dead": "The transformer that powers the electronics has failed, so the control "
    "box could not start.",
    "power-board-dead": "The main circuit board of the control box has failed, so the control "
    "box could not start.",
    "filter-pump-dead": "The filter pump does not run: it draws no power and no water flows.",
    "flow-switch-stuck-open": "The pump runs, but the flow switch does not notice the water "
    "flowing, so the heater is kept off for safety.",
    "flow-switch-stuck-closed": "The flow switch reports flowing water even with the pump off, "
    "which defeats a safety check of the heater.",
    "inlet-flow-switch-stuck-open": "The pump runs, but the flow switch at the heater's inlet "
    "does not notice the water flowing, so the heater is kept off for safety.",
    "outlet-flow-switch-stuck-open": "The pump runs, but the flow switch at the heater's outlet "
    "does not notice the water flowing, so the heater is kept off for safety.",
    "heater-open": "The heater does not heat: with water flowing it draws no power and the water "
    "does not warm up.",
    "heater-relay-welded": "The heater stays on when it is switched off, because a switch on the "
    "main circuit board is stuck.",
    "temp-sensor-open": "The water temperature sensor is broken or disconnected: the unit reads "
    "0 °C.",
    "temp-sensor-short": "The water temperature sensor is short-circuited: the unit reads an "
    "impossibly high temperature.",
    "blower-dead": "The bubble generator (air blower) does not run when bubbles are switched on.",
    "check-valve-leak": "Water gets past the check valve into the air blower, which trips the "
    "safety switch when the bubbles start.",
    "knob-reed-switch-stuck": "The blower runs but no bubbles come out: the switch in the "
    "rotation knob is stuck.",
    "ozone-dead": "The ozone generator does not work.",
    "uvc-dead": "The UV-C lamp does not work.",
    "jet-pump-dead": "The jet pump does not run when the jets are switched on.",
    "link-noisy": "The connection between the control panel and the box is unreliable (many "
    "garbled messages): the cable or its plug.",
    "panel-dead": "The control panel sends no commands to the box.",
}

# Measurement names (as the step library declares them) in plain words; a name not here is
# shown by its declared description, cleaned of hex codes and "operator:" prefixes.
MEASUREMENT_WORDS: dict[str, str] = {
    "handshake": "The control box answered the bench",
    "water_reports_per_s": "Temperature reports per second",
    "flow_reports_per_s": "Flow reports per second",
    "answered": "The control box answered",
    "answer_ms": "Time to answer",
    "water_c": "Water temperature reported by the unit",
    "unit_stopped": "The TEST button switched the unit off",
    "unit_restarted": "The RESET button switched it back on",
    "prcd_light": "Light on the mains safety switch (PRCD) on",
    "restored_by_reset": "The unit came back after a reset of the safety switch",
    "idle_w": "Power with everything off",
    "standby_w": "Standby power",
    "loads_idle": "No pump or blower heard with everything off",
    "unheated_rise_c": "Water warming with everything off",
    "flow": "Water flow reported by the unit",
    "flow_report": "Flow switches closed (0 none, 1 inlet, 2 outlet, 3 both)",
    "unit_running": "The unit kept working after switching",
    "pump_draw_w": "Filter pump power when it started",
    "f1_applies": "The pump runs without full flow (flow error expected)",
    "reset_report": "The flow error cleared by a long press of Filter",
    "true_flow_after_reset": "The true flow reported again after that",
    "start_c": "Water before heating",
    "rise_c": "Water warmed by",
    "rise_s": "Time to warm up",
    "bubbles_visible": "Bubbles seen",
    "blower_running": "Air blower running",
    "blower_started": "Air blower started",
    "auto_off_s": "Time until the bubbles stopped by themselves",
    "running_before": "Blower still running before the earliest stop time",
    "stopped_after": "Blower stopped after the latest stop time",
    "flow_before": "Water flowing before the test",
    "reports_during_silence": "The unit kept reporting while the control panel was silent",
    "after_silence_w": "Power after the control panel went silent",
    "bad_sum_percent": "Garbled messages",
    "discarded_percent": "Unreadable data",
    "lost_report_percent": "Missing reports",
    "frames": "Messages received from the unit",
    "box_frames": "Messages received from the unit",
    "spoiled_percent": "Garbled or unreadable data",
    "state_commands": "Commands sent by the control panel",
    "key_press": "Key press received from the control panel",
    "burst_states": "Commands in the key-press burst",
}

OUTCOME_WORDS: dict[str, str] = {
    "pass": "pass",
    "marginal": "pass, close to the limit",
    "fail": "FAIL",
    "unset": "not measured",
}

UNIT_WORDS: dict[str, str] = {"1/s": "per second"}
"""Units a customer would not read as written."""

STEP_OUTCOME_WORDS: dict[str, str] = {
    "pass": "pass",
    "fail": "FAIL",
    "error": "not completed",
    "skipped": "not tested",
}

_HEX_CODES = re.compile(r"\s*\((?:0x)?[0-9A-F]{2}(?:[ /≠=]+(?:0x)?[0-9A-F]{2})*\)")
_LEADING_HEX = re.compile(r"\b0x[0-9A-Fa-f]{2}\b\s*")


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def plain_name(step: StepResult, item: Measurement) -> str:
    """What a measurement is, in words: a power change is the step's power ("Heater power"),
    known names have their words, the rest their description without codes."""
    if item.name == "draw_w" and step.title:
        if re.search(r"\bdraw\b", step.title):
            return sentence_case(re.sub(r"\s*\bdraw\b", " power", step.title, count=1).strip())
        return f"Power drawn ({step.title[:1].lower()}{step.title[1:]})"
    if item.name in MEASUREMENT_WORDS:
        return MEASUREMENT_WORDS[item.name]
    text = item.description or item.name.replace("_", " ")
    if text.lower().startswith("operator:"):
        text = text.split(":", 1)[1].strip() + " (seen by the technician)"
    text = _LEADING_HEX.sub("", _HEX_CODES.sub("", text))
    return sentence_case(text.strip())


def format_number(value: float) -> str:
    """``1499.2`` → ``"1,499.2"``; ``20.0`` → ``"20"``; two decimals at most."""
    rounded = round(value, 2)
    if rounded == int(rounded):
        return f"{int(rounded):,}"
    return f"{rounded:,.2f}".rstrip("0").rstrip(".")


def format_value(value: float | str | bool | None, unit: str = "") -> str:
    """A measured value as a person reads it: ``"1,499.2 W"``, ``"yes"``, ``"—"``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        if isinstance(value, float) and math.isnan(value):
            return "invalid"
        if isinstance(value, float) and math.isinf(value):
            return "invalid"
        text = format_number(float(value))
    else:
        text = str(value)
    return f"{text} {UNIT_WORDS.get(unit, unit)}".strip()


def limits_phrase(limits: Limits, unit: str) -> str:
    """The limits as a customer reads them ("expected 1,000–2,600 W", "expected yes");
    empty when the measurement has none (it is a reading kept for reference)."""
    suffix = f" {UNIT_WORDS.get(unit, unit)}" if unit else ""
    if limits.expected is not None:
        return f"expected {format_value(limits.expected, unit)}"
    if limits.low is not None and limits.high is not None:
        return f"expected {format_number(limits.low)}–{format_number(limits.high)}{suffix}"
    if limits.low is not None:
        return f"expected at least {format_number(limits.low)}{suffix}"
    if limits.high is not None:
        return f"expected at most {format_number(limits.high)}{suffix}"
    return ""


def has_limits(limits: Limits) -> bool:
    return any(value is not None for value in (limits.low, limits.high, limits.expected))


@dataclass(frozen=True)
class MeasurementLine:
    """One measurement in words, plus its parts for tables and the JSON."""

    step: str
    name: str
    """The measurement's id in the record (``draw_w``), for the JSON only."""
    label: str
    value: str
    expected: str
    outcome: str
    outcome_text: str

    @property
    def text(self) -> str:
        """``"Heater power: 1,499.2 W (expected 1,000–2,600 W) — pass"``."""
        if self.outcome == "unset":
            line = f"{self.label}: not measured"
            return line + (f" ({self.expected})" if self.expected else "")
        line = f"{self.label}: {self.value}"
        if self.expected:
            line += f" ({self.expected})"
        if self.outcome_text:
            line += f" — {self.outcome_text}"
        return line


def measurement_line(step: StepResult, item: Measurement) -> MeasurementLine:
    limited = has_limits(item.limits)
    outcome_text = OUTCOME_WORDS.get(item.outcome, item.outcome)
    if not limited and item.outcome != "unset":
        outcome_text = ""  # a reading kept for reference is neither passed nor failed
    return MeasurementLine(
        step=step.title or step.name,
        name=item.name,
        label=plain_name(step, item),
        value=format_value(item.value, item.unit) if item.value is not None else "—",
        expected=limits_phrase(item.limits, item.unit),
        outcome=item.outcome,
        outcome_text=outcome_text,
    )


@dataclass(frozen=True)
class StepLines:
    """A step of a run in words: its title, outcome, a note when it was not judged, its
    measurements."""

    title: str
    outcome: str
    outcome_text: str
    note: str
    measurements: list[MeasurementLine]


def step_lines(record: TestRecord) -> list[StepLines]:
    lines = []
    for step in record.steps:
        note = ""
        if step.outcome == "skipped":
            reason = step.message or "not needed on this unit"
            note = f"Not tested: {reason}" + (f" (needs {step.needs})" if step.needs else "")
        elif step.outcome in ("fail", "error") and step.message:
            note = f"Bench note: {step.message}"
        measurements = (
            []
            if step.outcome == "skipped"
            else [measurement_line(step, m) for m in step.measurements]
        )
        lines.append(
            StepLines(
                title=step.title or step.name,
                outcome=step.outcome,
                outcome_text=STEP_OUTCOME_WORDS.get(step.outcome, step.outcome),
                note=note,
                measurements=measurements,
            )
        )
    return lines


def who_tested(record: TestRecord) -> str:
    """Who ran the test, for the page: the technician's name; for a simulated unit the
    simulator's virtual person is not a person ("simulated operator")."""
    if record.simulated:
        return "simulated operator (no person at a bench)"
    return record.operator or "not recorded"


def where_tested(record: TestRecord) -> str:
    """Which bench ran the test: the station's name, or for a simulated unit none at all."""
    if record.simulated:
        return "simulator (no bench, no real unit)"
    return record.station or "not recorded"
