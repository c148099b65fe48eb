"""Serve the app in a process of its own, for tests that kill it with SIGKILL.

python -m tests.checkout.serve_app PORT SETTINGS_JSON
"""

import json
import sys

import waitress

from mercato import make_app


def main() -> None:
    port, threads, settings = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    app = make_app(settings, environ={})
    # A hundred keep-alive shoppers at once: above waitress's default of 100.
    waitress.serve(
        app, host="127.0.0.1", port=port, threads=threads, connection_limit=1000, _quiet=True
    )


if __name__ == "__main__":
    main()
