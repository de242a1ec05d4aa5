"""``python -m spasim``: the same as the ``spasim`` command."""

import sys

from spasim.cli import main

sys.exit(main())
