"""The carriers staff ship with, and their tracking links.

``mercato.fulfilment.carriers`` lists ``code=URL`` pairs separated by spaces or new
lines, in the order staff see them; ``{tracking}`` in the URL stands for the tracking
number (URL-encoded when it is put in), and an empty URL (``other=``) is a carrier
without a tracking page. A shop lists its own: ``mercato.fulfilment.carriers = dhl=…
gls=https://gls-group.com/track/{tracking} other=``.
"""

import re
from urllib.parse import quote, urlsplit

import colander

PLACEHOLDER = "{tracking}"
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_CARRIERS = 50

# Names for the codes a shop is likely to use; any other code is shown as written.
NAMES = {
    "dhl": "DHL",
    "dpd": "DPD",
    "ups": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "colissimo": "La Poste Colissimo",
    "laposte": "La Poste",
    "gls": "GLS",
    "hermes": "Hermes",
    "royalmail": "Royal Mail",
    "other": "Other carrier",
}

DEFAULT = " ".join(
    (
        "dhl=https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={tracking}",
        "dpd=https://tracking.dpd.de/status/en_US/parcel/{tracking}",
        "ups=https://www.ups.com/track?tracknum={tracking}",
        "fedex=https://www.fedex.com/fedextrack/?trknbr={tracking}",
        "usps=https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking}",
        "colissimo=https://www.laposte.fr/outils/suivre-vos-envois?code={tracking}",
        "other=",
    )
)


def _check_template(code: str, template: str) -> None:
    if not template:
        return
    if template.count(PLACEHOLDER) != 1:
        raise ValueError(f"the URL of {code} must hold {PLACEHOLDER} once, where the number goes")
    # Only the placeholder may use braces: a stray one is a typo, found now, not in a link.
    filled = template.replace(PLACEHOLDER, "X")
    if "{" in filled or "}" in filled:
        raise ValueError(f"the URL of {code} has a brace that is not {PLACEHOLDER}")
    parts = urlsplit(filled)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"the URL of {code} must start with https:// and name the carrier's site")


def parse(text: str) -> dict[str, str]:
    """``{code: URL template}`` in the order written; ``ValueError`` says what is wrong."""
    carriers: dict[str, str] = {}
    for item in text.split():
        code, equals, template = item.partition("=")
        if not equals:
            raise ValueError(f"write each carrier as code=URL (or code= without one), not {item!r}")
        if not CODE.match(code):
            raise ValueError(
                f"carrier code {code!r}: use lowercase letters, digits, - and _ (at most 32)"
            )
        if code in carriers:
            raise ValueError(f"carrier {code} is listed twice")
        _check_template(code, template)
        carriers[code] = template
    if not carriers:
        raise ValueError("list at least one carrier, like other=")
    if len(carriers) > MAX_CARRIERS:
        raise ValueError(f"list at most {MAX_CARRIERS} carriers")
    return carriers


def name_of(code: str) -> str:
    return NAMES.get(code, code)


def tracking_url(carriers: dict[str, str], code: str, number: str) -> str:
    """The carrier's tracking page for ``number``; ``""`` without a number or a page."""
    template = carriers.get(code, "")
    if not template or not number:
        return ""
    return template.replace(PLACEHOLDER, quote(number, safe=""))


class CarriersSetting(colander.SchemaType):
    """The setting's text, checked at start-up and read as ``{code: URL template}``."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if not isinstance(cstruct, str):
            raise colander.Invalid(node, "write the carriers as text: code=URL code=URL …")
        try:
            return parse(cstruct)
        except ValueError as exc:
            raise colander.Invalid(node, str(exc)) from None
