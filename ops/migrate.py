"""``mercato migrate``: alembic over the kernel's and every enabled plugin's revisions.

Alembic must be able to find every revision a database has ever recorded, so the
version folders of installed plugins that are *disabled* are on the path too; but an
upgrade to "heads" only moves the kernel's and the enabled plugins' branches. Disabling
a plugin therefore leaves its tables alone and never breaks ``mercato migrate``.
"""

import logging
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

import mercato.migrations
from mercato.db import make_engine

log = logging.getLogger(__name__)

KERNEL_MIGRATIONS = Path(mercato.migrations.__file__).parent


def _folders(hook_results) -> list[str]:
    folders = []
    for result in hook_results:
        for folder in result if isinstance(result, list | tuple) else [result]:
            folders.append(str(Path(folder).resolve()))
    return folders


def enabled_locations(hooks) -> list[str]:
    """The kernel's folder and the enabled plugins': the branches an upgrade moves."""
    return [str(KERNEL_MIGRATIONS / "versions"), *_folders(hooks.mercato_migration_folders())]


def installed_locations() -> list[str]:
    """Version folders of every installed plugin, enabled or not."""
    from mercato.plugins import discover

    from .plugins import load_alone

    folders = []
    for name, entry_point in sorted(discover().items()):
        try:
            pm = load_alone(name, entry_point)
            folders.extend(_folders(pm.hook.mercato_migration_folders()))
        except Exception as exc:
            # A broken disabled plugin must not stop the shop's own migrations.
            log.warning("migrate: skipping plugin %s (%s: %s)", name, type(exc).__name__, exc)
    return folders


def alembic_config(hooks) -> AlembicConfig:
    locations = list(dict.fromkeys([*enabled_locations(hooks), *installed_locations()]))
    # stdout looked up now, not when alembic was imported, so redirections apply.
    cfg = AlembicConfig(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(KERNEL_MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    return cfg


def enabled_heads(hooks, cfg: AlembicConfig) -> list[str]:
    """Heads of the kernel's branches and the enabled plugins' branches."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    enabled = [Path(folder) for folder in enabled_locations(hooks)]
    return sorted(
        head
        for head in script.get_heads()
        if any(Path(script.get_revision(head).path).resolve().is_relative_to(f) for f in enabled)
    )


def pending(hooks, current: set[str]) -> list[str]:
    """Revisions not yet applied to a database whose ``alembic_version`` is ``current``.

    A branch that other branches depend on (the kernel's base) is absorbed by them, so
    comparing ``alembic_version`` with the heads would not do.
    """
    from alembic.script import ScriptDirectory

    revision_map = ScriptDirectory.from_config(alembic_config(hooks)).revision_map
    applied = (
        {rev.revision for rev in revision_map.iterate_revisions(tuple(current), "base")}
        if current
        else set()
    )
    every = {rev.revision for rev in revision_map.iterate_revisions("heads", "base")}
    return sorted(every - applied)


def run(settings: dict, hooks, action: str = "upgrade", revision: str = "heads") -> None:
    """Run an alembic ``action`` against ``sqlalchemy.url`` with every version folder."""
    cfg = alembic_config(hooks)
    engine = make_engine({**settings, "sqlalchemy.statement_timeout_ms": 0})
    try:
        with engine.connect() as connection:
            cfg.attributes["connection"] = connection
            if action == "upgrade" and revision == "heads":
                for head in enabled_heads(hooks, cfg):
                    command.upgrade(cfg, head)
            elif action == "upgrade":
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
