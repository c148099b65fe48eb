"""The shop as ``mercato demo`` composes it (tests/shop's fixtures) with the webhooks
plugin switched on, a receiver on loopback, and what the webhook tests look at."""

import json

import pytest
from sqlalchemy import select

from mercato_webhooks.models import Attempt, Delivery, Endpoint, Event
from tests.shop.conftest import (  # noqa: F401 (fixtures)
    all_orders,
    demo_plugins,
    demo_shopper,
    demo_staff,
    make_demo_shop,
    shop_catalog,
    stock_of,
)

from .receiver import Receiver

ALL_EVENTS = [
    "order.placed",
    "order.paid",
    "order.shipped",
    "order.refunded",
    "order.cancelled",
    "stock.low",
    "product.changed",
    "account.erased",
]
# Short pauses between retries, so that a test sees a day's schedule in seconds.
FAST_RETRIES = {
    "mercato.webhooks.first_retry": "0.2",
    "mercato.webhooks.longest_retry": "1",
    "mercato.webhooks.give_up_after": "60",
}


@pytest.fixture
def webhook_settings() -> dict:
    """The webhooks plugin's settings for these tests: loopback receivers allowed."""
    return {"mercato.webhooks.allow_private_targets": "true"}


@pytest.fixture
def demo_shop(make_demo_shop, webhook_settings):  # noqa: F811 (the fixture imported above)
    assert "webhooks" in demo_plugins(), "the demo's shop sends webhooks"
    return make_demo_shop(**webhook_settings)


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


def add_endpoint(dbsession, url: str, events=ALL_EVENTS, secret="whsec_test", enabled=True):
    endpoint = Endpoint(url=url, events=list(events), secret=secret, enabled=enabled)
    dbsession.add(endpoint)
    dbsession.commit()
    return endpoint


def bodies(received) -> list[dict]:
    return [json.loads(request.body) for request in received]


def events_of(dbsession) -> list[Event]:
    dbsession.expire_all()
    return dbsession.scalars(select(Event).order_by(Event.created_at)).all()


def deliveries_of(dbsession) -> list[Delivery]:
    dbsession.expire_all()
    return dbsession.scalars(select(Delivery).order_by(Delivery.id)).all()


def attempts_of(dbsession, delivery: Delivery) -> list[Attempt]:
    return dbsession.scalars(
        select(Attempt).where(Attempt.delivery_id == delivery.id).order_by(Attempt.id)
    ).all()
