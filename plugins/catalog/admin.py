"""Staff pages for product images (permission ``catalog.manage``).

Uploads are refused by size before the body is parsed, then by content (see
``images``). Files are written before the row and deleted only after the commit that
removes the row, so a page never points at a missing file.
"""

import logging

from pyramid.httpexceptions import (
    HTTPForbidden,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
    HTTPSeeOther,
)
from pyramid.interfaces import ISecurityPolicy
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from mercato import admin_available

from . import present, queries, services
from .images import ImageRejected, human_size
from .models import Product, ProductImage
from .storage import StorageUnavailable
from .views import slug_from_path

# Room for the multipart envelope and the other form fields around the file.
FORM_OVERHEAD = 64 * 1024

log = logging.getLogger(__name__)


def require_security_policy(request) -> None:
    # Without a security policy Pyramid allows every permission; staff pages and the
    # staff API fail closed instead of being open to anyone.
    if request.registry.queryUtility(ISecurityPolicy) is None:
        raise HTTPForbidden()


def require_staff_pages(request) -> None:
    # The staff pages extend the admin's layout: a shop without the admin (no:admin)
    # has no such pages, rather than pages that fail to render.
    if not admin_available(request):
        raise HTTPNotFound()
    require_security_policy(request)


def _settings(request) -> dict:
    return request.registry.settings["mercato.catalog"]


def _product(request) -> Product:
    product = queries.product_for_staff(request.dbsession, slug_from_path(request))
    if product is None:
        raise HTTPNotFound()
    return product


def _page(request, product, error=None, status=200, alt=""):
    response = render_to_response(
        "catalog/admin_images.jinja2",
        {
            "product": product,
            "error": error,
            "alt": alt,
            "max_size": human_size(_settings(request)["upload_max_bytes"]),
            "image_url": lambda image, size="thumb": present.image_url(request, image, size),
        },
        request=request,
    )
    response.status_int = status
    response.cache_control.no_store = True
    return response


@view_config(route_name="catalog_admin_images", request_method="GET", permission="catalog.manage")
def images_page(request):
    require_staff_pages(request)
    return _page(request, _product(request))


@view_config(route_name="catalog_admin_images", request_method="POST", permission="catalog.manage")
def upload_image(request):
    require_staff_pages(request)
    settings = _settings(request)
    max_bytes = settings["upload_max_bytes"]
    if request.content_length and request.content_length > max_bytes + FORM_OVERHEAD:
        raise HTTPRequestEntityTooLarge(f"The file is larger than {human_size(max_bytes)}.")
    product = _product(request)
    alt = (request.POST.get("alt") or "").strip()
    upload = request.POST.get("image")
    if upload is None or isinstance(upload, str) or not getattr(upload, "file", None):
        return _page(request, product, "Choose an image file to upload.", 400, alt)
    try:
        data = upload.file.read(max_bytes + 1)
    finally:
        upload.file.close()  # WebOb's temporary file, done with
    try:
        services.add_image(
            request.dbsession,
            request.registry.catalog_storage,
            product,
            data,
            alt,
            max_bytes=max_bytes,
            max_pixels=settings["image_max_pixels"],
        )
    except ImageRejected as exc:
        return _page(request, product, str(exc), 400, alt)
    except StorageUnavailable as exc:
        log.warning("catalog: an upload for %s failed: %s", product.slug, exc.__cause__)
        return _page(request, product, str(exc), 503, alt)
    request.session.flash("Image added.")
    return HTTPSeeOther(request.route_path("catalog_admin_images", slug=product.slug))


@view_config(
    route_name="catalog_admin_image_delete", request_method="POST", permission="catalog.manage"
)
def delete_image(request):
    require_staff_pages(request)
    raw_id = request.matchdict["id"]
    image = None
    if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 10:
        image = request.dbsession.execute(
            select(ProductImage).where(ProductImage.id == int(raw_id))
        ).scalar_one_or_none()
    if image is None:
        raise HTTPNotFound()
    slug = image.product.slug
    storage, key, extension = request.registry.catalog_storage, image.key, image.extension
    request.dbsession.delete(image)

    def remove_files(committed: bool) -> None:
        if committed:
            services.delete_image_files(storage, key, extension)

    request.tm.get().addAfterCommitHook(remove_files)
    request.session.flash("Image removed.")
    return HTTPSeeOther(request.route_path("catalog_admin_images", slug=slug))
