"""Cart: a Redis cart per shopper, backed up in PostgreSQL."""
