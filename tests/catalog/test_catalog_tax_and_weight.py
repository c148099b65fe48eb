"""What shipping and tax need of the catalog's goods: a product's tax class and a
variant's weight, told through ``mercato_sku_details`` and kept by the admin form, the
CSV import and export, the staff JSON API and the sample data."""

import csv
import io

import pytest
from pyramid.scripting import prepare
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from webtest import Upload

from mercato import PricingContext, describe_skus
from mercato.testing import csrf_token, login
from mercato_catalog import csvio, goods, sample
from mercato_catalog.models import TAX_CLASSES, Product, Variant

HEADER = ",".join(csvio.COLUMNS) + "\n"


@pytest.fixture
def staff_app(app, staff_user):
    login(app, staff_user.email)
    return app


def reload(session, model, **where):
    session.expire_all()
    return session.execute(select(model).filter_by(**where)).scalar_one_or_none()


# ---------------------------------------------------------------------------
# mercato_sku_details
# ---------------------------------------------------------------------------


def test_sku_details_carry_the_tax_class_and_weight_in_the_same_one_query(make_test_app, catalog):
    catalog.product(
        "Field Guide",
        tax_class="reduced",
        variants=[{"sku": "GUIDE", "price": 2400, "weight": 650}],
    )
    catalog.product(
        "Parka",
        variants=[
            {"sku": "PARKA-S", "price": 27900, "weight": 1300},
            {"sku": "PARKA-XL", "price": 28400, "weight": 1690},
        ],
    )
    catalog.product("Gift Card", sku="GIFT", tax_class="zero")
    registry = make_test_app(plugins=["catalog"]).app.registry
    statements = []
    event.listen(registry.db_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    env = prepare(registry=registry)
    try:
        request = env["request"]
        skus = ["GUIDE", "PARKA-S", "PARKA-XL", "GIFT", "NOT-OURS"]
        details = describe_skus(request, skus)
        # The cart's other questions about the same SKUs are answered from that read.
        context = PricingContext(currency="EUR", request=request)
        for sku in skus[:4]:
            assert registry.hooks.mercato_unit_price(sku=sku, quantity=1, context=context)
            registry.hooks.mercato_stock_level(dbsession=request.dbsession, sku=sku)
    finally:
        env["closer"]()
    assert {sku: (d.tax_class, d.weight) for sku, d in details.items()} == {
        "GUIDE": ("reduced", 650),
        "PARKA-S": ("standard", 1300),
        "PARKA-XL": ("standard", 1690),
        "GIFT": ("zero", 0),
    }
    assert len([s for s in statements if "catalog_variants" in s]) == 1


def test_the_database_refuses_an_unknown_tax_class_or_a_negative_weight(catalog, dbsession):
    catalog.product("Mug", sku="MUG")
    for change in ("UPDATE catalog_products SET tax_class = 'luxury'",
                   "UPDATE catalog_variants SET weight = -1"):  # fmt: skip
        with pytest.raises(IntegrityError):
            dbsession.connection().exec_driver_sql(change)
        dbsession.rollback()


# ---------------------------------------------------------------------------
# The admin's product form
# ---------------------------------------------------------------------------


def test_staff_set_the_tax_class_and_weights_in_the_product_form(staff_app, catalog, dbsession):
    form = staff_app.get("/admin/catalog/products/new").forms["product-form"]
    assert [value for value, *_ in form["tax_class"].options] == list(TAX_CLASSES)
    assert form["tax_class"].value == "standard"
    form["name"] = "Wildflower Honey"
    form["tax_class"] = "reduced"
    form["new-sku"] = "HONEY"
    form["new-price"] = "11.00"
    form["new-weight_grams"] = "750"
    form.submit(status=303)
    honey = reload(dbsession, Product, slug="wildflower-honey")
    assert (honey.tax_class, honey.variants[0].weight) == ("reduced", 750)

    # The edit form shows them, changes them, and a new variant gets its own weight.
    variant_id = honey.variants[0].id
    form = staff_app.get("/admin/catalog/products/wildflower-honey/edit").forms["product-form"]
    assert (form["tax_class"].value, form[f"v{variant_id}-weight_grams"].value) == (
        "reduced",
        "750",
    )
    form["tax_class"] = "zero"
    form[f"v{variant_id}-weight_grams"] = " 800 "
    form["new-sku"] = "HONEY-1KG"
    form["new-price"] = "19.00"
    form["new-weight_grams"] = "1400"
    form.submit(status=303)
    honey = reload(dbsession, Product, slug="wildflower-honey")
    assert honey.tax_class == "zero"
    assert [(v.sku, v.weight) for v in honey.variants] == [("HONEY", 800), ("HONEY-1KG", 1400)]


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ("abc", "Write the weight in whole grams, such as 350."),
        ("1.5", "Write the weight in whole grams, such as 350."),
        ("-5", "The weight must be between 0 and 1,000,000 grams."),
        ("1000001", "The weight must be between 0 and 1,000,000 grams."),
        ("9" * 5000, "The weight must be between 0 and 1,000,000 grams."),
    ],
)
def test_a_bad_weight_in_the_form_is_a_400_that_says_why(
    staff_app, catalog, dbsession, weight, message
):
    catalog.product("Mug", sku="MUG", variants=[{"sku": "MUG", "price": 1200, "weight": 400}])
    variant_id = reload(dbsession, Variant, sku="MUG").id
    form = staff_app.get("/admin/catalog/products/mug/edit").forms["product-form"]
    form[f"v{variant_id}-weight_grams"] = weight
    form[f"v{variant_id}-price"] = "15.00"
    page = form.submit(status=400)
    errors = {p["id"]: p.text for p in page.html.select(".field-error")}
    assert errors == {f"v{variant_id}-weight_grams-error": message}
    mug = reload(dbsession, Variant, sku="MUG")
    assert (mug.weight, mug.price_amount) == (400, 1200)  # nothing of the form was kept


def test_an_unknown_tax_class_in_the_form_is_a_400(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", tax_class="reduced")
    token = csrf_token(staff_app)
    form = staff_app.get("/admin/catalog/products/mug/edit").forms["product-form"]
    fields = {name: field.value for name, (field, *_) in form.fields.items() if name}
    page = staff_app.post(
        "/admin/catalog/products/mug/edit",
        {**fields, "tax_class": "luxury", "csrf_token": token},
        status=400,
    )
    assert page.html.find(id="tax_class-error").text == (
        "The tax class must be one of standard, reduced, zero."
    )
    assert reload(dbsession, Product, slug="mug").tax_class == "reduced"


# ---------------------------------------------------------------------------
# CSV import and export
# ---------------------------------------------------------------------------


def upload(app, content: str, status: int = 303):
    form = app.get("/admin/catalog/csv").forms["import-form"]
    form["file"] = Upload("catalog.csv", content.encode(), "text/csv")
    return form.submit(status=status)


def test_csv_round_trips_the_tax_class_and_weights(staff_app, catalog, dbsession):
    catalog.product("Field Guide", tax_class="reduced", variants=[{"sku": "GUIDE", "weight": 650}])
    catalog.product(
        "Parka",
        variants=[{"sku": "PARKA-S", "weight": 1300}, {"sku": "PARKA-XL", "weight": 1690}],
    )
    exported = staff_app.get("/admin/catalog/csv/export").text
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["sku"], r["tax_class"], r["weight_grams"]) for r in rows] == [
        ("GUIDE", "reduced", "650"),
        ("PARKA-S", "standard", "1300"),
        ("PARKA-XL", "standard", "1690"),
    ]

    # Staff edit the file: the parka becomes zero-rated, the XL lighter.
    edited = exported.replace("standard,1690", "zero,1500").replace("standard,1300", "zero,1300")
    upload(staff_app, edited)
    parka = reload(dbsession, Product, slug="parka")
    assert parka.tax_class == "zero"
    assert [v.weight for v in parka.variants] == [1300, 1500]
    assert staff_app.get("/admin/catalog/csv/export").text == edited


def test_a_file_without_the_new_columns_keeps_what_products_have(staff_app, catalog, dbsession):
    catalog.product("Mug", tax_class="reduced", variants=[{"sku": "MUG", "weight": 400}])
    old_header = ",".join(c for c in csvio.COLUMNS if c not in ("tax_class", "weight_grams"))
    upload(
        staff_app,
        old_header + "\n"
        "mug,Mug,,,true,MUG,,,13.00,EUR,5,true\n"
        "bowl,Bowl,,,true,BOWL,,,9.00,EUR,5,true\n",
    )
    mug = reload(dbsession, Variant, sku="MUG")
    assert (mug.price_amount, mug.weight, mug.product.tax_class) == (1300, 400, "reduced")
    bowl = reload(dbsession, Variant, sku="BOWL")
    assert (bowl.weight, bowl.product.tax_class) == (0, "standard")


def test_bad_tax_classes_and_weights_are_row_errors_and_nothing_is_imported(
    staff_app, catalog, dbsession
):
    catalog.product("Mug", variants=[{"sku": "MUG", "weight": 400}])
    page = upload(
        staff_app,
        HEADER
        + "mug,Mug,,,true,MUG,,,13.00,EUR,5,true,standard,500\n"
        + "a,A,,,true,A-1,,,1,EUR,1,true,luxury,10\n"
        + "b,B,,,true,B-1,,,1,EUR,1,true,,abc\n"
        + "c,C,,,true,C-1,,,1,EUR,1,true,,-3\n"
        + "d,D,,,true,D-1,,,1,EUR,1,true,,99999999999\n"
        + "e,E,,,true,E-1,,,1,EUR,1,true,reduced,1\n"
        + "e,E,,,true,E-2,,,1,EUR,1,true,zero,1\n",
        status=400,
    )
    errors = [li.text for li in page.html.find(id="import-errors").find_all("li")]
    assert errors == [
        "Line 3: tax_class 'luxury': The tax class must be one of standard, reduced, zero.",
        "Line 4: weight_grams 'abc': Write the weight in whole grams, such as 350.",
        "Line 5: weight_grams '-3': The weight must be between 0 and 1,000,000 grams.",
        "Line 6: weight_grams '99999999999': The weight must be between 0 and 1,000,000 grams.",
        "Line 8: product e differs from its first row (line 7)",
    ]
    assert reload(dbsession, Variant, sku="MUG").weight == 400
    assert reload(dbsession, Product, slug="e") is None


# ---------------------------------------------------------------------------
# The staff JSON API
# ---------------------------------------------------------------------------


@pytest.fixture
def staff_api(staff_app):
    staff_app.extra_environ["HTTP_X_CSRF_TOKEN"] = csrf_token(staff_app)
    return staff_app


def test_the_staff_api_creates_reads_and_updates_tax_class_and_weights(
    staff_api, catalog, dbsession
):
    catalog.category("books")
    created = staff_api.post_json(
        "/api/staff/products",
        {
            "name": "The Camp Kitchen Cookbook",
            "tax_class": "reduced",
            "categories": ["books"],
            "variants": [
                {"sku": "COOKBOOK", "price": "32.00", "stock": 4, "weight_grams": 900},
                {"sku": "COOKBOOK-HB", "price": "45.00", "weight_grams": 1250},
            ],
        },
        status=201,
    ).json["product"]
    assert (created["slug"], created["tax_class"], created["categories"]) == (
        "the-camp-kitchen-cookbook",
        "reduced",
        ["books"],
    )
    variants = [(v["sku"], v["stock"], v["weight_grams"], v["active"]) for v in created["variants"]]
    assert variants == [("COOKBOOK", 4, 900, True), ("COOKBOOK-HB", 0, 1250, True)]
    book = reload(dbsession, Product, slug="the-camp-kitchen-cookbook")
    assert (book.tax_class, [v.weight for v in book.variants]) == ("reduced", [900, 1250])

    url = "/api/staff/products/the-camp-kitchen-cookbook"
    updated = staff_api.patch_json(
        url, {"tax_class": "zero", "variants": [{"sku": "COOKBOOK-HB", "weight_grams": 1300}]}
    ).json["product"]
    assert updated == staff_api.get(url).json["product"]
    assert updated["tax_class"] == "zero"
    assert [(v["sku"], v["price"]["amount"], v["weight_grams"]) for v in updated["variants"]] == [
        ("COOKBOOK", 3200, 900),
        ("COOKBOOK-HB", 4500, 1300),
    ]
    # The shop's public product JSON tells headless clients the same.
    public = staff_api.get("/api/products/the-camp-kitchen-cookbook").json
    assert public["tax_class"] == "zero"
    assert [v["weight_grams"] for v in public["variants"]] == [900, 1300]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"tax_class": "luxury"},
         {"tax_class": "The tax class must be one of standard, reduced, zero."}),
        ({"tax_class": 1}, {"tax_class": "Must be a string."}),
        ({"variants": [{"sku": "MUG", "weight_grams": -1}]},
         {"variants.0.weight_grams": "The weight must be between 0 and 1,000,000 grams."}),
        ({"variants": [{"sku": "MUG", "weight_grams": 10**30}]},
         {"variants.0.weight_grams": "The weight must be between 0 and 1,000,000 grams."}),
        ({"variants": [{"sku": "MUG", "weight_grams": "abc"}]},
         {"variants.0.weight_grams": "Must be a whole number."}),
        ({"variants": [{"sku": "MUG", "weight_grams": 1.5}]},
         {"variants.0.weight_grams": "Must be a whole number."}),
        ({"variants": [{"sku": "MUG", "weight_grams": True}]},
         {"variants.0.weight_grams": "Must be a whole number."}),
        ({"variants": [{"sku": "MUG", "stock": 3}]},
         {"variants.0.stock": "Change the stock on the stock page or with a CSV import: "
                              "they keep the units sold meanwhile."}),
        ({"variants": [{"sku": "OTHER", "weight_grams": 5}]},
         {"variants.0.sku": "This product has no variant with that SKU."}),
        ({"variants": ["MUG"]}, {"variants.0": "Send a JSON object."}),
        ({"weight": 5, "name": "Mug"}, {"weight": "Unknown field."}),
    ],
)  # fmt: skip
def test_hostile_values_in_a_staff_api_update_are_a_400_and_change_nothing(
    staff_api, catalog, dbsession, body, fields
):
    catalog.product("Mug", tax_class="reduced", variants=[{"sku": "MUG", "weight": 400}])
    response = staff_api.patch_json(
        "/api/staff/products/mug", {"name": "Renamed", **body}, status=400
    )
    assert response.json["error"]["fields"] == fields
    mug = reload(dbsession, Variant, sku="MUG")
    assert (mug.weight, mug.product.tax_class, mug.product.name) == (400, "reduced", "Mug")


def test_hostile_values_in_a_staff_api_create_are_a_400_and_create_nothing(staff_api, dbsession):
    response = staff_api.post_json(
        "/api/staff/products",
        {
            "name": "Honey",
            "tax_class": "REDUCED ",  # read as reduced
            "variants": [
                {"sku": "HONEY", "price": "11.00", "weight_grams": 750},
                {"sku": "HONEY-XL", "price": "11.00", "weight_grams": 2_000_000},
                {"sku": "HONEY", "price": "11.00"},
            ],
        },
        status=400,
    )
    assert response.json["error"]["fields"] == {
        "variants.1.weight_grams": "The weight must be between 0 and 1,000,000 grams.",
        "variants.2.sku": "The SKU HONEY is already in use.",
    }
    assert reload(dbsession, Product, slug="honey") is None
    for body in ([], "honey", None):
        staff_api.post_json("/api/staff/products", body, status=400)
    response = staff_api.post(
        "/api/staff/products", "{not json", content_type="application/json", status=400
    )
    assert response.json["error"]["message"] == "Send the product as a JSON object."


def test_only_staff_use_the_staff_product_api(app, customer_user, catalog):
    catalog.product("Mug", sku="MUG")
    app.extra_environ["HTTP_X_CSRF_TOKEN"] = csrf_token(app)
    response = app.post_json("/api/staff/products", {"name": "X"}, status=401)
    assert response.json["error"]["message"] == "Please log in first."
    login(app, customer_user.email)
    app.extra_environ["HTTP_X_CSRF_TOKEN"] = csrf_token(app)
    app.get("/api/staff/products/mug", status=403)
    app.patch_json("/api/staff/products/mug", {"tax_class": "zero"}, status=403)


# ---------------------------------------------------------------------------
# Sample data
# ---------------------------------------------------------------------------


def test_the_demo_catalog_weighs_its_goods_and_reduces_food_and_books(db_engine, dbsession):
    with Session(db_engine) as session:
        sample.demo_catalog(session, "EUR", lambda message: None)
        session.commit()

    products = {p.name: p for p in dbsession.scalars(select(Product))}
    reduced = {name for name, p in products.items() if p.tax_class == "reduced"}
    assert reduced == {
        "Single-origin Coffee Beans",
        "Wildflower Honey",
        "Field Guide to Wild Mushrooms",
        "The Camp Kitchen Cookbook",
    }
    assert {p.categories[0].path for p in products.values() if p.tax_class == "reduced"} == set(
        sample.REDUCED_PATHS
    )
    assert all(v.weight > 0 for p in products.values() for v in p.variants)
    # Larger sizes weigh more, the same on every run.
    tee = products["Organic Cotton T-shirt"]
    assert [(v.name, v.weight) for v in tee.variants] == [
        ("S", 180), ("M", 198), ("L", 216), ("XL", 234)
    ]  # fmt: skip
    assert [v.weight for v in products["Two-person Tent"].variants] == [2300]


def test_generated_samples_have_weights_and_tax_classes(db_engine, dbsession):
    sample.bulk_sample(db_engine, 200, "EUR", lambda done, total: None)
    products = dbsession.scalars(select(Product)).all()
    assert len(products) == 200
    for product in products:
        path = product.categories[0].path
        assert product.tax_class == ("reduced" if path in sample.REDUCED_PATHS else "standard")
        typical = sample.TYPICAL_GRAMS[path]
        assert all(typical * 8 // 10 <= v.weight <= typical * 12 // 10 for v in product.variants)
    assert {p.tax_class for p in products} == {"standard", "reduced"}


def test_the_form_offers_every_tax_class_the_database_accepts():
    assert [value for value, _ in goods.TAX_CLASS_CHOICES] == list(TAX_CLASSES)
