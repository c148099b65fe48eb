"""The plugin's hooks (its entry point, ``tax_service``): the tax on every priced cart
comes from the tax API at ``mercato.tax_service.url``."""

import json
import logging

import colander

from mercato import CheckoutError, error_response, hookimpl

from . import client

NAME = "tax_service"
# One request prices the same cart several times (the page, its summary, the checkout's
# check); the answers are kept on the request, keyed by the exact question. A failure is
# kept too (as None): the shopper waits for the timeout once per page, not per pricing.
ANSWERS = "mercato_tax_service.answers"

log = logging.getLogger(__name__)


class TaxUnavailable(CheckoutError):
    """The tax cannot be known: nothing can be sold until the service answers again.

    A ``CheckoutError``, so checkout refuses the order with this message and charges
    nothing; 503, because it is nobody's mistake and trying again later may work.
    """

    status = 503

    def __init__(self):
        super().__init__("We could not calculate the tax right now. Please try again in a moment.")


def _http_url(node, value):
    if not value.startswith(("https://", "http://")):
        raise colander.Invalid(node, "must be an http(s) URL")


class Settings(colander.MappingSchema):
    url = colander.SchemaNode(colander.String(), validator=_http_url)
    api_key = colander.SchemaNode(
        colander.String(),
        env="TAX_SERVICE_API_KEY",
        secret=True,
        validator=colander.Length(min=1),
    )
    # Seconds before giving up on the service: a shopper waits this long at most per
    # page, then is told to try again.
    timeout = colander.SchemaNode(
        colander.Float(), missing=3.0, validator=colander.Range(min=0.1, max=10)
    )


@hookimpl
def mercato_settings_schema():
    return Settings()


def unavailable_page(exc, request):
    """The pages that price the cart without catching a ``CheckoutError`` (the review
    step, the JSON API, the payment page shown again after a refusal) answer this 503
    with the sentence, HTML or JSON, instead of the 500 page."""
    return error_response(request, exc.status, exc.message)


@hookimpl
def mercato_configure(config):
    config.add_exception_view(unavailable_page, context=TaxUnavailable)


# tryfirst: listed beside the built-in ``tax`` plugin, this one answers and ``tax`` is
# never asked (the hook is first result).
@hookimpl(tryfirst=True)
def mercato_tax_lines(lines, adjustments, shipping, context):
    request = context.request
    if request is None:
        raise ValueError("the tax service reads its settings from context.request: give one")
    settings = request.registry.settings[f"mercato.{NAME}"]
    body = json.dumps(
        client.question(lines, adjustments, shipping, context), sort_keys=True
    ).encode()
    answers = request.environ.setdefault(ANSWERS, {})
    if body not in answers:
        try:
            answer = client.ask(settings["url"], settings["api_key"], settings["timeout"], body)
            answers[body] = client.tax_lines(answer, lines, shipping, context.currency)
        except client.Unanswered as exc:
            log.warning("tax service %s gave no tax: %s", settings["url"], exc)
            answers[body] = None
    if answers[body] is None:
        raise TaxUnavailable()
    return list(answers[body])
