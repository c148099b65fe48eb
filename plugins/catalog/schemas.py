"""Colander schemas: the plugin's settings, and every input a person or client sends."""

import colander

from . import goods

MB = 1024 * 1024


def _http_url(node, value):
    if value and not value.startswith(("https://", "http://")):
        raise colander.Invalid(node, "must be an http(s) URL")


class Settings(colander.MappingSchema):
    """``mercato.catalog.*``"""

    page_size = colander.SchemaNode(
        colander.Int(), missing=24, validator=colander.Range(1, 100), title="Products per page"
    )
    cache_max_age = colander.SchemaNode(
        colander.Int(),
        missing=60,
        validator=colander.Range(0, 86_400),
        title="Seconds a guest's browser or a shared cache may keep a catalog page",
    )
    upload_dir = colander.SchemaNode(
        colander.String(), missing="var/uploads", env="MERCATO_UPLOAD_DIR"
    )
    upload_max_bytes = colander.SchemaNode(
        colander.Int(), missing=10 * MB, validator=colander.Range(1024, 100 * MB)
    )
    # A variant is low on stock at this many units or fewer: the dashboard lists it,
    # and a sale or an edit that brings it there fires mercato_stock_low.
    low_stock = colander.SchemaNode(
        colander.Int(), missing=5, validator=colander.Range(0, 1_000_000), title="Low stock"
    )
    # Pillow's own decompression-bomb guard uses a global; the catalog checks the
    # declared size against this before decoding a single pixel.
    image_max_pixels = colander.SchemaNode(
        colander.Int(), missing=40_000_000, validator=colander.Range(10_000, 200_000_000)
    )
    # ``s3`` (an S3-compatible bucket, the s3_* settings below), or the dotted name of
    # ``factory(settings) -> Storage``; empty means a local folder (upload_dir).
    storage = colander.SchemaNode(colander.String(), missing="", env="MERCATO_MEDIA_STORAGE")
    # Where browsers fetch images: a CDN in front of the bucket (or of the shop's own
    # /media route), e.g. https://cdn.example.com. Empty: the bucket's, or the shop's, URL.
    media_url = colander.SchemaNode(
        colander.String(), missing="", env="MERCATO_MEDIA_URL", validator=_http_url
    )
    # The bucket; its credentials are boto3's own (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY in the environment, or the host's role), never settings.
    s3_bucket = colander.SchemaNode(colander.String(), missing="", env="MERCATO_S3_BUCKET")
    # Another provider's S3 API (MinIO, R2, Spaces …); empty means AWS itself.
    s3_endpoint_url = colander.SchemaNode(
        colander.String(), missing="", env="MERCATO_S3_ENDPOINT_URL", validator=_http_url
    )
    s3_region = colander.SchemaNode(colander.String(), missing="", env="AWS_DEFAULT_REGION")

    def validator(self, node, value):
        if value["storage"] == "s3" and not value["s3_bucket"]:
            raise colander.Invalid(node["s3_bucket"], "storage = s3 needs a bucket")


# ---------------------------------------------------------------------------
# Staff forms
# ---------------------------------------------------------------------------


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class Parsed(colander.SchemaType):
    """A value read by one of ``goods``' parsers, whose message becomes the field's
    error; empty means missing."""

    def __init__(self, parse):
        self.parse = parse

    def serialize(self, node, appstruct):
        return colander.null if appstruct is colander.null else str(appstruct)

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct == "":
            return colander.null
        try:
            return self.parse(cstruct)
        except ValueError as exc:
            raise colander.Invalid(node, str(exc)) from None


SLUG_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SKU_RE = r"^[A-Za-z0-9._-]{1,64}$"


class ProductForm(colander.MappingSchema):
    name = colander.SchemaNode(
        colander.String(), preparer=_strip, validator=colander.Length(1, 300), title="Name"
    )
    slug = colander.SchemaNode(
        colander.String(),
        preparer=_strip,
        missing="",
        validator=colander.All(
            colander.Length(max=200),
            colander.Regex(SLUG_RE, "Use lowercase letters, digits and dashes, like linen-shirt."),
        ),
        title="Address",
    )
    description = colander.SchemaNode(
        colander.String(), preparer=_strip, missing="", validator=colander.Length(max=20_000)
    )
    active = colander.SchemaNode(colander.Boolean(), missing=False)
    tax_class = colander.SchemaNode(
        Parsed(goods.parse_tax_class), missing="standard", title="Tax class"
    )


class VariantForm(colander.MappingSchema):
    sku = colander.SchemaNode(
        colander.String(),
        preparer=_strip,
        validator=colander.Regex(SKU_RE, "Up to 64 letters, digits, dots, dashes or underscores."),
        title="SKU",
    )
    name = colander.SchemaNode(
        colander.String(), preparer=_strip, missing="", validator=colander.Length(max=200)
    )
    price = colander.SchemaNode(colander.String(), preparer=_strip, title="Price")
    stock = colander.SchemaNode(
        colander.Int(), validator=colander.Range(0, 2**31 - 1), title="Stock"
    )
    weight_grams = colander.SchemaNode(
        Parsed(goods.parse_weight), missing=0, title="Weight (grams)"
    )
    active = colander.SchemaNode(colander.Boolean(), missing=False)


class CategoryForm(colander.MappingSchema):
    name = colander.SchemaNode(
        colander.String(), preparer=_strip, validator=colander.Length(1, 200), title="Name"
    )
    slug = colander.SchemaNode(
        colander.String(),
        preparer=_strip,
        missing="",
        validator=colander.All(
            colander.Length(max=120),
            colander.Regex(SLUG_RE, "Use lowercase letters, digits and dashes, like t-shirts."),
        ),
    )
    parent = colander.SchemaNode(colander.String(), preparer=_strip, missing="")
