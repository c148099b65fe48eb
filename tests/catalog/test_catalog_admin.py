"""Staff pages: products, variants, stock and categories."""

import pytest
from sqlalchemy import select

from mercato.testing import login
from mercato_catalog.models import Category, Product, Variant


@pytest.fixture
def staff_app(app, staff_user):
    login(app, staff_user.email)
    return app


def reload(session, model, **where):
    session.expire_all()
    return session.execute(select(model).filter_by(**where)).scalar_one_or_none()


def test_only_staff_reach_the_catalog_admin(app, customer_user):
    assert "/login" in app.get("/admin/catalog", status=303).location
    login(app, customer_user.email)
    app.get("/admin/catalog", status=403)
    app.get("/admin/catalog/products/new", status=403)


def test_staff_create_a_product_that_shows_in_the_shop(staff_app, catalog, dbsession):
    catalog.category("home/kitchen", "Kitchen")
    form = staff_app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"] = "Enamel Teapot"
    form["description"] = "Holds a litre."
    form["active"] = True
    form["categories"] = ["kitchen"]
    form["new-sku"] = "TEAPOT"
    form["new-price"] = "34.50"
    form["new-stock"] = "12"
    response = form.submit(status=303)
    assert response.location.endswith("/admin/catalog/products/enamel-teapot/edit")
    assert "Enamel Teapot created." in response.follow().text

    variant = reload(dbsession, Variant, sku="TEAPOT")
    assert (variant.price_amount, variant.stock, variant.price_currency) == (3450, 12, "EUR")
    page = staff_app.get("/c/kitchen")
    assert "Enamel Teapot" in page.text and "€34.50" in page.text


def test_a_bad_product_form_saves_nothing_and_says_why(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG")
    form = staff_app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"] = ""
    form["slug"] = "Not A Slug"
    form["new-sku"] = "MUG"
    form["new-price"] = "ten euros"
    form["new-stock"] = "-1"
    page = form.submit(status=400)
    errors = {p["id"]: p.text for p in page.html.select(".field-error")}
    assert errors["name-error"] == "Required"
    assert "lowercase letters" in errors["slug-error"]
    assert "Write the price as an amount in EUR" in errors["new-price-error"]
    assert "-1 is less than minimum value 0" in errors["new-stock-error"]
    assert page.html.find(id="slug")["aria-invalid"] == "true"
    assert reload(dbsession, Product, slug="not-a-slug") is None


def test_a_taken_address_or_sku_is_refused(staff_app, catalog):
    catalog.product("Mug", sku="MUG")
    form = staff_app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"] = "Mug"
    form["new-sku"] = "MUG"
    form["new-price"] = "5"
    page = form.submit(status=400)
    assert "Another product already uses the address mug." in page.text
    assert "The SKU MUG is already in use." in page.text


def test_staff_edit_prices_stock_and_add_a_variant(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1200, stock=5)
    variant_id = reload(dbsession, Variant, sku="MUG").id
    form = staff_app.get("/admin/catalog/products/mug/edit").forms["product-form"]
    form[f"v{variant_id}-price"] = "13.00"
    form[f"v{variant_id}-stock"] = "8"
    form["new-sku"] = "MUG-XL"
    form["new-name"] = "XL"
    form["new-price"] = "15"
    form["new-stock"] = "2"
    form.submit(status=303)

    mug = reload(dbsession, Variant, sku="MUG")
    assert (mug.price_amount, mug.stock) == (1300, 8)
    assert reload(dbsession, Variant, sku="MUG-XL").name == "XL"
    assert reload(dbsession, Product, slug="mug").price_from == 1300


def test_a_stock_edit_keeps_sales_made_while_the_form_was_open(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=10)
    variant_id = reload(dbsession, Variant, sku="MUG").id
    form = staff_app.get("/admin/catalog/products/mug/edit").forms["product-form"]

    # A checkout sells 3 while staff are typing "receive 5 more" (10 → 15).
    dbsession.execute(select(Variant).where(Variant.sku == "MUG")).scalar_one().stock = 7
    dbsession.commit()
    form[f"v{variant_id}-stock"] = "15"
    form.submit(status=303)

    assert reload(dbsession, Variant, sku="MUG").stock == 12


def test_a_stock_cut_below_what_was_sold_is_refused(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1200, stock=4)
    variant_id = reload(dbsession, Variant, sku="MUG").id
    form = staff_app.get("/admin/catalog/products/mug/edit").forms["product-form"]
    dbsession.execute(select(Variant).where(Variant.sku == "MUG")).scalar_one().stock = 1
    dbsession.commit()
    form[f"v{variant_id}-stock"] = "0"  # "take 4 off", but only 1 is left
    form[f"v{variant_id}-price"] = "99"
    page = form.submit(status=400)
    assert "Units were sold meanwhile" in page.text
    mug = reload(dbsession, Variant, sku="MUG")
    assert (mug.stock, mug.price_amount) == (1, 1200)  # nothing of the form was kept


def test_hiding_and_deleting_a_product(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG")
    form = staff_app.get("/admin/catalog/products/mug/edit").forms["product-form"]
    form["active"] = False
    form.submit(status=303)
    staff_app.get("/p/mug", status=404)

    staff_app.get("/admin/catalog/products/mug/edit").forms["delete-form"].submit(status=303)
    assert reload(dbsession, Product, slug="mug") is None
    assert reload(dbsession, Variant, sku="MUG") is None
    staff_app.get("/admin/catalog/products/mug/edit", status=404)


def test_product_list_pages(staff_app, catalog):
    catalog.product("Mug", sku="MUG", active=False)
    page = staff_app.get("/admin/catalog")
    assert page.html.find("a", string="Mug")["href"] == "/admin/catalog/products/mug/edit"
    assert "hidden" in page.text
    staff_app.get("/admin/catalog", {"page": "x"}, status=400)


def test_categories_are_created_nested_and_deleted(staff_app, dbsession, catalog):
    form = staff_app.get("/admin/catalog/categories").forms["category-form"]
    form["name"] = "Home & Living"
    form.submit(status=303)
    form = staff_app.get("/admin/catalog/categories").forms["category-form"]
    form["name"] = "Kitchen"
    form["parent"] = "home-living"
    form.submit(status=303)
    assert reload(dbsession, Category, slug="kitchen").path == "home-living/kitchen"
    nav = staff_app.get("/").html.find("nav", attrs={"aria-label": "Categories"})
    assert [a.text for a in nav.find_all("a")] == ["Home & Living"]

    page = staff_app.get("/admin/catalog/categories")
    response = page.forms["delete-home-living"].submit(status=409)
    assert "has subcategories: move or delete them first" in response.text
    catalog.product("Pan", sku="PAN", category=reload(dbsession, Category, slug="kitchen"))
    page.forms["delete-kitchen"].submit(status=303)
    assert reload(dbsession, Category, slug="kitchen") is None
    assert reload(dbsession, Product, slug="pan") is not None


def test_a_duplicate_category_is_refused(staff_app, catalog):
    catalog.category("kitchen")
    form = staff_app.get("/admin/catalog/categories").forms["category-form"]
    form["name"] = "Kitchen"
    assert "Another category already uses the address kitchen." in form.submit(status=400).text
