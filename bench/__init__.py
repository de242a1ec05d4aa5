"""spabench: the service bench that tests, diagnoses and documents spa control boxes.

Its rooms, one job each (imports only point down this list, never back up):

* :mod:`bench.cli` — the command line (``spabench``), thin modules that parse and call;
* :mod:`bench.console` — the Textual diagnostic console for repairs;
* :mod:`bench.capture` — sniffing a live line and replaying a capture;
* :mod:`bench.records` — units, orders, runs, warranty, exports and the customer report;
* :mod:`bench.testing` — plans, steps, limits, instruments, targets, runner, diagnosis.

The bench talks to a unit only through :mod:`protocols` (a serial URL or an in-process
link); only the builders of *virtual* targets import :mod:`spasim`.
"""

__version__ = "0.1.0"
