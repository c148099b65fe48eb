"""Lighthouse's four scores for the storefront's pages, as a phone sees them.

    python bench/lighthouse/run.py --url http://127.0.0.1:6543   # `make demo` running

Lighthouse 12.2.3, pinned in package.json and installed here by ``make lighthouse``
(``npm ci``), runs Debian's Chromium with its mobile defaults (a mid-range phone on a
slow 4G network, simulated) on the home page, a category, a product, a search and the
cart of the demo catalog. The cart is measured with a line in it: an item is added
through the shop's own form first, and Lighthouse sends that shopper's cookie.

Prints one row per page: performance, accessibility, best practices, SEO (0 to 100), and
under it every audit that kept a score below 100. ``--json`` prints the same as JSON.
"""

import argparse
import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
# The demo catalog's pages (plugins/catalog/sample.py).
PAGES = {
    "home": "/",
    "category": "/c/clothing",
    "product": "/p/organic-cotton-t-shirt",
    "search": "/search?q=mug",
    "cart": "/cart",
}
CART_ITEM = PAGES["product"]
TIMEOUT = 180


def shopper_with_a_cart(base: str) -> str:
    """A new shopper's cookies after adding the product page's item to the cart through
    its form, as a ``Cookie`` header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + CART_ITEM, timeout=30).read().decode()
    form = re.search(r'<form class="add-to-cart".*?</form>', page, re.S)
    if form is None:
        raise SystemExit(f"no add-to-cart form on {CART_ITEM}")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0]))
    data = urllib.parse.urlencode({**fields, "quantity": "1"}).encode()
    opener.open(base + "/cart/add", data=data, timeout=30).read()
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def lighthouse(url: str, cookie: str | None = None) -> dict:
    """Lighthouse's report (its JSON) for one page."""
    command = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-path={CHROMIUM}",
        "--chrome-flags=--headless --no-sandbox",
    ]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    # Our own pinned Lighthouse, an argument list (no shell).
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"lighthouse failed on {url}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def scores(report: dict) -> dict:
    """The four scores (0–100) and the audits that cost points: scored audits (weight
    above 0) whose score is below 1, with Lighthouse's own figure for them."""
    result = {}
    failing = []
    for name in CATEGORIES:
        category = report["categories"][name]
        result[name] = round(category["score"] * 100)
        for ref in category["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
                failing.append(
                    {
                        "category": name,
                        "id": ref["id"],
                        "score": audit["score"],
                        "value": audit.get("displayValue", ""),
                        "title": audit["title"],
                    }
                )
    return {"scores": result, "failing": failing}


def measure(base: str, pages: dict[str, str]) -> dict:
    base = base.rstrip("/")
    cookie = shopper_with_a_cart(base) if "cart" in pages else None
    return {
        name: scores(lighthouse(base + path, cookie if name == "cart" else None))
        for name, path in pages.items()
    }


def print_table(results: dict) -> None:
    header = ("page", "performance", "accessibility", "best-practices", "seo")
    print("  ".join(f"{h:>14}" for h in header))
    for name, result in results.items():
        row = [name, *(result["scores"][c] for c in CATEGORIES)]
        print("  ".join(f"{value:>14}" for value in row))
        for audit in result["failing"]:
            print(f"{'':>16}{audit['category']}: {audit['id']} ({audit['score']}) {audit['value']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="the shop's address, like http://127.0.0.1:6543"
    )
    parser.add_argument("--page", action="append", choices=sorted(PAGES), help="only these pages")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not LIGHTHOUSE.exists():
        print(f"{LIGHTHOUSE} is missing: run `make lighthouse` first", file=sys.stderr)
        return 2
    pages = {name: PAGES[name] for name in args.page} if args.page else PAGES
    results = measure(args.url, pages)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
