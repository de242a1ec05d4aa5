"""``python -m bench``: the same as the ``spabench`` command."""

import sys

from bench.cli import main

sys.exit(main())
