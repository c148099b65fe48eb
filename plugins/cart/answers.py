"""What the catalog told this process about SKUs, kept to answer shoppers' adds.

An add to a SKU asked about within ``mercato.cart.catalog_cache_seconds`` runs no
query (``CatalogAnswers``). What keeps the answers true:

* a product changed by any process (``mercato_product_changed``: staff's forms,
  imports (in the admin or ``mercato catalog import``) and API, their stock pages
  included) raises the catalog epoch in Redis, read
  with the cart in the same round trip; a new value forgets everything;
* stock taken or put back by any process (``mercato_reserve_stock``,
  ``mercato_release_stock``: orders, cancellations, restocks) is forgotten by that
  process when its transaction ends, and published at its commit on a Redis channel
  that one thread in every process listens to (``StockNews``): the others forget those
  SKUs' stock within milliseconds, not at the end of the answers' life. A stock answer
  is used only while that thread is subscribed: a process that lost the channel (Redis
  restarted, the connection dropped) may have missed news, so it forgets all stock and
  asks the catalog until it is subscribed again.

Nothing is decided on these answers alone: Redis caps the line again, the cart page
asks the catalog afresh (and shows a price that changed since), and checkout re-prices
and reserves stock under a lock. What may still lag, by the answers' life at most: a
pricing plugin whose prices change with the clock rather than an edit.
"""

import contextlib
import json
import logging
import os
import threading
import time
import weakref

log = logging.getLogger(__name__)

# How long a process's first change waits for its listener to subscribe (one round
# trip to Redis) before asking the catalog anyway.
FIRST_SUBSCRIBE_WAIT = 2.0
# After the channel failed: how long before subscribing again.
RESUBSCRIBE_AFTER = 1.0
# How often the listener looks up from an idle channel (to stop when asked).
POLL_SECONDS = 1.0


def stock_channel(client) -> str:
    """The channel stock news goes by: named after the Redis database, since Redis
    delivers a channel's messages to every database's clients (two shops on one Redis,
    the test suite next to the bench)."""
    pool = getattr(client, "connection_pool", None)  # a cluster has only database 0
    database = pool.connection_kwargs.get("db", 0) if pool is not None else 0
    return f"mercato:cart:stock-changed:{database}"


class CatalogAnswers:
    """What the catalog's hooks answered for SKUs (price, stock, name), each kept for
    ``seconds``. Prices and names are kept under ``get`` / ``put``; stock under
    ``stock`` / ``keep_stock``, trusted only while ``StockNews`` listens."""

    def __init__(self, seconds: float, max_entries: int = 20_000):
        self.seconds = seconds
        self.max_entries = max_entries
        self._items: dict = {}
        self._stock: dict[str, tuple[float, int | None]] = {}
        self._by_quantity: bool | None = None
        self._epoch: bytes | None = None
        self._stock_trusted = False
        # Raised whenever stock is forgotten: an answer the catalog gave before a
        # forget may predate the change it forgot, so it is not kept
        # (``keep_stock(..., since=)``).
        self.generation = 0

    def prices_by_quantity(self, hooks) -> bool:
        """Whether any ``mercato_unit_price`` implementation takes the ``quantity``
        argument (pluggy passes an implementation only the arguments it names): if
        none does, a SKU's price is the same for every quantity, and kept once."""
        if self._by_quantity is None:
            impls = hooks.mercato_unit_price.get_hookimpls()
            self._by_quantity = any("quantity" in impl.argnames for impl in impls)
        return self._by_quantity

    def get(self, key) -> tuple[bool, object]:
        return _fresh(self._items.get(key))

    def put(self, key, value) -> None:
        if self.seconds <= 0:
            return
        if len(self._items) >= self.max_entries:
            self._items = {}  # bounded; refilled by the next adds
        self._items[key] = (time.monotonic() + self.seconds, value)

    @property
    def stock_trusted(self) -> bool:
        return self._stock_trusted

    def stock(self, sku: str) -> tuple[bool, int | None]:
        if not self._stock_trusted:
            return False, None
        return _fresh(self._stock.get(sku))

    def keep_stock(self, sku: str, level: int | None, since: int) -> None:
        """Keep ``level``, which the catalog gave after ``generation`` was ``since``."""
        if self.seconds <= 0 or not self._stock_trusted or since != self.generation:
            return
        if len(self._stock) >= self.max_entries:
            self._stock = {}
        self._stock[sku] = (time.monotonic() + self.seconds, level)
        if since != self.generation:  # forgotten meanwhile, by the listener's thread
            self._stock.pop(sku, None)

    def forget_stock(self, skus) -> None:
        self.generation += 1
        for sku in skus:
            self._stock.pop(sku, None)

    def trust_stock(self, trusted: bool) -> None:
        """Listening to stock news again (or no longer): what was kept may have missed
        some, so all of it is forgotten either way."""
        self.generation += 1
        self._stock = {}
        self._stock_trusted = trusted

    def check_epoch(self, epoch: bytes | None) -> None:
        """Forget everything if the catalog changed since the last epoch seen."""
        if epoch != self._epoch:
            self.generation += 1
            self._items, self._stock = {}, {}
            self._epoch = epoch


def _fresh(item) -> tuple[bool, object]:
    if item is None or item[0] < time.monotonic():
        return False, None
    return True, item[1]


class StockNews:
    """One thread per process subscribed to the stock channel, making ``answers``
    forget the SKUs each message names. Started by the first change that would use a
    kept answer (``ensure_listening``), in the process that makes it (a forked worker
    starts its own); stopped with the app (``stop``)."""

    def __init__(self, client, answers: CatalogAnswers):
        self.client = client
        self.answers = answers
        self.channel = stock_channel(client)
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stopped = threading.Event()
        _ALL.add(self)

    def ensure_listening(self) -> None:
        if self._pid == os.getpid() or self._stopped.is_set():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            subscribed = threading.Event()
            threading.Thread(
                target=self._listen, args=(subscribed,), name="mercato-cart-stock", daemon=True
            ).start()
        # The process's first change waits for the subscription rather than ask the
        # catalog (once: later ones find the thread running).
        subscribed.wait(FIRST_SUBSCRIBE_WAIT)

    def stop(self) -> None:
        self._stopped.set()

    def publish(self, skus) -> None:
        """Tell every process (this one included) that the stock of ``skus`` changed.
        Best effort: should Redis refuse it, the others forget that stock at the end of
        the answers' life at the latest."""
        try:
            self.client.publish(self.channel, json.dumps(sorted(skus)))
        except Exception as exc:
            log.warning("cart: could not tell other processes stock changed: %r", exc)

    def _listen(self, subscribed: threading.Event) -> None:
        failures = 0
        while not self._stopped.is_set():
            pubsub = None
            try:
                pubsub = self.client.pubsub()
                pubsub.subscribe(self.channel)
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=POLL_SECONDS)
                    if message is not None:
                        self._heard(message, subscribed)
                        if failures and self.answers.stock_trusted:
                            if failures > 1:
                                log.info("cart: listening to stock news again")
                            failures = 0
            except Exception as exc:  # Redis gone or restarted: the news may be missed
                self.answers.trust_stock(False)
                failures += 1
                # Said once per outage, when subscribing again failed too: not for a
                # restart that the next attempt survives, nor for a process whose
                # Redis stops as it exits (the demo's embedded one).
                if failures == 2 and not self._stopped.is_set():
                    log.warning("cart: stock news lost, kept stock not used: %r", exc)
                self._stopped.wait(RESUBSCRIBE_AFTER)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # broken already: nothing to close
                        pubsub.close()
        self.answers.trust_stock(False)

    def _heard(self, message: dict, subscribed: threading.Event) -> None:
        if message["type"] == "subscribe":
            self.answers.trust_stock(True)
            subscribed.set()
        elif message["type"] == "message":
            try:
                skus = json.loads(message["data"])
            except ValueError:
                log.warning("cart: a stock message that is not JSON: %r", message["data"][:100])
                self.answers.trust_stock(True)  # forgets all stock: the safe reading
                return
            self.answers.forget_stock(skus)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # the fork may have copied it held
        self.answers.trust_stock(False)  # the parent's thread does not listen here


_ALL: weakref.WeakSet[StockNews] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for news in list(_ALL):
        news._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
