"""Rewrite the README's model table from the model files (``--check``: only say if it differs).

The table lies between the two markers of :mod:`spasim.cli.profiles` (``README_BEGIN`` /
``README_END``); ``tests/test_model_provenance.py`` fails while README.md and the data differ,
so run this after changing a model file::

    python scripts/readme_model_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from spasim.cli.profiles import README_BEGIN, README_END, readme_model_table

README = Path(__file__).resolve().parent.parent / "README.md"


def updated(text: str) -> str:
    """``text`` with the section between the markers replaced by the generated table."""
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    return text[:start] + readme_model_table() + text[end:]


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in argv:
        if new != text:
            print(f"{README}: the model table differs from the model files", file=sys.stderr)
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"{README}: model table updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
