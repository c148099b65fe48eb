import colander

from mercato import hookimpl

SEEN = {}


class Settings(colander.MappingSchema):
    api_key = colander.SchemaNode(colander.String(), env="WITH_SETTINGS_API_KEY", secret=True)
    page_size = colander.SchemaNode(
        colander.Integer(), missing=20, validator=colander.Range(1, 100)
    )


@hookimpl
def mercato_settings_schema():
    return Settings()


@hookimpl
def mercato_configure(config):
    SEEN.update(config.registry.settings["mercato.tests.kernel.plugins.with_settings"])
