"""The admin's order page for orders with shipping and tax: the totals as every page
shows them (subtotal, shipping with its method, each tax line, total), the VAT number,
the address with its country's and state's names; and the refund form by lines and
shipping, which computes what the customer paid for them (tax included), lets staff
lower it with a reason, and puts the refunded units back in stock when asked. Hostile
posts get a 400 page saying why, and nothing is refunded.

The stand-in shipping and tax plugin (``tests.api.shipping_tax_plugin``) charges €4.90
for Standard shipping and adds 10 % tax on each line and on the shipping (19 % included
in the prices for Germany)."""

import pytest
from sqlalchemy import select

from mercato.orders import models as m
from mercato.testing import login
from mercato_admin.views import totals_rows
from tests.api.buying import NEW_YORK, PARIS, TAXED_PLUGIN, ApiShopper

from .conftest import PLUGINS, audit_entries, form_token, order, stock

MUG_WITH_TAX = 1375  # (2 × €12.50 + €2.50 tax) / 2
SHIPPING_WITH_TAX = 539  # €4.90 + €0.49


@pytest.fixture
def taxed_shop(make_shop, products):
    products("MUG", price=1250, stock=10, name="Blue mug")
    products("TEE", price=2000, stock=10, name="Tee")
    return lambda: make_shop(plugins=[*PLUGINS, TAXED_PLUGIN])


@pytest.fixture
def buy(taxed_shop, localstripe):
    def placed(lines=None, address=NEW_YORK, **extra) -> str:
        shopper = ApiShopper(taxed_shop(), localstripe)
        return shopper.buy(lines or {"MUG": 2, "TEE": 1}, address, **extra)["number"]

    return placed


@pytest.fixture
def staff(taxed_shop, staff_user):
    browser = taxed_shop()
    login(browser, staff_user.email)
    return browser


def position(dbsession, number: str, sku: str) -> int:
    return next(line.position for line in order(dbsession, number).lines if line.sku == sku)


def refund_form(staff, number: str, status=303, **fields):
    page = staff.get(f"/admin/orders/{number}")
    return staff.post(
        f"/admin/orders/{number}/refund",
        {"csrf_token": form_token(page), **fields},
        status=status,
    )


def totals(page) -> list[tuple[str, str]]:
    return [
        (row.th.get_text(strip=True), row.td.get_text(strip=True))
        for row in page.html.select("#lines-title ~ .table-wrap tfoot tr")
    ]


def nothing_refunded(dbsession, number: str) -> None:
    kept = order(dbsession, number)
    assert (kept.status, kept.amount_refunded) == (m.PAID, 0)
    assert dbsession.scalars(select(m.Refund)).all() == []
    assert audit_entries(dbsession) == []


def test_the_order_page_shows_shipping_each_tax_line_and_the_vat_number(buy, staff):
    number = buy(vat_number="FR40303265045")

    page = staff.get(f"/admin/orders/{number}")

    assert totals(page) == [
        ("Subtotal", "€45.00"),
        ("Shipping: Standard", "€4.90"),
        ("Sales tax 10%", "€4.99"),
        ("Total", "€54.89"),
        ("Captured", "€54.89"),
        ("Refunded", "€0.00"),
    ]
    assert page.html.select_one("#vat-number").text == "FR40303265045"
    ship_to = page.html.select("address")[0].get_text("|", strip=True)
    assert ship_to == "Grace Hopper|1 Liberty Street|10006 New York|New York|United States"
    assert page.html.select_one("label[for=refund-shipping]").text == (
        "Refund the shipping (Standard, €5.39)"
    )


def test_tax_included_in_the_prices_reads_as_included(buy, staff):
    number = buy({"MUG": 2}, {**PARIS, "country": "DE", "city": "Berlin"})

    page = staff.get(f"/admin/orders/{number}")

    assert ("VAT 19% (included)", "€4.77") in totals(page)
    assert ("Total", "€29.90") in totals(page)
    assert page.html.select_one("#vat-number") is None
    assert "Germany" in page.html.select("address")[0].text


def test_calculate_shows_what_the_chosen_units_and_shipping_cost_and_refunds_nothing(
    buy, staff, dbsession
):
    number = buy()
    mug = position(dbsession, number, "MUG")

    page = refund_form(
        staff, number, status=200, calculate="1", shipping="true", **{f"refund-{mug}": "1"}
    )

    assert page.html.select_one("#refund-computed strong").text == "€19.14"
    assert page.html.select_one(f"#refund-refund-{mug}")["value"] == "1", "the choice is kept"
    assert page.html.select_one("#refund-shipping").has_attr("checked")
    nothing_refunded(dbsession, number)

    empty = refund_form(staff, number, status=400, calculate="1")
    assert (
        "Choose units to refund (or the shipping)"
        in empty.html.select_one("#refund-form [role=alert]").text
    )


def test_refunding_a_line_refunds_its_tax_and_puts_it_back_in_stock_when_ticked(
    buy, staff, staff_user, dbsession, localstripe
):
    number = buy()
    mug = position(dbsession, number, "MUG")

    done = refund_form(
        staff, number, restock="true", reason="broken", **{f"refund-{mug}": "1"}
    ).follow()

    assert f"€13.75 refunded for order {number}." in done.text
    refunded = order(dbsession, number)
    assert (refunded.status, refunded.amount_refunded) == (m.PARTIALLY_REFUNDED, MUG_WITH_TAX)
    assert {line.sku: line.quantity_restocked for line in refunded.lines} == {"MUG": 1, "TEE": 0}
    assert (stock(dbsession, "MUG"), stock(dbsession, "TEE")) == (9, 9)
    intent = refunded.payments[-1].reference
    refunds = localstripe.client().v1.refunds.list(params={"payment_intent": intent})
    assert [r.amount for r in refunds.data] == [MUG_WITH_TAX]
    [entry] = audit_entries(dbsession)
    assert entry.summary == "Refunded €13.75 for 1 × MUG, back in stock: 1 × MUG (broken)"
    assert entry.actor_email == staff_user.email

    refund_form(staff, number, shipping="true")
    assert order(dbsession, number).amount_refunded == MUG_WITH_TAX + SHIPPING_WITH_TAX
    assert stock(dbsession, "MUG") == 9, "nothing else goes back"
    assert audit_entries(dbsession)[-1].summary == "Refunded €5.39 for the shipping"


def test_the_computed_amount_may_be_lowered_with_a_reason_never_raised(buy, staff, dbsession):
    number = buy()
    tee = position(dbsession, number, "TEE")
    chosen = {f"refund-{tee}": "1"}

    too_much = refund_form(staff, number, status=400, amount="22.01", **chosen)
    assert too_much.html.select_one("#refund-amount-error").text == (
        "What you chose comes to €22.00: refund that or less, not €22.01."
    )
    no_reason = refund_form(staff, number, status=400, amount="15", **chosen)
    assert no_reason.html.select_one("#refund-reason-error").text == (
        "Say why the refund is less than €22.00."
    )
    assert no_reason.html.select_one("#refund-amount")["value"] == "15", "the form is kept"
    nothing_refunded(dbsession, number)

    refund_form(staff, number, amount="15", reason="stain, kept it", **chosen)
    assert order(dbsession, number).amount_refunded == 1500


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("refund-{mug}", "-1", "Refund 0 or more."),
        ("refund-{mug}", "two", '"two" is not a number'),
        (
            "refund-{mug}",
            "99999999999999999999",
            "Order {n} has 2 × Blue mug, not 99999999999999999999.",
        ),
        ("refund-{mug}", "3", "Order {n} has 2 × Blue mug, not 3."),
    ],
)
def test_a_quantity_that_does_not_fit_the_line_is_refused_next_to_it(
    buy, staff, dbsession, field, value, message
):
    number = buy()
    name = field.format(mug=position(dbsession, number, "MUG"))

    refused = refund_form(staff, number, status=400, **{name: value})

    assert refused.html.select_one(f"#refund-{name}-error").text == message.format(n=number)
    nothing_refunded(dbsession, number)


@pytest.mark.parametrize("name", ["refund-9", "restock-0", "refund-MUG"])
def test_a_field_of_no_line_of_the_order_refuses_the_whole_form(buy, staff, dbsession, name):
    number = buy()

    refused = refund_form(staff, number, status=400, amount="1.00", **{name: "1"})

    alert = refused.html.select_one("#refund-form [role=alert]").text
    assert alert == (
        f"The refund form of order {number} has no {name}: reload the page and try again. "
        "Nothing was refunded."
    )
    nothing_refunded(dbsession, number)


def test_an_order_without_shipping_has_no_shipping_box(checkout, products, staff, dbsession):
    number = checkout().buy(products("PEN", price=300))
    page = staff.get(f"/admin/orders/{number}")
    assert page.html.select_one("#refund-shipping") is None
    assert [row[0] for row in totals(page)] == ["Subtotal", "Total", "Captured", "Refunded"]

    refused = refund_form(staff, number, status=400, shipping="true")
    assert "has no shipping" in refused.html.select_one("#refund-form [role=alert]").text
    nothing_refunded(dbsession, number)


def test_ticking_put_back_in_stock_needs_units_and_excludes_per_line_counts(buy, staff, dbsession):
    number = buy()
    mug = position(dbsession, number, "MUG")

    alone = refund_form(staff, number, status=400, amount="1.00", restock="true")
    assert alone.html.select_one("#refund-restock-error").text == (
        "Choose the units to refund: those go back in stock."
    )
    both = refund_form(
        staff,
        number,
        status=400,
        restock="true",
        **{f"refund-{mug}": "1", f"restock-{mug}": "1"},
    )
    assert "not both" in both.html.select_one("#refund-restock-error").text
    nothing_refunded(dbsession, number)
    assert stock(dbsession, "MUG") == 8


def test_a_tax_line_named_with_its_rate_shows_the_rate_once():
    order = m.Order(
        currency="EUR",
        subtotal_amount=3200,
        total_amount=2991,
        adjustments=[],
        tax_lines=[
            {"name": "VAT 7% removed (export)", "rate": "0.07", "amount": -209,
             "included": False, "target": "BOOK"},
            {"name": "Sales tax", "rate": "0.0725", "amount": 0, "included": False,
             "target": "BOOK"},
        ],
    )  # fmt: skip

    labels = [row["label"] for row in totals_rows(order) if row["kind"] == "tax"]

    assert labels == ["VAT 7% removed (export)", "Sales tax 7.25%"]
