"""Cart: a Redis cart per shopper, with a copy in PostgreSQL written behind the requests.

Redis holds the live cart (``store``: one hash per cart, changed by one Lua script); each
change is handed, after its transaction committed, to the process's writer thread,
which writes the latest state of every changed cart every 0.25 s in one statement
(``store.BackupWriter``). Losing Redis therefore loses at most the last second of cart
changes (tests/cart/test_cart_write_behind.py kills a Redis of its own, and the app's
process, during a stream of adds and counts what came back from PostgreSQL). The copy
waits while PostgreSQL is away, is written at exit, and a cart restored from it
continues in a new version epoch so that no late copy of the lost cart wins over it.
Adds and quantity changes are answered from what the catalog said about the SKU in the
last ``mercato.cart.catalog_cache_seconds`` (``answers``), forgotten by every process
when a product changes (``store.CATALOG_EPOCH_KEY``) and, for the SKUs whose stock an
order or a restock changed, when the news reaches it on Redis (``answers.StockNews``);
reads never.
docs/deploy.md (section 6) says the same for store owners.
"""
