"""What ``mercato plugins``, the admin and a plugin author's tests show about plugins:
every installed one, enabled or not, with its hooks, and which settings are secret.

Finding, loading and checking plugins is the kernel's (``mercato.plugins``).
"""

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint

import pluggy

from mercato import hookspecs
from mercato.plugins import discover


@dataclass
class PluginInfo:
    """What ``mercato plugins`` and the admin show about a plugin."""

    name: str
    version: str | None
    source: str
    enabled: bool
    hooks: list[str] = field(default_factory=list)
    problem: str | None = None  # why an installed plugin cannot be loaded


def load_alone(name: str, entry_point: EntryPoint) -> pluggy.PluginManager:
    """A plugin manager holding only this installed plugin, enabled or not: for looking
    at it (its hooks, its migrations) without switching it on."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(entry_point.load(), name=name)
    return pm


def _hooks_of(pm: pluggy.PluginManager, name: str) -> list[str]:
    return sorted(c.name for c in pm.get_hookcallers(pm.get_plugin(name)) or ())


def secret_setting_names(pm: pluggy.PluginManager) -> set[str]:
    """Full keys of plugin settings marked ``secret=True``, for masking."""
    names = set()
    for impl in pm.hook.mercato_settings_schema.get_hookimpls():
        for node in impl.function().children:
            if getattr(node, "secret", False):
                names.add(f"mercato.{impl.plugin_name}.{node.name}")
    return names


def describe(pm: pluggy.PluginManager | None, available: dict[str, EntryPoint] | None = None):
    """PluginInfo for every installed plugin and every enabled one, enabled first."""
    available = discover() if available is None else available
    infos = []
    enabled_names = []
    if pm is not None:
        # get_plugins() is a set; the registration order reversed is config order.
        enabled_names = [name for name, _plugin in reversed(pm.list_name_plugin())]
        for name in enabled_names:
            hooks = _hooks_of(pm, name)
            ep = available.get(name)
            infos.append(
                PluginInfo(
                    name=name,
                    version=ep.dist.version if ep is not None and ep.dist else None,
                    source=ep.value if ep is not None else name,
                    enabled=True,
                    hooks=hooks,
                )
            )
    for name, ep in sorted(available.items()):
        if name in enabled_names:
            continue
        info = PluginInfo(
            name=name, version=ep.dist.version if ep.dist else None, source=ep.value, enabled=False
        )
        try:
            info.hooks = _hooks_of(load_alone(name, ep), name)
        except Exception as exc:
            info.problem = f"cannot be loaded: {type(exc).__name__}: {exc}"
        infos.append(info)
    return infos
