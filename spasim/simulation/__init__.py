"""Accelerated simulation of one box run by its panel: the trace behind ``spasim simulate``.

A spa owner's question is "how long until it is warm, what does it cost, what happens when
someone presses bubbles"; a developer's is "does the thermostat hold, does the auto-off
fire". Both are answered by running the real box and panel on a simulated clock and
writing down what happens. Three seams, one module each:

* :mod:`~spasim.simulation.scenario` — what to run (:class:`Scenario`: profile, hours,
  set-point, key presses, lid, faults) and the checks that it can run;
* :mod:`~spasim.simulation.recorder` — runs it (:func:`simulate`) and records a row at every
  change and every sample;
* :mod:`~spasim.simulation.trace` — what came out (:class:`Trace`: rows, events) and what a
  person reads from it (:class:`Summary`, :func:`format_summary`, the CSV).
"""

from spasim.simulation.recorder import simulate
from spasim.simulation.scenario import (
    AMBIENT_RANGE_C,
    DEFAULT_PROFILE,
    DEFAULT_SAMPLE_S,
    MAX_HOURS,
    MAX_ROWS,
    SEED_RANGE,
    WATER_RANGE_C,
    LidOff,
    Scenario,
    TimedFault,
)
from spasim.simulation.trace import (
    CSV_COLUMNS,
    NOTABLE_KINDS,
    Row,
    Summary,
    Trace,
    TraceEvent,
    format_summary,
)

__all__ = [
    "AMBIENT_RANGE_C",
    "CSV_COLUMNS",
    "DEFAULT_PROFILE",
    "DEFAULT_SAMPLE_S",
    "MAX_HOURS",
    "MAX_ROWS",
    "NOTABLE_KINDS",
    "SEED_RANGE",
    "WATER_RANGE_C",
    "LidOff",
    "Row",
    "Scenario",
    "Summary",
    "TimedFault",
    "Trace",
    "TraceEvent",
    "format_summary",
    "simulate",
]
