"""The admin's webhook pages in the composed shop: an admin registers an endpoint and
sees its secret once; the list, the delivery log and each delivery's attempts; the
retry button (CSRF-protected); bad input answered with each field's reason and nothing
saved; internal addresses refused (SSRF), link-local ones whatever the setting."""

import pytest
from sqlalchemy import func, select

from mercato_webhooks.models import Attempt, Endpoint

from .conftest import add_endpoint, deliveries_of


def endpoints(dbsession) -> list[Endpoint]:
    dbsession.expire_all()
    return dbsession.scalars(select(Endpoint).order_by(Endpoint.id)).all()


def register(staff, url: str, events=("order.paid", "stock.low"), status=303):
    form = staff.app.get("/admin/webhooks/new").forms["endpoint-form"]
    form["url"] = url
    for checkbox in form.fields["events"]:
        checkbox.checked = checkbox._value in events
    return form.submit(status=status)


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(
    demo_shop, demo_staff, dbsession, receiver
):
    menu = demo_staff.app.get("/admin").html
    assert menu.find("a", string="Webhooks") is not None, "the admin's menu links the pages"

    page = register(demo_staff, receiver.url).follow()

    [endpoint] = endpoints(dbsession)
    assert (endpoint.url, endpoint.events) == (receiver.url, ["order.paid", "stock.low"])
    shown = page.html.select_one("#secret").text
    assert shown == endpoint.secret and shown.startswith("whsec_") and len(shown) > 40
    again = demo_staff.app.get(f"/admin/webhooks/{endpoint.id}")
    assert again.html.select_one("#secret") is None, "shown once"
    assert endpoint.secret not in again.text and endpoint.secret[:10] in again.text
    listing = demo_staff.app.get("/admin/webhooks")
    assert receiver.url in listing.text and "order.paid, stock.low" in listing.text


def test_staff_without_the_admin_role_cannot_see_webhooks(demo_shop, dbsession, staff_user):
    staff = demo_shop.browser()
    staff.log_in(staff_user.email, staff_user.password)
    staff.app.get("/admin/webhooks", status=403)
    staff.app.get("/admin/webhooks/new", status=403)


@pytest.mark.parametrize(
    "url, events, field, message",
    [
        ("not-a-url", ("order.paid",), "url", "Webhooks are sent over http:// or https:// only."),
        ("https://erp.example/ in", ("order.paid",), "url", "spaces or control characters"),
        ("ftp://example.com/in", ("order.paid",), "url", "http:// or https:// only"),
        ("https:///no-host", ("order.paid",), "url", "needs a host name"),
        ("https://user:pw@example.com/", ("order.paid",), "url", "Leave credentials out"),
        ("https://example.invalid/hooks", ("order.paid",), "url", "cannot be found"),
        ("RECEIVER", (), "events", "Choose at least one event"),
    ],
)
def test_bad_input_is_answered_field_by_field_and_nothing_is_saved(
    demo_shop, demo_staff, dbsession, receiver, url, events, field, message
):
    page = register(demo_staff, receiver.url if url == "RECEIVER" else url, events, status=400)

    error = page.html.select_one(f"#{field}-error")
    assert error is not None and message in error.text
    assert endpoints(dbsession) == []
    if url != "RECEIVER":
        assert page.html.select_one("#url")["value"] == url, "what was typed is kept"


def test_an_unknown_event_is_refused(demo_shop, demo_staff, dbsession, receiver):
    token = demo_staff.app.get("/admin/webhooks/new").forms["endpoint-form"]["csrf_token"].value
    page = demo_staff.app.post(
        "/admin/webhooks/new",
        {"csrf_token": token, "url": receiver.url, "events": ["order.paid", "order.exploded"]},
        status=400,
    )
    assert "Unknown event: order.exploded" in page.html.select_one("#events-error").text
    assert endpoints(dbsession) == []


def test_a_post_without_the_csrf_token_changes_nothing(demo_shop, demo_staff, dbsession, receiver):
    demo_staff.app.post(
        "/admin/webhooks/new", {"url": receiver.url, "events": "order.paid"}, status=400
    )
    assert endpoints(dbsession) == []


def test_link_local_and_metadata_addresses_are_refused_even_when_private_ones_are_allowed(
    demo_shop, demo_staff, dbsession
):
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hooks"):
        page = register(demo_staff, url, status=400)
        assert "inside the shop's own network" in page.html.select_one("#url-error").text
    assert endpoints(dbsession) == []


def test_loopback_is_refused_without_the_setting_when_saved_and_when_sent(
    make_demo_shop, dbsession, admin_user, receiver
):
    shop = make_demo_shop()
    staff = shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    page = register(staff, receiver.url, status=400)
    assert "127.0.0.1" in page.html.select_one("#url-error").text

    # An endpoint saved while it was allowed (or whose name resolves elsewhere since)
    # is refused again before each POST: the attempt fails, the receiver sees nothing.
    add_endpoint(dbsession, receiver.url, events=["product.changed"])
    form = staff.app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"], form["new-sku"], form["new-price"] = "Wool Hat", "HAT", "19.00"
    form.submit(status=303)
    [delivery] = deliveries_of(dbsession)
    assert delivery.status == "pending" and "own network" in delivery.last_error
    assert receiver.requests == []


def test_the_delivery_log_and_the_retry_button(demo_shop, demo_staff, dbsession, receiver):
    endpoint = add_endpoint(dbsession, receiver.url, events=["product.changed"])
    receiver.failures_per_event = 1
    form = demo_staff.app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"], form["new-sku"], form["new-price"] = "Wool Hat", "HAT", "19.00"
    form.submit(status=303)
    [delivery] = deliveries_of(dbsession)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)

    log = demo_staff.app.get(f"/admin/webhooks/{endpoint.id}")
    row = log.html.select_one(f"#delivery-{delivery.id}")
    assert "product.changed" in row.text and "pending" in row.text and "500" in row.text
    page = demo_staff.app.get(f"/admin/webhooks/deliveries/{delivery.id}")
    assert "500" in page.html.select_one("#attempts").text

    # Without the page's CSRF token: refused, and nothing is sent.
    demo_staff.app.post(f"/admin/webhooks/deliveries/{delivery.id}/retry", status=400)
    assert dbsession.scalar(select(func.count()).select_from(Attempt)) == 1

    done = page.forms[f"retry-{delivery.id}"].submit(status=303).follow()
    assert "Delivered." in done.text
    assert done.html.select_one("#delivery-status").text == "delivered"
    assert len(receiver.delivered()) == 1
    [delivery] = deliveries_of(dbsession)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)

    # A delivered event is not sent again: the receiver has it.
    token = log.forms["endpoint-form"]["csrf_token"].value
    again = demo_staff.app.post(
        f"/admin/webhooks/deliveries/{delivery.id}/retry", {"csrf_token": token}, status=303
    )
    assert "delivered already" in again.follow().text
    assert len(receiver.requests) == 2


def test_an_admin_edits_disables_and_deletes_an_endpoint(
    demo_shop, demo_staff, dbsession, receiver
):
    endpoint = add_endpoint(dbsession, receiver.url, events=["product.changed"])
    form = demo_staff.app.get(f"/admin/webhooks/{endpoint.id}").forms["endpoint-form"]
    form["enabled"].checked = False
    form["description"] = "ERP"
    form.submit(status=303)
    [endpoint] = endpoints(dbsession)
    assert (endpoint.enabled, endpoint.description) == (False, "ERP")

    # A disabled endpoint is sent nothing new.
    form = demo_staff.app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"], form["new-sku"], form["new-price"] = "Wool Hat", "HAT", "19.00"
    form.submit(status=303)
    assert deliveries_of(dbsession) == [] and receiver.requests == []

    page = demo_staff.app.get(f"/admin/webhooks/{endpoint.id}")
    page.forms["delete-endpoint-form"].submit(status=303)
    assert endpoints(dbsession) == []
