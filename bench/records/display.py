"""How the records show a moment to a person: one format, everywhere.

A technician reads ``order show``, ``history``, the console and a customer's report side by
side; two formats for the same instant ("2026-03-14T09:30:00.000000+00:00" next to
"2026-03-14 10:30") look like two different events. So every moment shown to a person goes
through :func:`display_time`: the workshop's local time to the minute, with its zone, e.g.
``2026-03-14 10:30 CET``. Machine formats (the database, the JSON export) stay ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import date, datetime

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"
"""The one format of a moment shown to a person (local time, to the minute, with the zone)."""
DATE_FORMAT = "%Y-%m-%d"


def display_time(moment: datetime | str | None, *, empty: str = "—") -> str:
    """``moment`` (aware datetime or ISO 8601 text) as the workshop reads it; ``empty`` for
    None or text that is not a time (shown as it is, never hidden)."""
    if moment is None or moment == "":
        return empty
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        moment = parsed
    if moment.tzinfo is None:
        raise ValueError("a moment shown to a person must be timezone-aware")
    return moment.astimezone().strftime(TIME_FORMAT)


def display_date(day: date | None, *, empty: str = "—") -> str:
    """A calendar date (purchase, promise): ``2026-03-14``."""
    return empty if day is None else day.strftime(DATE_FORMAT)
