"""Render page 1 of a sample customer report with a headless browser: ``docs/report-page1.png``.

A developer's tool (not run in CI, not a project dependency): it drives the README's records
workflow through the ``spabench`` command line in a temporary directory — a workshop file
with a logo, a unit, a repair order with a quote, a ``full`` diagnosis run of a virtual box
with a dead filter pump, the pump fitted, a ``full`` verification run — writes the order's
HTML report and photographs its first page (``section.page1``) in Chromium.

The runs are on a virtual unit, so the page shows what a customer would see for such a
report: the "SIMULATED UNIT" notice on page 1.

Needs Chromium (Debian: ``apt-get install chromium``) and Playwright in your own venv
(``pip install playwright``; no browser download: it drives ``/usr/bin/chromium``)::

    python scripts/report_screenshot.py [--out docs/report-page1.png] [--chromium PATH]
                                        [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="160" height="56" viewBox="0 0 160 56">
<rect width="160" height="56" rx="8" fill="#0b5d7a"/>
<path d="M14 38 q10 -14 20 0 t20 0 t20 0" stroke="#bfe6f2" stroke-width="4" fill="none"/>
<text x="84" y="26" font-family="Arial" font-size="15" font-weight="bold" fill="#fff">Spa</text>
<text x="84" y="44" font-family="Arial" font-size="13" fill="#fff">Service Nord</text>
</svg>
"""

WORKSHOP = """[workshop]
name = "Spa Service Nord GmbH"
address = "Hafenstr. 5\\n20457 Hamburg"
contact = "+49 40 123456 · service@spa-nord.example"
logo = "logo.svg"
currency = "EUR"
vat_percent = 19
prices_include_vat = false
vat_number = "DE123456789"
"""


def spabench(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True
    )
    if done.returncode not in ok:
        raise SystemExit(f"spabench {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def sample_report(work: Path) -> Path:
    """The README's records workflow in ``work``; returns the order's HTML report."""
    (work / "logo.svg").write_text(LOGO, encoding="utf-8")
    (work / "workshop.toml").write_text(WORKSHOP, encoding="utf-8")
    env = {
        **os.environ,
        "SPABENCH_DB": str(work / "records.sqlite3"),
        "SPABENCH_WORKSHOP": str(work / "workshop.toml"),
    }
    bought = (date.today() - timedelta(days=150)).isoformat()
    spabench(env, "unit", "add", "--serial", "SN123", "--profile", "premium-4",
             "--purchase-date", bought, "--owner", "J. Doe")  # fmt: skip
    order = spabench(env, "order", "open", "--serial", "SN123", "--symptom",
                     "The water stays cold and I can't hear the pump any more.",
                     "--agreement", "repair", "--quote", "89.50", "--by", "Ana Silva")  # fmt: skip
    order_id = order.split()[0]
    spabench(env, "run", "--virtual", "--unit", "SN123", "--order", order_id,
             "--simulated", "--fault", "filter-pump-dead", "--plan", "full",
             ok=(1,))  # fmt: skip
    spabench(env, "order", "status", order_id, "diagnosed", "--by", "Ana Silva")
    spabench(env, "order", "part", order_id, "--part", "B9300929", "--by", "Ana Silva")
    spabench(env, "order", "status", order_id, "repaired", "--by", "Ana Silva")
    spabench(env, "run", "--virtual", "--unit", "SN123", "--order", order_id, "--simulated",
             "--plan", "full")  # fmt: skip
    spabench(env, "order", "status", order_id, "verified", "--simulated", "--by", "Ana Silva")
    html = work / "report.html"
    spabench(env, "report", order_id, "--html", str(html))
    return html


def screenshot(html: Path, out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 860, "height": 1200}, device_scale_factor=1)
        page.goto(html.as_uri())
        page.locator("section.page1").screenshot(path=str(out))
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report-page1.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (report.html, db)")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        html = sample_report(args.keep)
        screenshot(html, args.out, args.chromium)
    else:
        with tempfile.TemporaryDirectory() as work:
            html = sample_report(Path(work))
            screenshot(html, args.out, args.chromium)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
