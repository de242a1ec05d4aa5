"""A station: several units tested at once on one bench PC (see :mod:`bench.station.config`)."""
