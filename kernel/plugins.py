"""Finding, enabling and checking plugins.

Plugins are found through the ``mercato.plugins`` entry-point group, exactly as a
third-party package publishes one; ``mercato.plugins`` in the settings enables some of
them, in order. A dotted name (``mypackage.myplugin``) also works, for a plugin that
lives in the shop's own code and is not packaged.
"""

import difflib
import functools
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import colander
import pluggy
from pyramid.path import DottedNameResolver

from . import hookspecs
from .exceptions import ConfigurationError

ENTRY_POINT_GROUP = "mercato.plugins"

# First-party plugins loaded without being named, after those ``mercato.plugins`` names
# (so a shop's own plugin answers first; naming one places it in the call order), as
# pytest loads its own. Essential: operations (the CLI's own commands, health, request
# log, metrics, error reports), which no shop runs without. Default: the account pages,
# the storefront's checkout and order pages, the checkout's JSON API and the admin,
# which ``no:NAME`` in ``mercato.plugins`` switches off (a headless shop:
# ``no:storefront``) or a plugin of the shop's own may replace.
ESSENTIAL_PLUGINS = ("ops", "aftersale")
DEFAULT_PLUGINS = ("accounts", "storefront", "api", "admin")
DISABLE_PREFIX = "no:"


def with_defaults(configured: list[str]) -> list[str]:
    """The plugins to load for ``mercato.plugins = configured``, in call order."""
    disabled = {n[len(DISABLE_PREFIX) :] for n in configured if n.startswith(DISABLE_PREFIX)}
    for name in sorted(disabled - set(DEFAULT_PLUGINS)):
        why = "is essential" if name in ESSENTIAL_PLUGINS else "is not on by default"
        raise ConfigurationError(
            f"mercato: '{DISABLE_PREFIX}{name}' in mercato.plugins: plugin '{name}' {why}; "
            f"only {', '.join(DEFAULT_PLUGINS)} can be switched off"
        )
    names = [n for n in configured if not n.startswith(DISABLE_PREFIX)]
    implied = [*DEFAULT_PLUGINS, *ESSENTIAL_PLUGINS]
    return names + [n for n in implied if n not in names and n not in disabled]


def discover() -> dict[str, EntryPoint]:
    """Every installed plugin, by entry-point name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _load(name: str, available: dict[str, EntryPoint]):
    if name in available:
        try:
            return available[name].load()
        except Exception as exc:
            raise ConfigurationError(
                f"mercato: plugin '{name}' failed to import ({type(exc).__name__}: {exc}): "
                "reinstall its package or remove it from mercato.plugins"
            ) from exc
    if "." in name or ":" in name:
        try:
            return DottedNameResolver().resolve(name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigurationError(
                f"mercato: plugin '{name}' cannot be imported ({exc}): check the dotted name "
                "in mercato.plugins"
            ) from exc
    close = difflib.get_close_matches(name, available, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    installed = ", ".join(sorted(available)) or "none"
    raise ConfigurationError(
        f"mercato: unknown plugin '{name}' in mercato.plugins: {hint}install the package "
        f"that provides it or remove it (installed: {installed})"
    )


def make_plugin_manager(names: list[str]) -> pluggy.PluginManager:
    """A plugin manager with exactly the plugins ``names``, called in that order."""
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigurationError(
            f"mercato: plugin '{sorted(duplicates)[0]}' is listed twice in mercato.plugins: "
            "list it once"
        )
    available = discover()
    loaded = [(name, _load(name, available)) for name in names]
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # pluggy calls the most recently registered implementation first, so registering
    # in reverse makes config order the call order.
    for name, plugin in reversed(loaded):
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise ConfigurationError(
                f"mercato: plugin '{name}' has a hook that does not match its specification "
                f"({_first_line(exc)}): fix the hook's arguments to match mercato.hookspecs"
            ) from exc
    check_hooks_have_specs(pm)
    for name, _plugin in loaded:
        name_errors_of(pm, name)
    return pm


def name_errors_of(pm: pluggy.PluginManager, name: str) -> None:
    """Make an exception raised inside one of ``name``'s hooks say so.

    Whoever reads the error (the log line of a 500, a CLI traceback) learns which
    plugin to look at: the exception gets a note, and stays the same exception, so
    callers still catch it by type (``OutOfStock``, ``CheckoutError``).
    """
    for caller in pm.get_hookcallers(pm.get_plugin(name)) or ():
        for impl in caller.get_hookimpls():
            if impl.plugin_name != name or impl.wrapper or impl.hookwrapper:
                continue
            impl.function = _noting(impl.function, f"raised by plugin '{name}' in {caller.name}")


def _noting(function, note: str):
    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            if note not in getattr(exc, "__notes__", ()):
                exc.add_note(note)
            raise

    return call


def check_hooks_have_specs(pm: pluggy.PluginManager) -> None:
    """Refuse a ``mercato_*`` implementation no spec knows: it would never be called."""
    for hook_name, caller in vars(pm.hook).items():
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.opts.get("optionalhook"):
                continue
            spec_names = [n for n in vars(hookspecs) if n.startswith("mercato_")]
            close = difflib.get_close_matches(hook_name, spec_names, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigurationError(
                f"mercato: plugin '{impl.plugin_name}' implements {hook_name}, which is not "
                f"a Mercato hook: {hint}rename or remove it (see mercato.hookspecs)"
            )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


@dataclass(frozen=True)
class SettingProblem:
    """One plugin setting that is unknown, missing or invalid."""

    plugin: str
    setting: str  # the full key, mercato.<plugin>.<name>
    problem: str  # colander's message ("Required", "500 is greater than …") or "unknown"
    env: str | None = None  # the environment variable that may set it instead
    hint: str = ""  # for an unknown key: the close match, or the known keys

    @property
    def missing(self) -> bool:
        return self.problem == "Required"

    @property
    def message(self) -> str:
        """The one line the app refuses to start with."""
        if self.problem == "unknown":
            return f"mercato: plugin '{self.plugin}' has no setting {self.setting}: {self.hint}"
        where = f"{self.setting} in the ini file" + (f" or {self.env}" if self.env else "")
        return (
            f"mercato: plugin '{self.plugin}' setting {self.setting}: "
            f"{self.problem.rstrip('.')} — set {where}"
        )


def plugin_settings(
    pm: pluggy.PluginManager, settings: dict, environ, problems: list | None = None
) -> dict:
    """Validate each plugin's ``mercato.<plugin>.*`` settings against its schema.

    Returns ``{"mercato.<plugin>": {...}}`` for every plugin that declares a schema. The
    first bad setting raises ``ConfigurationError`` with its one line; given a
    ``problems`` list, every bad setting is appended to it instead (as a
    ``SettingProblem``) and its plugin left out of the result: ``mercato plugins``
    reports what to fix rather than refusing.
    """
    validated = {}
    for impl in pm.hook.mercato_settings_schema.get_hookimpls():
        values, found = _validate(impl.plugin_name, impl.function(), settings, environ)
        if found and problems is None:
            raise ConfigurationError(found[0].message)
        if found:
            problems.extend(found)
        else:
            validated[f"mercato.{impl.plugin_name}"] = values
    return validated


def _validate(name: str, schema, settings: dict, environ) -> tuple[dict, list[SettingProblem]]:
    prefix = f"mercato.{name}."
    raw = {k[len(prefix) :]: v for k, v in settings.items() if k.startswith(prefix)}
    known = {node.name for node in schema.children}
    problems = []
    for key in sorted(set(raw) - known):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {prefix}{close[0]}? " if close else ""
        hint += f"remove it (known: {', '.join(sorted(known)) or 'none'})"
        problems.append(SettingProblem(name, prefix + key, "unknown", hint=hint))
    env_of = {node.name: getattr(node, "env", None) for node in schema.children}
    for key, env in env_of.items():
        if env and environ.get(env):
            raw[key] = environ[env]
    try:
        return schema.deserialize(raw), problems
    except colander.Invalid as exc:
        for key, message in exc.asdict().items():
            problems.append(SettingProblem(name, prefix + key, message, env_of.get(key)))
        return {}, problems
