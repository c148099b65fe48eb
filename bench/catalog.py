"""``python -m bench.catalog``: the catalog's figures at 100,000 products (issue 3's
``bench/catalog``) — product, category and search pages next to the SELECT+template
floor of the same run. The whole bench with only these scenarios; extra arguments are
passed on (``--reuse-db``, ``--rounds 3``, ``--seconds 15``)."""

import sys

from .__main__ import main

SCENARIOS = "select,product,category,search"  # search also runs one at a time (search-1)

if __name__ == "__main__":
    sys.exit(main(["--scenarios", SCENARIOS, *sys.argv[1:]]))
