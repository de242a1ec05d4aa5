"""Test execution: what the bench does between "plan chosen" and "verdict and parts named".

A plan (:mod:`bench.testing.plans`, TOML under ``plans/``) lists steps from the step library
(:mod:`bench.testing.steps`), each judging its measurements by the one limits table
(:mod:`bench.testing.limits`). A target (:mod:`bench.testing.targets`) puts the unit under
test together with the bench's instruments (:mod:`bench.testing.instruments`: the serial
link, the meter, the person at the bench). The runner (:mod:`bench.testing.runner`) runs the
steps on the target and fills one :class:`~bench.testing.record.TestRecord`; the diagnosis
(:mod:`bench.testing.diagnosis`) turns its failed measurements into parts to replace, and the
coverage grid (:mod:`bench.testing.coverage`) checks that diagnosis over every catalogue fault.
Nothing here stores records or draws screens: the records and the console import this room,
never the other way round.
"""
