"""The diagnostic console (``spabench console``): a live view of one unit on the bench.

A Textual app (:mod:`.app`) over a :class:`~bench.console.session.Session`, which runs the
unit's link, the meter and the plan runner in a worker thread so the screen never waits on
I/O. Guided troubleshooting follows the service manual's trees (:mod:`.trees`, data in
``guides/``), using the checks the bench can make itself (:mod:`.checks`).
"""
