"""What a records refusal tells the technician to do next, in ``spabench``'s words.

The records decide and explain; a refusal ends with the command that would help. Those
commands are written here once, as templates, so that a front end other than the command
line (the console) can find each piece of advice in a refusal and say it in its own terms
(:func:`bench.console.order_actions.in_console_terms`) without keeping a copy of the wording
that would silently stop matching when the wording changes.
"""

from __future__ import annotations

import re

ACCEPT_SIMULATED = "(run {run} passed on a SIMULATED UNIT: add --simulated to accept it)"
"""Verification: the only passing run was on a simulated unit."""
WRITE_NOTE = "(--note ...)"
"""Verification of a repair without a part: say what was done and why."""
RUN_PLAN = "run 'spabench run --port PORT --unit {unit} --order {order} --plan {plan}'"
"""Verification: the run that would check the part."""
BACK_TO_DIAGNOSIS = "('spabench order status {order} diagnosed --note ...')"
"""Hand-back after a failure: send the order back to diagnosis."""
FILE_SIMULATED = "(spabench run --simulated)"
"""A simulated run on a customer's order: say so explicitly."""


def pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching ``template`` as filled in: each ``{name}`` becomes the
    named group ``name`` (no spaces), the rest matches literally; leading space is included
    so a replacement can drop or reword the whole parenthesis."""
    pieces = re.split(r"\{(\w+)\}", template)
    body = "".join(
        re.escape(piece) if index % 2 == 0 else rf"(?P<{piece}>\S+?)"
        for index, piece in enumerate(pieces)
    )
    return re.compile(r"\s*" + body)
