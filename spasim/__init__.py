"""spasim: a virtual MSpa control box (and remote) that speaks the real wire protocol.

The units run on the discrete-event clock of :mod:`protocols.clock`, in-process, on a
pseudo-terminal or on a TCP port, in real time or much faster.
"""

__version__ = "0.1.0"
