"""``mercato migrate``: alembic over the kernel's and every enabled plugin's revisions."""

import os
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

import mercato.migrations

from .db import make_engine

KERNEL_MIGRATIONS = Path(mercato.migrations.__file__).parent


def version_locations(hooks) -> list[str]:
    locations = [str(KERNEL_MIGRATIONS / "versions")]
    for result in hooks.mercato_migration_folders():
        folders = result if isinstance(result, list | tuple) else [result]
        locations.extend(str(Path(folder)) for folder in folders)
    return locations


def alembic_config(hooks) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(KERNEL_MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(version_locations(hooks)))
    return cfg


def heads(hooks) -> set[str]:
    """The head revision of every branch: what a fully migrated database is at."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(hooks)).get_heads())


def run(settings: dict, hooks, action: str = "upgrade", revision: str = "heads") -> None:
    """Run an alembic ``action`` against ``sqlalchemy.url`` with every version folder."""
    cfg = alembic_config(hooks)
    engine = make_engine({**settings, "sqlalchemy.statement_timeout_ms": 0})
    try:
        with engine.connect() as connection:
            cfg.attributes["connection"] = connection
            if action == "upgrade":
                command.upgrade(cfg, revision)
            elif action == "downgrade":
                command.downgrade(cfg, revision)
            elif action == "current":
                command.current(cfg, verbose=True)
            elif action == "history":
                command.history(cfg)
            elif action == "heads":
                command.heads(cfg, verbose=True)
            else:
                raise ValueError(f"unknown migrate action {action!r}")
    finally:
        engine.dispose()
