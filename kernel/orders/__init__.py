"""Orders and the checkout unit: the checkout transaction, the payment record, the order
status machine, reconcile. The api plugin (its JSON API) and the storefront plugin (its
HTML pages) are built on the same functions, through ``mercato``'s public API."""
