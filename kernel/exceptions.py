"""Exceptions that are part of the kernel's public API."""


class ConfigurationError(Exception):
    """The app cannot start with this configuration.

    The message is one line that names what is wrong and how to fix it; the CLI
    prints it as is and exits, never with a traceback.
    """


class CheckoutError(Exception):
    """Checkout cannot go on; ``message`` tells the shopper why and what to do.

    A plugin may raise it (or ``CartProblem``) from a hook that runs during checkout —
    ``mercato_order_placed``, ``mercato_reserve_stock`` — to refuse the order: the
    transaction aborts, the authorization is voided, and the shopper sees the message
    on the payment step (HTML) or in the JSON error.
    """

    status = 400
    outcome = "invalid"  # what mercato_checkout_attempted is told

    def __init__(self, message: str, *, field: str | None = None, sku: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.sku = sku


class CartProblem(CheckoutError):
    """Something in the cart cannot be bought as it is (409)."""

    status, outcome = 409, "cart"


class OutOfStock(Exception):
    """Raised by ``mercato_reserve_stock`` to refuse a reservation.

    It aborts the checkout's transaction, so nothing of the order is kept.
    """

    def __init__(self, sku: str, requested: int, available: int):
        self.sku = sku
        self.requested = requested
        self.available = available
        super().__init__(
            f"{sku}: {requested} requested, only {available} left"
            if available > 0
            else f"{sku}: sold out"
        )
