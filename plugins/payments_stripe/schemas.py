"""The plugin's settings: ``mercato.payments_stripe.*`` (secrets from the environment)."""

import colander


def _url(node, value):
    if not value.startswith(("https://", "http://")):
        raise colander.Invalid(node, "must be an http(s) URL")


class Settings(colander.MappingSchema):
    api_key = colander.SchemaNode(
        colander.String(),
        env="STRIPE_API_KEY",
        secret=True,
        validator=colander.Regex(r"^(sk|rk)_", "must be a secret key (sk_…)"),
    )
    publishable_key = colander.SchemaNode(
        colander.String(),
        env="STRIPE_PUBLISHABLE_KEY",
        validator=colander.Regex(r"^pk_", "must be a publishable key (pk_…)"),
    )
    webhook_secret = colander.SchemaNode(
        colander.String(),
        env="STRIPE_WEBHOOK_SECRET",
        secret=True,
        validator=colander.Regex(r"^whsec_", "must be a webhook signing secret (whsec_…)"),
    )
    # localstripe's address in the demo and the tests; Stripe's own everywhere else.
    api_base = colander.SchemaNode(
        colander.String(), env="STRIPE_API_BASE", missing="https://api.stripe.com", validator=_url
    )
    js_url = colander.SchemaNode(
        colander.String(), env="STRIPE_JS_URL", missing="https://js.stripe.com/v3/", validator=_url
    )
    # Every call to Stripe gives up after this many seconds: a slow Stripe makes a
    # clear "try again", never a hung worker.
    timeout = colander.SchemaNode(
        colander.Float(), missing=10.0, validator=colander.Range(min=0.5, max=60)
    )
    max_network_retries = colander.SchemaNode(
        colander.Int(), missing=1, validator=colander.Range(min=0, max=5)
    )
    # Seconds a signed webhook stays acceptable (Stripe's library default).
    webhook_tolerance = colander.SchemaNode(
        colander.Int(), missing=300, validator=colander.Range(min=10, max=86400)
    )
    label = colander.SchemaNode(colander.String(), missing="Card")
