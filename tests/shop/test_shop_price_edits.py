"""A price staff change in the admin, or import on the command line, reaches the adds of
every process of the composed shop at once, although each process keeps what the
catalog told it for a while (``mercato.cart.catalog_cache_seconds``, 60 s by default)."""

import json

from sqlalchemy import select

from mercato.ops.cli import main
from mercato_catalog.models import Variant
from mercato_webhooks.models import Endpoint, Event


def add_through_the_api(shopper, sku: str) -> dict:
    response = shopper.app.post_json(
        "/api/cart/lines", {"sku": sku, "quantity": 1}, headers={"X-CSRF-Token": shopper.token}
    )
    return {line["sku"]: line for line in response.json["lines"]}[sku]


def test_a_price_edited_in_the_admin_of_one_process_prices_the_next_add_of_another(
    make_demo_shop, admin_user, dbsession
):
    shop, other_process = make_demo_shop(), make_demo_shop()
    shopper = shop.browser()
    assert add_through_the_api(shopper, "MUG")["unit_price"]["amount"] == 1250

    staff = other_process.browser()
    staff.log_in(admin_user.email, admin_user.password)
    variant_id = dbsession.query(Variant.id).filter_by(sku="MUG").scalar()
    form = staff.app.get("/admin/catalog/products/mug/edit").forms["product-form"]
    form[f"v{variant_id}-price"] = "14.00"
    form.submit(status=303)

    line = add_through_the_api(shopper, "MUG")
    assert (line["quantity"], line["unit_price"]["amount"], line["price_was"]) == (2, 1400, None)
    # The cart page (always asked afresh) agrees: no price changed since the add.
    page_line = shopper.app.get("/api/cart").json["lines"][0]
    assert (page_line["unit_price"]["amount"], page_line["price_was"]) == (1400, None)


def test_a_price_imported_on_the_command_line_prices_the_next_add_of_a_running_process(
    demo_shop, dbsession, tmp_path
):
    shopper = demo_shop.browser()
    assert add_through_the_api(shopper, "MUG")["unit_price"]["amount"] == 1250
    dbsession.add(
        Endpoint(url="https://erp.example.com/in", events=["product.changed"], secret="whsec_t")
    )
    dbsession.commit()
    prices = tmp_path / "prices.csv"
    prices.write_text(
        "product_slug,product_name,description,categories,product_active,sku,variant_name,"
        "options,price,currency,stock,variant_active\n"
        "mug,Blue Mug,A blue mug,,true,MUG,,,15.00,EUR,10,true\n"
    )

    assert main(["-c", demo_shop.ini_file(tmp_path), "catalog", "import", str(prices)]) == 0

    line = add_through_the_api(shopper, "MUG")
    assert (line["quantity"], line["unit_price"]["amount"]) == (2, 1500)
    # What the admin's import tells the other plugins, the command's tells them too:
    # the ERP's endpoint has the new price to be sent.
    sent = [json.loads(body) for body in dbsession.scalars(select(Event.body))]
    assert [
        (e["type"], e["data"]["change"], e["data"]["product"]["variants"][0]["price"]["amount"])
        for e in sent
    ] == [("product.changed", "updated", 1500)]
