"""The SKU facts the catalog's price and stock hooks answer from: a session that has
not begun a transaction reads them on a pooled connection in autocommit (one round
trip, no BEGIN and ROLLBACK around it: an add to cart's case); a session with changes
of its own reads them through itself, so it sees them."""

from sqlalchemy import select

from mercato_catalog.facts import facts
from mercato_catalog.models import Product, Variant


def test_facts_are_read_without_beginning_the_sessions_transaction(catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1850, stock=7)
    assert not dbsession.in_transaction()

    found = facts(dbsession, ["MUG", "NOPE"])

    assert (found["MUG"].price_amount, found["MUG"].stock, found["NOPE"]) == (1850, 7, None)
    assert not dbsession.in_transaction(), "no transaction begun, none to roll back"


def test_facts_see_what_the_session_added_and_has_not_flushed(catalog, dbsession):
    catalog.product("Mug", sku="MUG")
    cap = Product(slug="cap", name="Cap", description="", active=True, tax_class="standard")
    cap.variants.append(
        Variant(
            sku="CAP",
            name="",
            options={},
            price_amount=900,
            price_currency="EUR",
            stock=3,
            weight=0,
            active=True,
            position=0,
        )
    )
    dbsession.add(cap)

    assert facts(dbsession, ["CAP"])["CAP"].price_amount == 900


def test_facts_see_the_sessions_own_uncommitted_change(catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1850)
    assert facts(dbsession, ["MUG"])["MUG"].price_amount == 1850
    variant = dbsession.scalar(select(Variant).where(Variant.sku == "MUG"))
    variant.price_amount = 1990
    dbsession.flush()

    assert facts(dbsession, ["MUG"])["MUG"].price_amount == 1990
    dbsession.rollback()
    assert facts(dbsession, ["MUG"])["MUG"].price_amount == 1850
