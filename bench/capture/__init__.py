"""Capture tools: listen to a live line and play a saved one back.

:mod:`bench.capture.sniff` taps the wire between a real box and its remote (two serial
ports, one per direction) and decodes each frame as it passes;
:mod:`bench.capture.replay` feeds a saved capture through the same decoder, so a bridge
developer or a technician sees exactly what the line carried. They judge nothing and store
nothing.
"""
