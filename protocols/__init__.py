"""Wire protocols spoken by spa control boxes and the transports that carry them.

The lowest layer: both the simulator (``spasim``) and the bench (``bench``) depend on it, it
depends on neither. It also holds the clock every component reads time from, because the
protocol's own timings (report periods, partial-frame timeout, keep-alive) live here too.
"""

__version__ = "0.1.0"
