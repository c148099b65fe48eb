"""What a store owner's Prometheus sees of checkout, in the shop as ``mercato demo``
composes it: each submit's outcome counted once, and payments refused by provider
(docs/deploy.md suggests an alert on ``mercato_payment_failures_total``)."""

from tests.ops.test_ops_metrics import value

from .conftest import CARD_DECLINED, all_orders


def counts(shopper) -> dict[str, float]:
    scraped = shopper.app.get("/metrics").text
    return {
        outcome: value(scraped, "mercato_checkouts_total", outcome=outcome)
        for outcome in ("placed", "declined", "cart", "invalid")
    } | {"stripe_failures": value(scraped, "mercato_payment_failures_total", provider="stripe")}


def test_mercato_checkout_attempted_counts_each_outcome_and_refused_payments(
    demo_shopper, dbsession
):
    before = counts(demo_shopper)

    demo_shopper.buy({"TEE": 1}, number=CARD_DECLINED, status=402)
    unknown = demo_shopper.app.post(
        "/checkout/payment", {"method": "cash", "csrf_token": demo_shopper.token}, status="*"
    )
    assert unknown.status_int == 400 and "choose a way to pay" in unknown.text
    demo_shopper.pay()  # another card: placed
    demo_shopper.pay(status="*")  # the cart is empty now
    [order] = all_orders(dbsession)

    after = counts(demo_shopper)
    delta = {name: after[name] - before[name] for name in after}
    assert delta == {"placed": 1, "declined": 1, "cart": 1, "invalid": 1, "stripe_failures": 1}
    assert order.status == "paid"
