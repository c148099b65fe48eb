"""``mercato demo`` needs no Stripe account: the plugin starts localstripe itself."""

import urllib.request

import pytest
import stripe

from mercato_payments_stripe import hooks
from tests.checkout.shopping import card_payment_method

from .test_stripe_webhooks import Recorder


def test_mercato_demo_servers_starts_localstripe_points_the_plugin_at_it_and_stops_it(
    tmp_path,
):
    server = hooks.mercato_demo_servers(data_dir=tmp_path)
    shop = Recorder()  # stands in for the demo shop, to see the webhooks it is sent
    try:
        environ = server.environ
        sdk = stripe.StripeClient(
            environ["STRIPE_API_KEY"],
            base_addresses={"api": environ["STRIPE_API_BASE"]},
            max_network_retries=0,
        )
        server.serving(shop.url.rstrip("/"))
        card_id = card_payment_method(sdk)
        pi = sdk.v1.payment_intents.create(
            params={"amount": 1250, "currency": "eur", "payment_method": card_id, "confirm": True}
        )
        assert pi.status == "succeeded"
        assert environ["STRIPE_PUBLISHABLE_KEY"].startswith("pk_")
        with urllib.request.urlopen(environ["STRIPE_JS_URL"], timeout=5) as js:
            assert js.status == 200, "the checkout page can load localstripe's Stripe.js"

        headers, body = shop.wait_for("payment_intent.succeeded", pi.id)
        assert shop.paths == {"/stripe/webhook"}
        event = stripe.Webhook.construct_event(
            body.decode(), headers["Stripe-Signature"], environ["STRIPE_WEBHOOK_SECRET"]
        )
        assert event.data.object.id == pi.id, "signed with the secret the plugin is given"
    finally:
        shop.close()
        server.stop()

    with pytest.raises(stripe.APIConnectionError):
        sdk.v1.payment_intents.retrieve(pi.id)
