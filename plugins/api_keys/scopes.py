"""The scopes an admin may give a key, each the Pyramid permission it grants and the
HTTP methods it grants it for. A fixed list, documented in docs/api-client.md: a key
is a contract with another system, and its meaning must not change when a plugin is
added.

A ``…:read`` scope grants the permission for reading (GET, HEAD); ``…:write`` for
every method, reading included (a client that changes products reads them too).
"""

from typing import NamedTuple

READ_METHODS = frozenset({"GET", "HEAD"})


class Scope(NamedTuple):
    label: str
    permission: str
    methods: frozenset | None  # None: every method


SCOPES = {
    "catalog:read": Scope("Read products, variants and stock", "catalog.manage", READ_METHODS),
    "catalog:write": Scope(
        "Create and change products, variants and stock (reading included)", "catalog.manage", None
    ),
    "orders:read": Scope("Read every order", "orders.manage", READ_METHODS),
    "orders:write": Scope(
        "Change orders: capture, ship, cancel, refund (reading included)", "orders.manage", None
    ),
}


def permissions_for(scopes, method: str) -> frozenset:
    """The permissions ``scopes`` grant to a request made with ``method``."""
    return frozenset(
        SCOPES[name].permission
        for name in scopes
        if name in SCOPES and (SCOPES[name].methods is None or method in SCOPES[name].methods)
    )
