"""Alembic environment for Mercato: the kernel's revisions plus every enabled plugin's.

Run through ``mercato migrate``, which hands over the connection and the version
locations offered by ``mercato_migration_folders``.
"""

from alembic import context
from sqlalchemy import text

from mercato.db import metadata

# An arbitrary constant: two deploys migrating at once wait for each other.
MIGRATION_LOCK_ID = 0x6D657263  # "merc"

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    # Bounded waits: a migration that cannot get its lock fails instead of queueing
    # every request behind it.
    connection.execute(text("SET lock_timeout = '10s'"))
    connection.execute(text("SET statement_timeout = '10min'"))
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("mercato: offline (--sql) migrations are not supported; run them online")
run_migrations_online()
