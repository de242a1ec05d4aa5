"""Text that identifies a run in the records — a unit's serial, who ran it, the station and
channel — must be text a person can read and every records backend can store.

A control character in it (a NUL pasted from a label printer's file, an escape sequence) is
refused where it is typed, in one line, before anything runs: a records server cannot store
a NUL at all (the run would be refused at upload, long after the unit left the bench), and
an escape sequence would rewrite the terminal of whoever lists the records.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def control_character(what: str, text: str) -> str | None:
    """Why ``text`` cannot identify ``what`` ("unit serial", "operator"...), or None. The
    text is quoted escaped, so the line shows where the character is without sending it."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    return (
        f"the {what} {text!r} holds a control character ({found.group()!r} at position "
        f"{found.start() + 1}); type it again without it"
    )
