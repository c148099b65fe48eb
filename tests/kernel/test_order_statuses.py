"""The order status machine's promises that plugins rely on (``mercato.orders.services``)."""

from mercato.orders import models as m
from mercato.orders.services import TRANSITIONS, UNSHIPPED_STATUSES


def reachable_from(start: set[str]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for new in TRANSITIONS[todo.pop()]:
            if new not in seen:
                seen.add(new)
                todo.append(new)
    return seen


def test_no_order_comes_back_to_an_unshipped_status_once_anything_shipped():
    """The returns and fulfilment plugins read nothing for an order in these statuses
    (its confirmation page): that holds only while no transition leads back to them."""
    after_shipping = reachable_from({m.PARTIALLY_FULFILLED, m.FULFILLED})

    assert after_shipping == {
        m.PARTIALLY_FULFILLED,
        m.FULFILLED,
        m.PARTIALLY_REFUNDED,
        m.REFUNDED,
    }
    assert not after_shipping & set(UNSHIPPED_STATUSES)
    assert set(UNSHIPPED_STATUSES) | after_shipping == set(m.ORDER_STATUSES)
