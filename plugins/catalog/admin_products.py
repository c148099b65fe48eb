"""Staff pages for products, variants, stock and categories (``catalog.manage``).

Deliberately plain forms; the admin work polishes them. Two rules matter more than
looks: a form error re-renders the form with a 400 (so the transaction aborts and
nothing half-saved remains), and a stock edit is applied as the *difference* from
the value the form showed, with the same guard as a checkout, so a sale made while
staff had the form open is never overwritten.
"""

from pyramid.httpexceptions import HTTPConflict, HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import func, select, update

from mercato import Money

from . import events, goods, queries, services
from .admin import require_staff_pages
from .checks import (
    categories_named,
    checked,
    checked_variant,
    new_variant,
    sku_taken,
    slug_taken,
)
from .models import Category, Product, Variant
from .schemas import CategoryForm, ProductForm
from .search import InvalidParameter, parse_page
from .views import query_params, slug_from_path

PAGE_SIZE = 50
MANAGE = "catalog.manage"


def _page(request, template: str, value: dict, status: int = 200):
    response = render_to_response(template, value, request=request)
    response.status_int = status
    response.cache_control.no_store = True
    return response


def _all_categories(session) -> list[Category]:
    return list(session.execute(select(Category).order_by(Category.path)).scalars())


def _forget_nav(request) -> None:
    request.registry.catalog_nav_cache = None


def _product_or_404(request) -> Product:
    product = queries.product_for_staff(request.dbsession, slug_from_path(request))
    if product is None:
        raise HTTPNotFound()
    return product


@view_config(route_name="catalog_admin", request_method="GET", permission=MANAGE)
def products_page(request):
    require_staff_pages(request)
    try:
        page = parse_page(query_params(request).get("page"))
    except InvalidParameter as exc:
        return _page(request, "catalog/admin_products.jinja2", {"error": str(exc)}, 400)
    session = request.dbsession
    total = session.execute(select(func.count()).select_from(Product)).scalar()
    products = session.execute(
        select(Product)
        .order_by(Product.updated_at.desc(), Product.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).scalars()
    value = {
        "products": list(products),
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "total": total,
        "price": lambda amount: Money(amount, request.registry.settings["mercato.currency"]),
    }
    return _page(request, "catalog/admin_products.jinja2", value)


def _submitted(post) -> dict:
    return {**post, "categories": post.getall("categories")}


def _form(request, product, values, errors, status=200):
    value = {
        "product": product,
        "values": values,
        "errors": errors,
        "categories": _all_categories(request.dbsession),
        "currency": request.registry.settings["mercato.currency"],
        "tax_classes": goods.TAX_CLASS_CHOICES,
    }
    return _page(request, "catalog/admin_product_form.jinja2", value, status)


@view_config(route_name="catalog_admin_new", request_method="GET", permission=MANAGE)
def new_product_page(request):
    require_staff_pages(request)
    values = {"active": True, "tax_class": "standard", "new-stock": "0", "new-weight_grams": "0"}
    return _form(request, None, values, {})


@view_config(route_name="catalog_admin_new", request_method="POST", permission=MANAGE)
def create_product(request):
    require_staff_pages(request)
    session, post = request.dbsession, request.POST
    currency = request.registry.settings["mercato.currency"]
    errors: dict[str, str] = {}
    data = checked(ProductForm(), post, "", errors)
    variant, price = checked_variant(post, "new-", currency, errors)
    categories = categories_named(session, post.getall("categories"), errors)
    slug = (data["slug"] or services.slugify(data["name"], 200)) if data else None
    if slug and slug_taken(session, slug, None):
        errors["slug"] = f"Another product already uses the address {slug}."
    if variant and sku_taken(session, variant["sku"]):
        errors["new-sku"] = f"The SKU {variant['sku']} is already in use."
    if errors:
        return _form(request, None, _submitted(post), errors, 400)
    product = Product(
        slug=slug,
        name=data["name"],
        description=data["description"],
        active=data["active"],
        tax_class=data["tax_class"],
    )
    product.categories = categories
    product.variants.append(
        Variant(
            sku=variant["sku"],
            name=variant["name"],
            price_amount=price,
            price_currency=currency,
            stock=variant["stock"],
            weight=variant["weight_grams"],
            active=variant["active"],
        )
    )
    session.add(product)
    session.flush()
    events.product_changed(session, product, "created")
    request.session.flash(f"{product.name} created.")
    return HTTPSeeOther(request.route_path("catalog_admin_edit", slug=product.slug))


@view_config(route_name="catalog_admin_edit", request_method="GET", permission=MANAGE)
def edit_product_page(request):
    require_staff_pages(request)
    product = _product_or_404(request)
    return _form(request, product, _values_of(product), {})


def _values_of(product: Product) -> dict:
    values = {
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "active": product.active,
        "tax_class": product.tax_class,
        "categories": [c.slug for c in product.categories],
        "new-stock": "0",
        "new-weight_grams": "0",
    }
    for v in product.variants:
        prefix = f"v{v.id}-"
        values.update(
            {
                prefix + "name": v.name,
                prefix + "price": str(v.price.decimal()),
                prefix + "stock": str(v.stock),
                prefix + "weight_grams": str(v.weight),
                prefix + "active": v.active,
            }
        )
    return values


def _apply_stock(session, variant: Variant, post, prefix: str, wanted: int, errors: dict):
    try:
        shown = int(post.get(prefix + "stock_was", ""))
    except ValueError:
        errors[prefix + "stock"] = "Reload the page: the form is incomplete."
        return
    delta = wanted - shown
    if delta == 0:
        return
    changed = session.execute(
        update(Variant)
        .where(Variant.id == variant.id, Variant.stock + delta >= 0)
        .values(stock=Variant.stock + delta)
        .returning(Variant.stock)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        errors[prefix + "stock"] = (
            f"Units were sold meanwhile: taking {-delta} off would go below zero. "
            "Reload the page to see the current stock."
        )
    else:
        events.stock_changed(session, variant, changed.stock - delta, changed.stock)


@view_config(route_name="catalog_admin_edit", request_method="POST", permission=MANAGE)
def update_product(request):
    require_staff_pages(request)
    product = _product_or_404(request)
    session, post = request.dbsession, request.POST
    currency = request.registry.settings["mercato.currency"]
    errors: dict[str, str] = {}
    data = checked(ProductForm(), post, "", errors)
    categories = categories_named(session, post.getall("categories"), errors)
    slug = (data["slug"] or product.slug) if data else product.slug
    if slug_taken(session, slug, product.id):
        errors["slug"] = f"Another product already uses the address {slug}."
    for variant in product.variants:
        prefix = f"v{variant.id}-"
        values, price = checked_variant(post, prefix, currency, errors, sku=variant.sku)
        if values is None:
            continue
        variant.name, variant.active = values["name"], values["active"]
        variant.weight = values["weight_grams"]
        variant.price_amount, variant.price_currency = price, currency
        _apply_stock(session, variant, post, prefix, values["stock"], errors)
    if (post.get("new-sku") or "").strip():
        new, price = checked_variant(post, "new-", currency, errors)
        if new and sku_taken(session, new["sku"]):
            errors["new-sku"] = f"The SKU {new['sku']} is already in use."
        elif new:
            product.variants.append(new_variant(new, price, currency, len(product.variants)))
    if errors:
        # The 400 aborts the transaction: none of this form's changes are kept.
        return _form(request, product, _submitted(post), errors, 400)
    product.name, product.slug = data["name"], slug
    product.description, product.active = data["description"], data["active"]
    product.tax_class = data["tax_class"]
    product.categories = categories
    session.flush()
    events.product_changed(session, product, "updated")
    request.session.flash(f"{product.name} saved.")
    return HTTPSeeOther(request.route_path("catalog_admin_edit", slug=product.slug))


@view_config(route_name="catalog_admin_delete", request_method="POST", permission=MANAGE)
def delete_product(request):
    require_staff_pages(request)
    product = _product_or_404(request)
    storage = request.registry.catalog_storage
    files = [(image.key, image.extension) for image in product.images]
    events.product_changed(request.dbsession, product, "deleted")
    request.dbsession.delete(product)

    def remove_files(committed: bool) -> None:
        if committed:
            for key, extension in files:
                services.delete_image_files(storage, key, extension)

    request.tm.get().addAfterCommitHook(remove_files)
    request.session.flash(f"{product.name} deleted.")
    return HTTPSeeOther(request.route_path("catalog_admin"))


def _categories_page(request, values=None, errors=None, status=200):
    value = {
        "categories": _all_categories(request.dbsession),
        "values": values or {},
        "errors": errors or {},
    }
    return _page(request, "catalog/admin_categories.jinja2", value, status)


@view_config(route_name="catalog_admin_categories", request_method="GET", permission=MANAGE)
def categories_page(request):
    require_staff_pages(request)
    return _categories_page(request)


@view_config(route_name="catalog_admin_categories", request_method="POST", permission=MANAGE)
def create_category(request):
    require_staff_pages(request)
    session, post = request.dbsession, request.POST
    errors: dict[str, str] = {}
    data = checked(CategoryForm(), post, "", errors)
    if data is None:
        return _categories_page(request, dict(post), errors, 400)
    slug = data["slug"] or services.slugify(data["name"])
    parent = None
    if data["parent"]:
        parent = session.execute(
            select(Category).where(Category.slug == data["parent"])
        ).scalar_one_or_none()
        if parent is None:
            errors["parent"] = "That parent category no longer exists."
    if session.execute(select(Category.id).where(Category.slug == slug)).first():
        errors["slug"] = f"Another category already uses the address {slug}."
    if errors:
        return _categories_page(request, dict(post), errors, 400)
    category = Category(
        slug=slug,
        name=data["name"],
        parent=parent,
        path=f"{parent.path}/{slug}" if parent else slug,
    )
    session.add(category)
    session.flush()
    _forget_nav(request)
    request.session.flash(f"Category {category.name} created.")
    return HTTPSeeOther(request.route_path("catalog_admin_categories"))


@view_config(route_name="catalog_admin_category_delete", request_method="POST", permission=MANAGE)
def delete_category(request):
    require_staff_pages(request)
    session = request.dbsession
    category = session.execute(
        select(Category).where(Category.slug == slug_from_path(request))
    ).scalar_one_or_none()
    if category is None:
        raise HTTPNotFound()
    if queries.children(session, category):
        raise HTTPConflict(f"{category.name} has subcategories: move or delete them first.")
    session.delete(category)
    _forget_nav(request)
    request.session.flash(f"Category {category.name} deleted; its products are kept.")
    return HTTPSeeOther(request.route_path("catalog_admin_categories"))
