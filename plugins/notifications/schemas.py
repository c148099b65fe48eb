"""The plugin's settings, ``mercato.notifications.*``."""

import os

import colander


def _existing_folder(node, value):
    if not os.path.isdir(value):
        raise colander.Invalid(node, f"folder {value} does not exist")


class Settings(colander.MappingSchema):
    """``mercato.notifications.*``"""

    # "log" writes each email to the log instead of sending it: for ``mercato demo`` and
    # development machines without a mail server.
    transport = colander.SchemaNode(
        colander.String(), missing="smtp", validator=colander.OneOf(["smtp", "log"])
    )
    host = colander.SchemaNode(colander.String(), missing="localhost", title="SMTP server")
    port = colander.SchemaNode(colander.Int(), missing=25, validator=colander.Range(1, 65535))
    # "starttls" upgrades a plain connection (port 587), "tls" speaks TLS from the first
    # byte (port 465); "none" is for a relay on the same host or network.
    security = colander.SchemaNode(
        colander.String(), missing="none", validator=colander.OneOf(["none", "starttls", "tls"])
    )
    username = colander.SchemaNode(colander.String(), missing="")
    password = colander.SchemaNode(colander.String(), missing="", env="SMTP_PASSWORD", secret=True)
    # Every network call has a timeout: a dead mail server fails a delivery (which the
    # outbox retries), it never hangs the request that placed the order.
    timeout = colander.SchemaNode(
        colander.Float(), missing=10.0, validator=colander.Range(0.1, 300)
    )
    from_address = colander.SchemaNode(
        colander.String(), missing="noreply@localhost", validator=colander.Email()
    )
    logo_url = colander.SchemaNode(colander.String(), missing="")
    # The store owner's email templates (notifications/emails/<event>.txt.jinja2 and
    # .html.jinja2), found before the plugin's; mercato.templates_dir is searched next.
    templates_dir = colander.SchemaNode(colander.String(), missing="", validator=_existing_folder)
