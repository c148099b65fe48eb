"""Lighthouse (12.2.3, mobile defaults, Debian's Chromium) on the shop as ``mercato demo``
serves it: 100 in performance, accessibility, best practices and SEO on the home page, a
category, a product, a search and the cart with an item in it, through
bench/lighthouse/run.py (``make lighthouse`` installs Lighthouse)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "lighthouse" / "run.py"
LIGHTHOUSE = REPO / "bench" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
PERFECT = {"performance": 100, "accessibility": 100, "best-practices": 100, "seo": 100}


@pytest.mark.timeout(900)
def test_every_page_scores_100_in_every_lighthouse_category(sample_shop):
    assert LIGHTHOUSE.exists(), "Lighthouse is installed by `make lighthouse`"
    done = subprocess.run(
        [sys.executable, str(RUN), "--url", sample_shop, "--json"],
        capture_output=True,
        text=True,
        timeout=800,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert list(results) == ["home", "category", "product", "search", "cart"]

    scores = {page: result["scores"] for page, result in results.items()}
    failing = {page: result["failing"] for page, result in results.items()}
    print(json.dumps(scores, indent=1))
    assert scores == {page: PERFECT for page in results}, audits_below_1(failing)


def audits_below_1(failing: dict) -> str:
    """Lighthouse's audits that cost points, one a line, for the failure message."""
    return "audits below 1:\n" + "\n".join(
        f"  {page}: {a['category']} {a['id']} {a['score']} {a['value']}"
        for page, audits in failing.items()
        for a in audits
    )
