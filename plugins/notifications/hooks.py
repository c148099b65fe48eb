"""The notifications plugin's hook implementations (its entry point)."""

from mercato import hookimpl

from . import schemas
from .services import Mailer


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    # Built once per app: the templates are compiled once and cached by Jinja2.
    config.registry.notifications_mailer = Mailer.from_settings(config.registry.settings)


@hookimpl
def mercato_notify(event, payload, registry):
    registry.notifications_mailer.notify(event, payload)
