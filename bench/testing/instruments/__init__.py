"""The bench's instruments (OpenHTF "plugs"): the things a step may use to reach a unit.

Each instrument is an interface with a real and a virtual implementation, so a plan runs
unchanged against a returned box on a USB-UART adapter or against a virtual box in-process:

* :mod:`bench.testing.instruments.link` — the serial line; the bench plays the remote (or, for a
  returned panel, the box);
* :mod:`bench.testing.instruments.meter` — an optional mains energy meter in the unit's supply;
* :mod:`bench.testing.instruments.operator` — the person at the bench, for what only a person can do
  or see (press PRCD TEST, turn the knob, look for bubbles).

Steps never look at a virtual unit's state: everything they know comes through these.
"""
