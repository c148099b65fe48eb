"""The checkout's JSON API with shipping and tax: the address (with its region and a
VAT number) prices the cart for its destination, the shopper lists and chooses a
shipping method, every total comes with its tax lines and summary rows, and the order
(for its customer and for staff) keeps them. The stand-in plugin charges €4.90 for
Standard shipping and adds 10 % tax on each line and on the shipping (19 % included in
the prices for Germany)."""

from sqlalchemy import select

from mercato.orders import models as m

from .buying import NEW_YORK, PARIS


def eur(amount: int) -> dict:
    return {"amount": amount, "currency": "EUR"}


STANDARD = {"code": "std", "name": "Standard", "price": eur(490), "estimate": "2–3 working days"}
EXPRESS = {"code": "express", "name": "Express", "price": eur(1290), "estimate": "next day"}


def test_the_shipping_options_follow_the_address_and_the_choice_prices_the_cart(shopper):
    shopper.add("MUG", 2)
    shopper.add("TEE")

    first = shopper.app.get("/api/checkout/shipping", status=409).json["error"]
    assert first["field"] == "shipping_address"
    assert first["message"] == "Give the shipping address first: the shipping methods depend on it."

    shopper.address(PARIS)
    listed = shopper.app.get("/api/checkout/shipping").json
    assert listed == {
        "shipping_required": True,
        "shipping_options": [STANDARD, EXPRESS],
        "shipping": None,
    }
    before = shopper.app.get("/api/checkout").json
    assert before["shipping"] is None and before["shipping_method"] is None
    assert before["total"] == eur(4950), "€45.00 and 10 % tax on the lines, no shipping yet"

    chosen = shopper.choose("std").json

    assert chosen["shipping_method"] == "std"
    assert chosen["shipping"] == STANDARD
    assert chosen["shipping_options"] == [STANDARD, EXPRESS]
    assert sorted(chosen["taxes"], key=lambda t: t["target"]) == [
        {
            "name": "Sales tax",
            "rate": "0.10",
            "amount": eur(250),
            "included": False,
            "target": "MUG",
        },
        {
            "name": "Sales tax",
            "rate": "0.10",
            "amount": eur(200),
            "included": False,
            "target": "TEE",
        },
        {
            "name": "Sales tax",
            "rate": "0.10",
            "amount": eur(49),
            "included": False,
            "target": "shipping",
        },
    ]
    assert chosen["summary"] == [
        {"kind": "subtotal", "label": "Subtotal", "amount": eur(4500), "included": False},
        {"kind": "shipping", "label": "Standard", "amount": eur(490), "included": False},
        {
            "kind": "tax",
            "label": "Sales tax",
            "amount": eur(499),
            "included": False,
            "rate": "0.10",
        },
        {"kind": "total", "label": "Total", "amount": eur(5489), "included": False},
    ]
    assert chosen["total"] == eur(5489)
    assert shopper.app.get("/api/checkout").json["total"] == eur(5489)

    express = shopper.choose("express").json
    assert express["total"] == eur(4500 + 1290 + 450 + 129)


def test_a_method_not_offered_is_refused_with_its_field(shopper):
    shopper.add("MUG")
    shopper.address(PARIS)

    unknown = shopper.choose("teleport", status=400).json["error"]
    assert unknown == {
        "status": 400,
        "message": "Please choose one of the shipping methods offered.",
        "field": "shipping_method",
    }
    for body in ({}, {"code": 7}, {"code": ""}):
        refused = shopper.put("/api/checkout/shipping", body, status=400).json["error"]
        assert refused["field"] == "shipping_method"
    assert shopper.app.get("/api/checkout").json["shipping_method"] is None


def test_an_order_without_a_shipping_method_is_refused_and_not_placed(shopper, dbsession):
    shopper.add("MUG")
    shopper.address(PARIS)

    refused = shopper.pay(status=400).json["error"]

    assert refused["message"] == "Please choose a shipping method."
    assert refused["field"] == "shipping_method"
    assert dbsession.scalars(select(m.Order)).all() == []


def test_a_destination_no_method_covers_is_named_and_cannot_be_bought(shopper, dbsession):
    shopper.add("MUG")
    shopper.address({**PARIS, "country": "AQ"})

    checkout = shopper.app.get("/api/checkout").json
    assert checkout["shipping_options"] == []
    assert (
        "Sorry, we do not ship to Antarctica yet. Please choose another address."
        in (checkout["problems"])
    )
    assert shopper.choose("std", status=400).json["error"]["field"] == "shipping_method"
    shopper.pay(status=409)
    assert dbsession.scalars(select(m.Order)).all() == []


def test_the_address_takes_a_region_and_a_vat_number(shopper):
    shopper.add("MUG")

    saved = shopper.address(NEW_YORK, vat_number="fr 40-303.265 045").json
    assert saved["vat_number"] == "FR40303265045"
    checkout = shopper.app.get("/api/checkout").json
    assert checkout["shipping_address"]["region"] == "NY"
    assert checkout["vat_number"] == "FR40303265045"

    no_state = shopper.address({**NEW_YORK, "region": ""}, status=400).json["error"]
    assert no_state["fields"] == {
        "shipping.region": "Choose the state or province in United States."
    }
    bad_vat = shopper.address(NEW_YORK, vat_number="12", status=400).json["error"]
    assert bad_vat["fields"] == {"vat_number": "Enter a VAT number like DE123456789."}
    not_text = shopper.address(NEW_YORK, vat_number=["FR40303265045"], status=400).json["error"]
    assert "vat_number" in not_text["fields"]


def test_the_order_keeps_its_shipping_tax_lines_vat_number_and_summary(
    shopper, staff, dbsession, localstripe
):
    placed = shopper.buy({"MUG": 2, "TEE": 1}, NEW_YORK, vat_number="FR40303265045")

    assert placed["shipping"] == {
        "method": "std",
        "name": "Standard",
        "price": eur(490),
        "tax": eur(49),
    }
    assert sorted((t["target"], t["rate"], t["amount"]["amount"]) for t in placed["tax_lines"]) == [
        ("MUG", "0.10", 250),
        ("TEE", "0.10", 200),
        ("shipping", "0.10", 49),
    ]
    assert placed["tax_amount"] == eur(499)
    assert placed["vat_number"] == "FR40303265045"
    assert [(row["kind"], row["amount"]["amount"]) for row in placed["summary"]] == [
        ("subtotal", 4500),
        ("shipping", 490),
        ("tax", 499),
        ("total", 5489),
    ]
    assert placed["total"] == eur(5489)
    order = dbsession.scalars(select(m.Order)).one()
    intent = localstripe.client().v1.payment_intents.retrieve(order.payments[-1].reference)
    assert intent.amount == 5489, "the card is charged the total shown"

    # The customer's link and the staff API answer the same order.
    mine = shopper.app.get(f"/api/orders/{order.access_token}").json["order"]
    assert {k: mine[k] for k in ("shipping", "tax_lines", "summary")} == {
        k: placed[k] for k in ("shipping", "tax_lines", "summary")
    }
    assert mine["captured"] == eur(5489)
    shipped = staff.post(f"/api/staff/orders/{order.number}/fulfilment", {}).json["order"]
    assert shipped["summary"] == placed["summary"] and shipped["tax_amount"] == eur(499)


def test_tax_included_in_the_prices_is_listed_and_not_added(shopper):
    placed = shopper.buy({"MUG": 2}, {**PARIS, "country": "DE", "city": "Berlin"})

    assert placed["summary"] == [
        {"kind": "subtotal", "label": "Subtotal", "amount": eur(2500), "included": False},
        {"kind": "shipping", "label": "Standard", "amount": eur(490), "included": False},
        # 19 % inside €25.00 (399) and inside €4.90 (78).
        {"kind": "tax", "label": "VAT", "amount": eur(477), "included": True, "rate": "0.19"},
        {"kind": "total", "label": "Total", "amount": eur(2990), "included": False},
    ]
    assert placed["tax_amount"] == eur(0)
    assert placed["shipping"]["tax"] == eur(0)
