"""Guests and customers: the guest cart merges into the customer's on login, a
customer has one cart on every device, and checkout reads and empties it."""

import webtest
from sqlalchemy import select

from mercato_cart.models import CartBackup
from mercato_cart.services import COOKIE_NAME
from mercato_cart.store import write_waiting_backups
from tests.cart.conftest import PLUGINS, Shopper


def test_mercato_user_logged_in_merges_the_guest_cart_into_the_saved_one(new_shopper, catalog):
    phone = new_shopper()
    phone.login(7)
    phone.add("MUG", 9)
    phone.add("PEN", 1)

    laptop = new_shopper()
    laptop.add("MUG", 3)  # 9 + 3 is beyond the 10 in stock
    laptop.add("TEE", 2)
    laptop.login(7)

    expected = {"MUG": 10, "PEN": 1, "TEE": 2}
    assert laptop.quantities() == expected, "added, and capped at stock"
    assert phone.quantities() == expected, "the same cart on every device"
    page = laptop.app.get("/cart")
    assert "Only 10 of “MUG” could be kept in your cart." in page.text


def test_after_login_the_guest_cart_is_gone(new_shopper, redis_client, dbsession):
    browser = new_shopper()
    browser.add("PEN", 2)
    (guest_key,) = [key.decode() for key in redis_client.keys("cart:*")]
    assert browser.app.cookies.get(COOKIE_NAME)

    browser.login(8)

    # The cookie names the customer's cart now (read with the session), not the guest's.
    assert browser.app.cookies[COOKIE_NAME] == "u8"
    guest_id = guest_key[len("cart:{") : -1]
    assert redis_client.hget(guest_key, "q:PEN") is None
    write_waiting_backups()  # the copy is written behind the request
    backups = {row.cart_id: row.lines for row in dbsession.scalars(select(CartBackup))}
    assert backups[guest_id] == [] and backups["u8"][0]["quantity"] == 2


def test_login_without_a_guest_cart_keeps_the_saved_cart(new_shopper):
    phone = new_shopper()
    phone.login(9)
    phone.add("TEE", 1)
    laptop = new_shopper()
    laptop.login(9)
    assert laptop.quantities() == {"TEE": 1}


def test_mercato_cart_lines_gives_checkout_the_skus_and_quantities(shopper):
    shopper.add("MUG", 2)
    shopper.add("PEN", 1)
    order = shopper.app.post("/test/checkout", headers=shopper.headers).json
    assert order == {"lines": [["MUG", 2], ["PEN", 1]]}


def test_mercato_cart_checked_out_empties_the_cart_and_its_backup(shopper, dbsession):
    shopper.add("MUG", 2)
    shopper.app.post("/test/checkout", headers=shopper.headers)

    assert shopper.cart()["lines"] == []
    write_waiting_backups()  # the copy is written behind the request
    (row,) = dbsession.scalars(select(CartBackup)).all()
    assert row.lines == [], "the backup is emptied too, so Redis loss cannot bring it back"


def test_mercato_cart_checked_out_empties_the_customers_saved_cart(new_shopper):
    phone, laptop = new_shopper(), new_shopper()
    phone.login(12)
    phone.add("MUG", 2)
    phone.app.post("/test/checkout", headers=phone.headers)

    laptop.login(12)
    assert laptop.quantities() == {}, "the order's customer's cart, on every device"


def test_merge_leaves_sold_out_items_and_a_full_cart_alone(make_test_app, catalog):
    app = make_test_app(plugins=PLUGINS, **{"mercato.cart.max_lines": "2"})
    phone = Shopper(app)
    phone.login(11)
    phone.add("TEE", 2)
    phone.add("MUG", 1)  # the saved cart is full

    laptop = Shopper(webtest.TestApp(app.app, extra_environ=app.extra_environ))
    laptop.add("TEE", 1)
    laptop.add("PEN", 1)
    catalog.STOCK["TEE"] = 0
    laptop.login(11)

    assert laptop.quantities() == {"TEE": 2, "MUG": 1}, "the saved TEE line is left as it was"
    page = laptop.app.get("/cart").text
    assert "“TEE” is sold out, so it was not kept in your cart." in page
    assert "Your cart is full, so “PEN” was not added." in page


def forge_cart_cookie(browser, value: str) -> None:
    """Change the cart cookie the browser holds to ``value``."""
    (cookie,) = [cookie for cookie in browser.app.cookiejar if cookie.name == COOKIE_NAME]
    cookie.value = value


def test_a_cookie_naming_another_customers_cart_shows_nothing_of_it(new_shopper, catalog):
    """The cookie only says which cart to read with the session: a customer's cart is
    the one of the user the session names, whatever the cookie says."""
    owner = new_shopper()
    owner.login(21)
    owner.add("MUG", 2)
    other = new_shopper()
    other.login(22)
    other.add("PEN", 1)

    forge_cart_cookie(other, "u21")
    assert other.quantities() == {"PEN": 1}
    other.add("TEE", 1)
    assert other.app.cookies[COOKIE_NAME] == "u22", "a change names the own cart again"
    assert (owner.quantities(), other.quantities()) == ({"MUG": 2}, {"PEN": 1, "TEE": 1})

    guest = new_shopper()
    guest.add("PEN", 3)
    forge_cart_cookie(guest, "u21")
    assert guest.quantities() == {"PEN": 3}


def test_the_lines_a_login_merges_keep_the_order_they_were_added_in(new_shopper, catalog):
    """After the customer's own lines, in the order the guest added them (not by SKU:
    one change created them all)."""
    phone = new_shopper()
    phone.login(23)
    phone.add("TEE", 1)
    laptop = new_shopper()
    laptop.add("PEN", 1)
    laptop.add("MUG", 1)
    laptop.login(23)
    assert [line["sku"] for line in laptop.cart()["lines"]] == ["TEE", "PEN", "MUG"]
    laptop.add("MUG", 1)  # a later change to a merged line moves nothing
    laptop.add("PEN", 1)
    assert [line["sku"] for line in laptop.cart()["lines"]] == ["TEE", "PEN", "MUG"]
