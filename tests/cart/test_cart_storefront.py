"""The storefront side: the cart page and its forms, the mini-cart on every page, the
add-to-cart form on product pages; bad input answered on the cart page, in plain words."""

import re

from tests.cart.conftest import Shopper


def form_post(shopper: Shopper, path: str, status=303, **fields):
    return shopper.app.post(path, {"csrf_token": shopper.token, **fields}, status=status)


def page_lines(html: str) -> list[str]:
    return re.findall(r'<span class="cart-sku">([^<]+)</span>', html)


def test_empty_cart_page(shopper):
    page = shopper.app.get("/cart")
    assert "Your cart is empty." in page.text
    assert "no-store" in page.headers["Cache-Control"]


def test_add_from_a_form_then_see_lines_and_total(shopper):
    response = form_post(shopper, "/cart/add", sku="MUG", quantity="2")
    assert response.location.endswith("/cart")
    page = response.follow()
    assert "Added 2 × “MUG” to your cart." in page.text, "no name: the SKU, quoted"
    assert page_lines(page.text) == ["MUG"]
    assert page.html.select_one(".cart-total td").text.strip() == "€25.00"


def test_mercato_sku_details_gives_cart_lines_their_names_and_links(shopper):
    from tests.cart import pricing_plugin

    pricing_plugin.NAMES["MUG"] = "Enamel mug <blue>"
    form_post(shopper, "/cart/add", sku="MUG", quantity="1")
    form_post(shopper, "/cart/add", sku="PEN", quantity="1")
    page = shopper.app.get("/cart")
    link = page.html.select_one('.cart-line a[href="/p/mug"]')
    assert link is not None and link.text == "Enamel mug <blue>"
    assert "Enamel mug &lt;blue&gt;" in page.text, "names are escaped"
    assert page_lines(page.text) == ["MUG", "PEN"]
    lines = shopper.app.get("/api/cart").json["lines"]
    assert [(line["sku"], line["name"]) for line in lines] == [
        ("MUG", "Enamel mug <blue>"),
        ("PEN", "PEN"),
    ]


def test_messages_name_the_product_and_the_form_keeps_the_stock_to_itself(shopper, catalog):
    catalog.NAMES["TEE"] = "Organic tee"
    page = form_post(shopper, "/cart/add", sku="TEE", quantity="1").follow()
    assert page.html.select_one(".flash").text == "Added 1 × Organic tee to your cart."
    refused = form_post(shopper, "/cart/add", sku="TEE", quantity="3", status=409)
    assert refused.html.select_one('[role="alert"]').text.strip() == (
        "Only 3 of Organic tee are available and you already have 1 in your cart."
    )
    page = form_post(shopper, "/cart/update", sku="TEE", quantity="2").follow()
    assert page.html.select_one(".flash").text == "Organic tee: quantity set to 2."
    assert page.html.select_one('.cart-line a[href="/p/tee"]').text == "Organic tee"
    assert page.html.select_one(".cart-line small").text == "SKU TEE"
    quantity = page.html.select_one(".cart-quantity input[name=quantity]")
    assert quantity["max"] == "99", "the cart's limit per line, not the 3 in stock"
    page = form_post(shopper, "/cart/remove", sku="TEE").follow()
    assert page.html.select_one(".flash").text == "Removed Organic tee from your cart."

    catalog.STOCK["TEE"] = 1
    refused = form_post(shopper, "/cart/add", sku="TEE", quantity="2", status=409)
    assert refused.html.select_one('[role="alert"]').text.strip() == (
        "Only 1 of Organic tee is available."
    )
    form = shopper.app.get("/test/product/TEE").html.select_one("form.add-to-cart")
    assert form.select_one("input[name=quantity]")["max"] == "99"


def test_quantity_update_remove_and_clear_forms(shopper):
    form_post(shopper, "/cart/add", sku="MUG", quantity="1")
    form_post(shopper, "/cart/add", sku="PEN", quantity="1")
    form_post(shopper, "/cart/update", sku="MUG", quantity="3")
    assert shopper.quantities() == {"MUG": 3, "PEN": 1}
    form_post(shopper, "/cart/remove", sku="PEN")
    assert shopper.quantities() == {"MUG": 3}
    page = form_post(shopper, "/cart/clear").follow()
    assert "Your cart is now empty." in page.text and "Your cart is empty." in page.text


def test_bad_quantity_shows_the_cart_page_with_the_message(shopper):
    form_post(shopper, "/cart/add", sku="MUG", quantity="1")
    page = form_post(shopper, "/cart/add", sku="MUG", quantity="lots", status=400)
    alert = page.html.select_one('[role="alert"]')
    assert alert.text.strip() == "Quantity must be a whole number, like 1 or 2."
    assert page_lines(page.text) == ["MUG"], "the cart is still there, usable"
    assert shopper.quantities() == {"MUG": 1}


def test_unknown_sku_from_a_form_is_said_plainly(shopper):
    page = form_post(shopper, "/cart/add", sku="GHOST", quantity="1", status=400)
    assert page.html.select_one('[role="alert"]').text.strip() == (
        "We could not find a product with the SKU “GHOST”, or it is no longer sold."
    )
    assert "Traceback" not in page.text


def test_beyond_stock_from_a_form_is_said_plainly(shopper):
    page = form_post(shopper, "/cart/update", sku="TEE", quantity="1", status=404)
    assert "“TEE” is not in your cart." in page.text
    page = form_post(shopper, "/cart/add", sku="TEE", quantity="7", status=409)
    assert page.html.select_one('[role="alert"]').text.strip() == ("Only 3 of “TEE” are available.")


def test_forms_without_the_csrf_token_are_refused(shopper):
    response = shopper.app.post("/cart/add", {"sku": "MUG", "quantity": "1"}, status=400)
    assert "This form has expired" in response.text
    assert shopper.cart()["lines"] == []


def test_cart_page_shows_adjustments_notices_and_the_cart_after_lines_slot(shopper, catalog):
    form_post(shopper, "/cart/add", sku="MUG", quantity="2")
    form_post(shopper, "/cart/add", sku="PEN", quantity="1")
    catalog.ADJUSTMENTS.append(("Shipping", 490))
    catalog.PRICES["MUG"] = 1300
    del catalog.PRICES["PEN"]

    page = shopper.app.get("/cart")
    rows = [(row.th.text.strip(), row.td.text.strip()) for row in page.html.select("tfoot tr")]
    assert rows == [("Subtotal", "€26.00"), ("Shipping", "€4.90"), ("Total", "€30.90")]
    assert "The price changed from €12.50 to €13.00 since you added it." in " ".join(
        page.html.select_one(".cart-notice").text.split()
    )
    assert "This item is no longer available. Remove it to continue." in page.text
    assert page.html.select_one(".test-after-lines").text == "3 items above"


def test_mercato_render_slot_header_tools_shows_the_mini_cart_on_every_page(shopper):
    home = shopper.app.get("/")
    link = home.html.select_one(".header-tools a.mini-cart")
    assert link["href"] == "/cart" and link["aria-label"] == "Cart, 0 items"
    shopper.add("PEN", 3)
    link = shopper.app.get("/").html.select_one(".header-tools a.mini-cart")
    assert link.select_one(".mini-cart-count").text == "3"
    assert link["aria-label"] == "Cart, 3 items"


def test_mercato_render_slot_product_actions_is_an_add_to_cart_form(shopper):
    page = shopper.app.get("/test/product/MUG")
    (form,) = [form for form in page.forms.values() if form.action == "/cart/add"]
    assert form["sku"].value == "MUG"
    assert form["csrf_token"].value == shopper.token
    form["quantity"] = "2"
    form.submit(status=303)
    assert shopper.quantities() == {"MUG": 2}


def test_product_page_says_sold_out_instead(shopper, catalog):
    catalog.STOCK["TEE"] = 0
    page = shopper.app.get("/test/product/TEE")
    form = page.html.select_one("form.add-to-cart")
    assert "Sold out" in form.text and form.select_one("button") is None
