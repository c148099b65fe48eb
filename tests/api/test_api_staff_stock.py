"""Stock changes through the staff JSON API (``mercato_catalog.staff_stock_api``):
relative, guarded like the stock page, all or nothing."""

import pytest
from sqlalchemy import select

from mercato_catalog.models import Variant

from .buying import ApiShopper


def stock(dbsession) -> dict[str, int]:
    dbsession.expire_all()
    return dict(dbsession.execute(select(Variant.sku, Variant.stock)).all())


def change(staff, changes, status=200):
    return staff.post("/api/staff/stock", {"changes": changes}, status=status).json


def test_units_received_and_lost_move_the_stock_by_that_much(staff, dbsession):
    answer = change(staff, [{"sku": "MUG", "adjust": 5}, {"sku": "TEE", "adjust": -3}])

    assert answer == {"stock": [{"sku": "MUG", "stock": 15}, {"sku": "TEE", "stock": 7}]}
    assert stock(dbsession) == {"MUG": 15, "TEE": 7}
    # A SKU named twice: both changes count.
    twice = change(staff, [{"sku": "MUG", "adjust": 1}, {"sku": "MUG", "adjust": 1}])
    assert twice == {"stock": [{"sku": "MUG", "stock": 17}]}


def test_a_sale_made_meanwhile_stays_sold(shop, localstripe, staff, dbsession):
    ApiShopper(shop(), localstripe).buy({"TEE": 4})  # 10 → 6 while the message travels

    assert change(staff, [{"sku": "TEE", "adjust": 2}])["stock"] == [{"sku": "TEE", "stock": 8}]


@pytest.mark.parametrize(
    ("changes", "status", "sku"),
    [
        ([{"sku": "MUG", "adjust": 1}, {"sku": "NOPE", "adjust": 1}], 400, "NOPE"),
        ([{"sku": "MUG", "adjust": 1}, {"sku": "TEE", "adjust": -11}], 409, "TEE"),
    ],
)
def test_one_refused_change_moves_no_stock(staff, dbsession, changes, status, sku):
    error = change(staff, changes, status=status)["error"]

    assert (error["status"], error["sku"]) == (status, sku)
    assert stock(dbsession) == {"MUG": 10, "TEE": 10}


@pytest.mark.parametrize(
    "changes",
    [[], [{"sku": "MUG", "adjust": 1.5}], [{"sku": "MUG", "adjust": True}], [{"sku": "MUG"}]],
)
def test_changes_that_are_not_whole_numbers_are_refused(staff, dbsession, changes):
    assert change(staff, changes, status=400)["error"]["fields"]
    assert stock(dbsession) == {"MUG": 10, "TEE": 10}


def test_customers_cannot_change_the_stock(shopper, dbsession):
    shopper.post("/api/staff/stock", {"changes": [{"sku": "MUG", "adjust": 1}]}, status=401)
    assert stock(dbsession) == {"MUG": 10, "TEE": 10}
