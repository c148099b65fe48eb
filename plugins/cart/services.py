"""The shopper's cart for one request: who it belongs to, what may change, its totals.

A guest's cart id lives in the session and, so that a lost or expired session loses no
cart, in a cookie of its own; a customer's cart is keyed by their user id, so every
device shows the same cart, and once they logged in the cookie names it (so it is read
with the session, ``read_with_session``) until they log out. Changes are queued on the
request's transaction (the kernel's Redis data manager) and reach Redis only if it
commits; the backup in PostgreSQL is handed, after that commit, to the process's writer
(``store.BackupWriter``) from what Redis returned, and written behind the request
within a second.
"""

import logging
import re
import secrets
from dataclasses import dataclass, field

from mercato import (
    Adjustment,
    Line,
    Money,
    PricingContext,
    describe_skus,
    price_lines,
    redis_writes,
)

from .answers import CatalogAnswers
from .store import (
    CATALOG_EPOCH_KEY,
    CartStore,
    StoredCart,
    StoredLine,
    parse_price,
    price_text,
    redis_key,
)

log = logging.getLogger(__name__)

SESSION_KEY = "mercato.cart.id"
COOKIE_NAME = "mercato_cart"
GUEST_ID = re.compile(r"^g[A-Za-z0-9_-]{22}$")
CUSTOMER_ID = re.compile(r"^u[0-9]{1,19}$")
READ_WITH_SESSION = "mercato_cart.read_with_session"  # in request.environ: id, fields[, epoch]
_UNCHANGED = object()  # the response leaves the cart's cookie as the browser has it


def customer_cart_id(user_id: int) -> str:
    """A customer's cart, the same on every device they log in from."""
    return f"u{user_id}"


class CartError(Exception):
    """A change the cart refuses, with a sentence for the shopper."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class CartLine:
    """A line as the shopper sees it."""

    sku: str
    quantity: int
    unit_price: Money | None
    total: Money | None
    name: str = ""  # the seller plugin's display name (mercato_sku_details)
    url: str | None = None
    image_url: str | None = None
    price_was: Money | None = None  # the price when added, if it has changed since
    available: int | None = None  # stock, when tracked
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "sku": self.sku,
            "name": self.name or self.sku,
            "url": self.url,
            "image_url": self.image_url,
            "quantity": self.quantity,
            "unit_price": self.unit_price.to_json() if self.unit_price else None,
            "total": self.total.to_json() if self.total else None,
            "price_was": self.price_was.to_json() if self.price_was else None,
            "available": self.available,
            "problems": self.problems,
        }


@dataclass
class CartView:
    """A priced cart: lines, adjustments in plugin order, totals, and the rows under
    the lines as every page shows them (``PricedLines.summary()``)."""

    lines: list[CartLine]
    adjustments: list[Adjustment]
    subtotal: Money
    total: Money
    summary: list[dict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def ready(self) -> bool:
        """True when every line can be bought as it is."""
        return bool(self.lines) and not any(line.problems for line in self.lines)

    def to_json(self) -> dict:
        return {
            "lines": [line.to_json() for line in self.lines],
            "adjustments": [
                {"label": a.label, "amount": a.amount.to_json(), "code": a.code, "source": a.source}
                for a in self.adjustments
            ],
            "subtotal": self.subtotal.to_json(),
            "total": self.total.to_json(),
            "count": self.count,
            "ready": self.ready,
        }


def read_with_session(request, pipe):
    """The shopper's cart, and for a change the catalog's epoch, read with the session
    (``config.add_session_read``): the cart's cookie names it (a guest's cart, or the
    customer's once they logged in), and a browser sends it with the session's. Used
    only when the session names the same cart (``ShopperCart.stored``): a cookie
    naming another customer's cart reads what is then thrown away."""
    cart_id = request.cookies.get(COOKIE_NAME)
    if not cart_id or not (GUEST_ID.match(cart_id) or CUSTOMER_ID.match(cart_id)):
        return None
    pipe.hgetall(redis_key(cart_id))
    changing = request.method != "GET" and request.registry.cart_answers.seconds > 0
    if changing:
        pipe.get(CATALOG_EPOCH_KEY)

    def receive(answers) -> None:
        read = (cart_id, next(answers), next(answers) if changing else None)
        if not any(isinstance(answer, Exception) for answer in read):
            request.environ[READ_WITH_SESSION] = read

    return receive


class ShopperCart:
    """``request.cart``: the current shopper's cart."""

    def __init__(self, request):
        self.request = request
        self.store: CartStore = request.registry.cart_store
        settings = request.registry.settings
        self.currency: str = settings["mercato.currency"]
        self.max_per_line: int = settings["mercato.cart"]["max_per_line"]
        self.max_lines: int = settings["mercato.cart"]["max_lines"]
        self._stored: StoredCart | None = None
        # What the catalog answered lately, for the changes a shopper makes (an add
        # asks no catalog query while its SKU's answers are kept); never for reads.
        self._kept: CatalogAnswers | None = None
        if request.method != "GET" and request.registry.cart_answers.seconds > 0:
            self._kept = request.registry.cart_answers
            request.registry.cart_stock_news.ensure_listening()
        self._epoch_read = False
        self._changed: list[StoredCart] = []
        self._hooked_txn = None
        self._stock: dict[str, int | None] = {}
        self._names: dict[str, str] = {}
        self._prices: dict[tuple[str, int], Money | None] = {}
        self._cookie: str | None | object = _UNCHANGED  # what the response tells

    # -- whose cart -----------------------------------------------------------------

    @property
    def cart_id(self) -> str | None:
        user = self.request.user
        if user is not None:
            return customer_cart_id(user.id)
        return self._guest_id()

    def _guest_id(self) -> str | None:
        session = self.request.session
        cart_id = session.get(SESSION_KEY)
        if isinstance(cart_id, str) and GUEST_ID.match(cart_id):
            return cart_id
        cart_id = self.request.cookies.get(COOKIE_NAME)
        if cart_id and GUEST_ID.match(cart_id):
            # The session expired or was lost with Redis: the cookie finds the cart.
            session[SESSION_KEY] = cart_id
            return cart_id
        if cart_id and CUSTOMER_ID.match(cart_id):
            # Left by a customer who logged out: this browser no longer names them.
            self._set_cookie(None)
        return None

    def _writable_id(self) -> str:
        cart_id = self.cart_id
        if cart_id is None:
            cart_id = "g" + secrets.token_urlsafe(16)
            self.request.session[SESSION_KEY] = cart_id
        # Renewed with every change: the cookie lives exactly as long as the cart.
        self._set_cookie(cart_id)
        return cart_id

    def _set_cookie(self, cart_id: str | None) -> None:
        """Name ``cart_id`` in the cart's cookie (``None``: delete it) in the response;
        the last call of a request wins (a login right after a logout names the new
        customer, not nobody)."""
        if self._cookie is _UNCHANGED:
            self.request.add_response_callback(self._write_cookie)
        self._cookie = cart_id

    def _write_cookie(self, request, response) -> None:
        if self._cookie is None:
            response.delete_cookie(COOKIE_NAME, path="/")
            return
        response.set_cookie(
            COOKIE_NAME,
            self._cookie,
            max_age=self.store.idle_seconds,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.scheme == "https",
        )

    # -- reading --------------------------------------------------------------------

    @property
    def stored(self) -> StoredCart:
        if self._stored is None:
            cart_id = self.cart_id
            read = self.request.environ.pop(READ_WITH_SESSION, None)
            if read is not None and read[0] == cart_id:
                self._stored = self.store.from_fields(cart_id, read[1])
                if self._kept is not None and not self._epoch_read:
                    self._epoch_seen(read[2])
            elif self._kept is not None and not self._epoch_read:
                # The catalog's epoch comes with the cart: kept answers older than a
                # product change made anywhere are forgotten before they are used.
                self._stored, epoch = self.store.load_with_epoch(cart_id)
                self._epoch_seen(epoch)
            else:
                self._stored = self.store.load(cart_id) if cart_id else StoredCart("")
        return self._stored

    @property
    def _answers(self) -> CatalogAnswers | None:
        if self._kept is not None and not self._epoch_read:
            # Asked before the cart was read (a login merging a guest's cart).
            self._epoch_seen(self.store.catalog_epoch())
        return self._kept

    def _epoch_seen(self, epoch: bytes | None) -> None:
        self._kept.check_epoch(epoch)
        self._epoch_read = True

    @property
    def count(self) -> int:
        return self.stored.count

    def lines(self) -> list[Line]:
        """The cart for checkout: SKUs and quantities, prices left to the kernel."""
        return [Line(sku=line.sku, quantity=line.quantity) for line in self.stored.lines]

    def pricing_context(self) -> PricingContext:
        request = self.request
        # The request's database session is opened only if a hook uses it: an add
        # whose SKU the catalog answered lately needs no database at all.
        return RequestPricingContext(currency=self.currency, customer=request.user, request=request)

    def view(self) -> CartView:
        """The cart priced on the server, each line with what the shopper must know."""
        context = self.pricing_context()
        stored = self.stored.lines
        # Described first: a catalog that reads all the SKUs at once then answers the
        # per-SKU price and stock hooks below from what it read.
        details = self._details([line.sku for line in stored])
        self._names.update((sku, d.name) for sku, d in details.items() if d.name)
        priced = price_lines(
            PricesSeen(self.request.hooks, self._prices, self._answers),
            [Line(sku=line.sku, quantity=line.quantity) for line in stored],
            context,
        )
        by_sku = {line.sku: line for line in priced.lines}
        lines = []
        for line in stored:
            current = by_sku.get(line.sku)
            described = details.get(line.sku)
            shown = CartLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=current.unit_price if current else None,
                total=current.total if current else None,
                name=described.name if described else "",
                url=described.url if described else None,
                image_url=described.image_url if described else None,
            )
            if current is None:
                shown.problems.append("This item is no longer available. Remove it to continue.")
            else:
                if line.price is not None and line.price != current.unit_price:
                    shown.price_was = line.price
                shown.available = self.stock_level(line.sku)
                if shown.available is not None and line.quantity > shown.available:
                    shown.problems.append(_short_of_stock(shown.available))
            lines.append(shown)
        return CartView(lines, priced.adjustments, priced.subtotal, priced.total, priced.summary())

    # -- changing -------------------------------------------------------------------

    def add(self, sku: str, quantity: int) -> None:
        """Add ``quantity`` units of ``sku``; refuse what cannot be sold."""
        stored = self.stored
        current = stored.quantity(sku)
        wanted = current + quantity
        price = self._unit_price(sku, wanted)
        if price is None:
            raise CartError(
                f"We could not find a product with the SKU “{sku}”, or it is no longer sold.",
                400,
            )
        if current == 0 and len(stored.lines) >= self.max_lines:
            raise CartError(
                f"Your cart is full: it can hold {self.max_lines} different items.", 409
            )
        if wanted > self.max_per_line:
            raise CartError(
                f"You can have at most {self.max_per_line} of {self.name_of(sku)} in your cart"
                + (f" (you already have {current})." if current else "."),
                409,
            )
        cap = self._cap(sku, wanted, current)
        self._change(["add", sku, quantity, cap, price_text(price)])

    def set_quantity(self, sku: str, quantity: int) -> None:
        """Set a line's quantity; 0 removes it."""
        if self.stored.line(sku) is None:
            raise CartError(f"{self.name_of(sku)} is not in your cart.", 404)
        if quantity == 0:
            self.remove(sku)
            return
        price = self._unit_price(sku, quantity)
        if price is None:
            raise CartError(
                f"{self.name_of(sku)} is no longer available, so its quantity cannot change. "
                "Remove it from your cart.",
                409,
            )
        cap = self._cap(sku, quantity, 0)
        self._change(["set", sku, quantity, cap, price_text(price)])

    def remove(self, sku: str) -> None:
        if self.stored.line(sku) is None:
            raise CartError(f"{self.name_of(sku)} is not in your cart.", 404)
        self._change(["remove", sku])

    def clear(self) -> None:
        if self.cart_id is not None:
            self._change(["clear"])

    def _cap(self, sku: str, wanted: int, current: int) -> int:
        """The most this line may hold; refuses ``wanted`` beyond stock."""
        stock = self.stock_level(sku)
        if stock is None:
            return self.max_per_line
        if wanted > stock:
            name = self.name_of(sku)
            if stock <= 0:
                raise CartError(f"Sorry, {name} is sold out.", 409)
            held = f" and you already have {current} in your cart" if current else ""
            verb = "is" if stock == 1 else "are"
            raise CartError(f"Only {stock} of {name} {verb} available{held}.", 409)
        return min(self.max_per_line, stock)

    def _change(self, op: list) -> None:
        cart_id = self._writable_id()
        self._queue(cart_id, [op])
        # This request shows the cart as its change will make it; Redis applies the
        # same operation at commit, capped again there against racing tabs.
        self._stored = _apply(self.stored, [op])
        self._stored.cart_id = cart_id

    def _queue(self, cart_id: str, ops: list) -> None:
        txn = self.request.tm.get()
        self.store.queue(redis_writes(self.request), cart_id, ops, self._changed.append)
        if self._hooked_txn is not txn:
            txn.addAfterCommitHook(self._backup_after_commit)
            self._hooked_txn = txn

    def _backup_after_commit(self, committed: bool) -> None:
        changed, self._changed = self._changed, []
        if not committed or not changed:
            return
        latest: dict[str, StoredCart] = {}
        for cart in changed:
            if cart.cart_id not in latest or cart.version > latest[cart.cart_id].version:
                latest[cart.cart_id] = cart
        # Written behind the request (store.BackupWriter): the shopper never waits for
        # PostgreSQL, and many changes to one cart within the writer's interval cost
        # one upsert of its latest state.
        self.store.backup_later(list(latest.values()))

    # -- login and checkout ---------------------------------------------------------

    def merge_guest_into(self, user) -> list[str]:
        """Move the guest cart's lines into ``user``'s saved cart, quantities added and
        capped at stock and the per-line maximum. Returns notes for the shopper."""
        guest_id = self._guest_id()
        customer_id = customer_cart_id(user.id)
        # From now on the cookie names the customer's cart, read with the session.
        self._set_cookie(customer_id)
        if guest_id is None:
            return []
        self.request.session.pop(SESSION_KEY, None)
        guest = self.store.load(guest_id)
        if not guest.lines:
            return []
        customer = self.store.load(customer_id)
        ops, notes = [], []
        held = len(customer.lines)
        self._describe(line.sku for line in guest.lines)
        for line in guest.lines:
            name = self.name_of(line.sku)
            new_line = customer.quantity(line.sku) == 0
            if new_line and held >= self.max_lines:
                notes.append(f"Your cart is full, so {name} was not added.")
                continue
            stock = self.stock_level(line.sku)
            cap = self.max_per_line if stock is None else min(self.max_per_line, stock)
            if cap <= 0:
                # Leaves a saved line alone: the cart page tells the shopper it sold out.
                notes.append(f"{name} is sold out, so it was not kept in your cart.")
                continue
            if customer.quantity(line.sku) + line.quantity > cap:
                notes.append(f"Only {cap} of {name} could be kept in your cart.")
            ops.append(["add", line.sku, line.quantity, cap, price_text(line.price)])
            held += new_line
        if ops:
            self._queue(customer_id, ops)
        self._queue(guest_id, [["clear"]])
        self._stored = _apply(customer, ops)
        return notes

    def checked_out(self, customer_id: int | None) -> None:
        """Empty the cart that became an order of ``customer_id`` (``None``: a guest's),
        once its checkout has committed.

        Whose cart it was comes from the order, never from ``request.user``: after the
        commit that ORM object is detached from its closed session, and reading its id
        raised ``DetachedInstanceError`` and left a paid customer's cart full.
        """
        cart_id = customer_cart_id(customer_id) if customer_id is not None else self._guest_id()
        if cart_id is None:
            return
        try:
            cleared = self.store.apply_now(cart_id, [["clear"]])
            self._stored = cleared
            self.store.backup_later([cleared])
        except Exception:
            # The order is placed; a cart left full is an annoyance, not a lost sale.
            log.exception("could not empty cart %s after checkout", cart_id)

    # -- hooks ------------------------------------------------------------------------

    def name_of(self, sku: str) -> str:
        """How messages name an item: the seller plugin's name for it (shoppers never
        see SKUs as labels), or its SKU in quotes when no plugin describes it."""
        if sku not in self._names:
            self._describe([sku])
        return self._names.get(sku) or f"“{sku}”"

    def _describe(self, skus) -> None:
        wanted = [sku for sku in skus if sku not in self._names]
        details = self._details(wanted) if wanted else {}
        for sku in wanted:
            described = details.get(sku)
            self._names[sku] = described.name if described else ""

    def _details(self, skus: list[str]) -> dict:
        """``describe_skus``, from the kept answers where there are some."""
        answers = self._answers
        if answers is None:
            return describe_skus(self.request, skus)
        known, missing = {}, []
        for sku in dict.fromkeys(skus):
            found, details = answers.get(("details", sku))
            if not found:
                missing.append(sku)
            elif details is not None:
                known[sku] = details
        if missing:
            fresh = describe_skus(self.request, missing)
            for sku in missing:
                answers.put(("details", sku), fresh.get(sku))
            known.update(fresh)
        return known

    def _unit_price(self, sku: str, quantity: int) -> Money | None:
        prices = PricesSeen(self.request.hooks, self._prices, self._answers)
        return prices.mercato_unit_price(sku=sku, quantity=quantity, context=self.pricing_context())

    def stock_level(self, sku: str) -> int | None:
        # Asked again when the response shows the changed cart: once per request is
        # enough for a non-locking read, and spares a catalog query per line.
        if sku not in self._stock:
            answers = self._answers
            found, level = answers.stock(sku) if answers is not None else (False, None)
            if not found:
                since = answers.generation if answers is not None else 0
                level = self.request.hooks.mercato_stock_level(
                    dbsession=self.request.dbsession, sku=sku
                )
                if answers is not None:
                    answers.keep_stock(sku, level, since)
            self._stock[sku] = level
        return self._stock[sku]


class PricesSeen:
    """The app's hooks, with ``mercato_unit_price`` asked once per SKU and quantity in
    a request: adding to the cart priced the line, then priced it again for the cart
    it answers with (one catalog query of the six an add cost: 5.3 to 4.5 ms per add).
    Everything else goes to the hooks themselves."""

    def __init__(self, hooks, prices: dict, answers: CatalogAnswers | None = None):
        self._hooks = hooks
        self._prices = prices
        self._answers = answers

    def mercato_unit_price(self, sku, quantity, context):
        key = (sku, quantity)
        if key not in self._prices:
            found, price, kept = False, None, None
            if self._answers is not None:
                # Kept per quantity only if a pricing plugin is told the quantity.
                by_quantity = self._answers.prices_by_quantity(self._hooks)
                customer = getattr(context.customer, "id", None)
                kept = ("price", sku, quantity if by_quantity else 0, context.currency, customer)
                found, price = self._answers.get(kept)
            if not found:
                price = self._hooks.mercato_unit_price(sku=sku, quantity=quantity, context=context)
                if self._answers is not None:
                    self._answers.put(kept, price)
            self._prices[key] = price
        return self._prices[key]

    def __getattr__(self, name):
        return getattr(self._hooks, name)


class RequestPricingContext(PricingContext):
    """The pricing context of a cart request, whose ``dbsession`` is the request's,
    opened when a hook first asks for it (the catalog does, on a miss)."""

    @property
    def dbsession(self):
        return self.request.dbsession

    @dbsession.setter
    def dbsession(self, value) -> None:
        pass  # always the request's


def _short_of_stock(available: int) -> str:
    if available <= 0:
        return "Sold out: remove it to continue."
    return f"Only {available} available: lower the quantity to continue."


def _apply(cart: StoredCart, ops: list) -> StoredCart:
    """What the update script will make of ``cart`` (for this request's response)."""
    version = cart.version + 1
    created = 0  # each new line takes the next version as its place, as the script does
    lines = {line.sku: line for line in cart.lines}
    for op in ops:
        kind = op[0]
        if kind == "clear":
            lines = {}
        elif kind == "remove":
            lines.pop(op[1], None)
        else:
            sku, quantity, cap, price = op[1:5]
            existing = lines.get(sku)
            if kind == "add" and existing:
                quantity += existing.quantity
            quantity = min(quantity, cap)
            if quantity <= 0:
                lines.pop(sku, None)
                continue
            lines[sku] = StoredLine(
                sku=sku,
                quantity=quantity,
                price=parse_price(price) if price else (existing.price if existing else None),
                seq=existing.seq if existing else version + created,
            )
            created += existing is None
    ordered = sorted(lines.values(), key=lambda line: (line.seq, line.sku))
    return StoredCart(cart.cart_id, version + max(created - 1, 0), ordered)
