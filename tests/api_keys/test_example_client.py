"""The example client of docs/api-client.md, run as a reader runs it, places an order
in the composed shop through the API alone, 3-D Secure included."""

import json
import subprocess
import sys
from pathlib import Path

from mercato_payments_stripe.embedded import PUBLISHABLE_KEY
from tests.shop.conftest import all_orders

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "api_client" / "place_order.py"


def test_the_example_client_places_an_order_through_the_api_with_3d_secure(shop, dbsession):
    finished = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            shop.url,
            "--stripe",
            shop.localstripe.url,
            "--publishable-key",
            PUBLISHABLE_KEY,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    printed = json.loads(finished.stdout)
    (order,) = all_orders(dbsession)
    assert printed["number"] == order.number
    assert order.status == printed["status"] == "paid"
    assert any(change.new_status == "awaiting_payment" for change in order.history)
