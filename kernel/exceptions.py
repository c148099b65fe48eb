"""Exceptions that are part of the kernel's public API."""


class ConfigurationError(Exception):
    """The app cannot start with this configuration.

    The message is one line that names what is wrong and how to fix it; the CLI
    prints it as is and exits, never with a traceback.
    """


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
