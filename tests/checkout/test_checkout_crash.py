"""A checkout whose process is SIGKILLed mid-way, then ``mercato reconcile`` from the
command line: every PaymentIntent ends captured with a paid order, or cancelled. And
the shopper, resubmitting to a worker that replaced it, learns within seconds what
became of the order."""

import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from mercato.orders import models as m

from .shopping import (
    ADDRESS,
    REPO,
    SHOP_PLUGIN,
    card_payment_method,
    child_env,
    orders,
    payment_intents,
    payments,
    stock,
)

PLUGINS = ["payments_stripe", SHOP_PLUGIN]
# A dead worker's checkout lock must not outlive a few seconds.
ANSWER_WITHIN = 8.0


@pytest.fixture
def mercato_plugins():
    return PLUGINS


@pytest.fixture
def app_settings(served_settings):
    return served_settings(PLUGINS)


@pytest.fixture
def served(serve, app_settings):
    """``served(kill_at)`` → the app in a process that kills itself at ``kill_at``."""
    return lambda kill_at: serve(app_settings, TEST_SHOP_KILL=kill_at)


@pytest.fixture
def reconcile_cli(app_settings, tmp_path):
    """``reconcile_cli()`` runs ``mercato -c … reconcile --grace 0 --json`` for real."""
    ini = tmp_path / "shop.ini"
    lines = ["[app:main]", "use = egg:mercato"] + [f"{k} = {v}" for k, v in app_settings.items()]
    ini.write_text("\n".join(lines) + "\n")

    def run() -> dict:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mercato.ops.cli",
                "-c",
                str(ini),
                "reconcile",
                "--grace",
                "0",
                "--json",
            ],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    return run


def checkout_until_killed(
    base: str, process: subprocess.Popen, localstripe, quantity: int = 1
) -> tuple[requests.Session, dict]:
    """The shopper's browser and the payment form it sent when the process died."""
    browser = requests.Session()
    token = browser.get(f"{base}/api/session/csrf", timeout=10).json()["csrf_token"]
    browser.post(
        f"{base}/test-shop/cart",
        json={"sku": "DESK", "quantity": quantity},
        headers={"X-CSRF-Token": token},
        timeout=10,
    ).raise_for_status()
    response = browser.post(
        f"{base}/checkout/address",
        data={**ADDRESS, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303
    card_id = card_payment_method(localstripe.client())
    form = {"method": "stripe_card", "details.payment_method": card_id, "csrf_token": token}
    with pytest.raises(requests.ConnectionError):
        browser.post(f"{base}/checkout/payment", data=form, allow_redirects=False, timeout=30)
    assert process.wait(timeout=10) == -signal.SIGKILL
    return browser, form


def resubmit(base: str, browser: requests.Session, form: dict) -> tuple[requests.Response, float]:
    """Submit ``form`` again as a shopper would, again while told to wait (409): the
    answer, and how long it took to come."""
    started = time.monotonic()
    while True:
        response = browser.post(
            f"{base}/checkout/payment", data=form, allow_redirects=False, timeout=30
        )
        waited = time.monotonic() - started
        if response.status_code != 409 or waited > ANSWER_WITHIN:
            return response, waited
        assert "already being placed" in response.text
        time.sleep(0.2)


def test_killed_between_commit_and_capture_reconcile_captures_exactly_once(
    served, reconcile_cli, shop_items, localstripe, dbsession
):
    shop_items("DESK", "Oak desk", 25000, 4)
    process, base = served("after_commit")

    checkout_until_killed(base, process, localstripe)

    [order] = orders(dbsession)
    assert order.status == m.AUTHORIZED, "the order committed; the capture never ran"
    [pi] = payment_intents(localstripe)
    assert pi.status == "requires_capture"
    assert stock(dbsession, "DESK") == 3

    first = reconcile_cli()
    second = reconcile_cli()

    assert first["captured_orders"] == [order.number]
    assert second == {
        "voided_payments": [],
        "captured_orders": [],
        "marked_paid_orders": [],
        "cancelled_orders": [],
        "finished_refunds": [],
        "applied_refunds": [],
        "failures": [],
    }
    [order] = orders(dbsession)
    assert order.status == m.PAID and order.amount_captured == 25000
    assert [c.new_status for c in order.history].count(m.PAID) == 1
    [pi] = payment_intents(localstripe)
    assert pi.status == "succeeded" and pi.amount == 25000
    [payment] = payments(dbsession)
    assert payment.status == m.PAYMENT_CAPTURED and payment.amount_captured == 25000


def test_reconcile_captures_what_is_owed_after_staff_took_units_off(
    served, reconcile_cli, shop_items, localstripe, dbsession
):
    shop_items("DESK", "Oak desk", 25000, 4)
    process, base = served("after_commit")
    checkout_until_killed(base, process, localstripe, quantity=2)
    [order] = orders(dbsession)
    assert order.status == m.AUTHORIZED and order.total.amount == 50000
    # Staff took one desk off while the capture was pending (the admin's "remove").
    order.lines[0].quantity_released = 1
    dbsession.commit()

    assert reconcile_cli()["captured_orders"] == [order.number]

    [order] = orders(dbsession)
    assert order.status == m.PAID and order.amount_captured == 25000
    [pi] = payment_intents(localstripe)
    # localstripe releases what a partial capture left as a refund of the charge.
    charges = localstripe.client().v1.charges.list(params={"limit": 100}).data
    [charge] = [charge for charge in charges if charge.payment_intent == pi.id]
    assert pi.status == "succeeded" and charge.amount - charge.amount_refunded == 25000


def test_killed_between_authorize_and_commit_reconcile_voids_the_authorization(
    served, reconcile_cli, shop_items, localstripe, dbsession
):
    shop_items("DESK", "Oak desk", 25000, 4)
    process, base = served("before_commit")

    checkout_until_killed(base, process, localstripe)

    assert orders(dbsession) == []
    assert stock(dbsession, "DESK") == 4
    [pi] = payment_intents(localstripe)
    assert pi.status == "requires_capture", "an authorization without an order: the zombie"
    [payment] = payments(dbsession)
    assert payment.order_id is None

    first = reconcile_cli()
    second = reconcile_cli()

    assert first["voided_payments"] == [payment.id]
    assert second["voided_payments"] == []
    [pi] = payment_intents(localstripe)
    assert pi.status == "canceled"
    assert [p.status for p in payments(dbsession)] == [m.PAYMENT_VOIDED]


@pytest.mark.parametrize("kill_at", ["before_commit", "after_commit"])
def test_a_resubmit_after_the_worker_died_learns_the_outcome_within_seconds(
    kill_at, served, serve, app_settings, shop_items, localstripe, dbsession
):
    shop_items("DESK", "Oak desk", 25000, 4)
    process, base = served(kill_at)
    browser, form = checkout_until_killed(base, process, localstripe)
    _, replacement = serve(app_settings)

    answer, waited = resubmit(replacement, browser, form)

    assert answer.status_code == 303, answer.text
    assert waited < ANSWER_WITHIN, "the dead worker's lock was honoured for too long"
    [order] = orders(dbsession)
    assert answer.headers["Location"].endswith(f"/checkout/done/{order.access_token}")
    # Before the commit: a fresh attempt, reusing the dead one's authorization.
    # After it: the order that committed (its capture is reconcile's, as above).
    assert order.status == (m.PAID if kill_at == "before_commit" else m.AUTHORIZED)
    [pi] = payment_intents(localstripe)
    assert pi.amount == 25000
    assert stock(dbsession, "DESK") == 3
    assert browser.get(f"{replacement}/test-shop/cart", timeout=10).json() == {"cart": {}}


def test_after_a_crash_left_the_checkout_unfinished_the_next_purchase_is_a_new_order(
    served, serve, app_settings, shop_items, localstripe, dbsession
):
    shop_items("DESK", "Oak desk", 25000, 4)
    process, base = served("after_commit")
    browser, form = checkout_until_killed(base, process, localstripe)
    _, replacement = serve(app_settings)
    # The dead request never reached the shopper's session: it still names the checkout
    # that became the first order, and the cart still holds the desk.
    another_card_id = card_payment_method(localstripe.client())

    answer, _ = resubmit(replacement, browser, {**form, "details.payment_method": another_card_id})

    assert answer.status_code == 303, answer.text
    first, second = orders(dbsession)
    assert answer.headers["Location"].endswith(second.access_token), "not the first order"
    assert second.status == m.PAID and second.checkout_id != first.checkout_id
    assert len(payment_intents(localstripe)) == 2
    assert stock(dbsession, "DESK") == 2
