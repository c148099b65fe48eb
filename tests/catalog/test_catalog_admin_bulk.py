"""Staff bulk work on the catalog: the stock of many variants in one form, and the CSV
import and export from the admin."""

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select
from webtest import Upload

from mercato import Line
from mercato.testing import csrf_token, login
from mercato_admin.models import AuditEntry
from mercato_catalog import admin_csv, csvio, inventory
from mercato_catalog.models import Product, Variant

HEADER = ",".join(csvio.COLUMNS) + "\n"


@pytest.fixture
def staff_app(app, staff_user):
    login(app, staff_user.email)
    return app


def stock(session, sku: str) -> int:
    session.expire_all()
    return session.scalar(select(Variant.stock).where(Variant.sku == sku))


def variant_id(session, sku: str) -> int:
    return session.scalar(select(Variant.id).where(Variant.sku == sku))


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def row_errors(page) -> dict[str, str]:
    return {p["id"].removesuffix("-stock-error"): p.text for p in page.html.select(".field-error")}


def sell(session, sku: str, quantity: int) -> None:
    """What a checkout does to stock, committed: the catalog's guarded reservation."""
    inventory.reserve(session, [Line(sku, quantity)])
    session.commit()


# ---------------------------------------------------------------------------
# Bulk stock edit
# ---------------------------------------------------------------------------


def test_bulk_edit_saves_the_changed_rows(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=10)
    catalog.product("Bowl", sku="BOWL", stock=5)
    catalog.product("Plate", sku="PLATE", stock=3)
    page = staff_app.get("/admin/catalog/stock")
    assert [td.text for td in page.html.select("tbody td.mono")] == ["BOWL", "MUG", "PLATE"]
    form = page.forms["stock-form"]
    form[f"v{variant_id(dbsession, 'MUG')}-stock"] = "12"
    form[f"v{variant_id(dbsession, 'PLATE')}-stock"] = " 0 "
    response = form.submit(status=303)

    assert response.location.endswith("/admin/catalog/stock")
    assert "Stock saved for 2 variants." in response.follow().text
    assert (stock(dbsession, "MUG"), stock(dbsession, "BOWL"), stock(dbsession, "PLATE")) == (
        12,
        5,
        0,
    )
    # The admin's audit tween recorded the change with who made it.
    entry = dbsession.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.actor_email) == ("catalog_admin_stock", "staff@example.com")


def test_a_sale_made_after_the_form_was_rendered_is_not_lost(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=10)
    form = staff_app.get("/admin/catalog/stock").forms["stock-form"]
    sell(dbsession, "MUG", 3)  # a shopper buys 3 while staff type "received 5" (10 → 15)
    form[f"v{variant_id(dbsession, 'MUG')}-stock"] = "15"
    page = form.submit(status=303).follow()

    assert stock(dbsession, "MUG") == 12
    assert "MUG now has 12, not 15: the stock changed while the page was open." in page.text


def test_a_cut_below_what_is_left_is_refused_and_nothing_is_saved(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=4)
    catalog.product("Bowl", sku="BOWL", stock=5)
    mug, bowl = variant_id(dbsession, "MUG"), variant_id(dbsession, "BOWL")
    form = staff_app.get("/admin/catalog/stock").forms["stock-form"]
    sell(dbsession, "MUG", 3)
    form[f"v{mug}-stock"] = "0"  # "take 4 off", but only 1 is left
    form[f"v{bowl}-stock"] = "9"
    page = form.submit(status=400)

    assert row_errors(page) == {
        f"v{mug}": "Units were sold meanwhile: 1 left now, so taking 4 off would go below "
        "zero. Enter the new count."
    }
    assert "Nothing was saved: 1 row needs correcting" in page.text
    # The row starts again from the stock there is now; the other keeps what was typed.
    again = page.forms["stock-form"]
    assert (again[f"v{mug}-stock"].value, again[f"v{mug}-stock_was"].value) == ("1", "1")
    assert (again[f"v{bowl}-stock"].value, again[f"v{bowl}-stock_was"].value) == ("9", "5")
    assert (stock(dbsession, "MUG"), stock(dbsession, "BOWL")) == (1, 5)
    assert count(dbsession, AuditEntry) == 0

    again.submit(status=303)
    assert (stock(dbsession, "MUG"), stock(dbsession, "BOWL")) == (1, 9)


def test_invalid_rows_are_refused_with_messages_and_nothing_is_saved(staff_app, catalog, dbsession):
    for sku in ("A", "B", "C", "D", "E"):
        catalog.product(f"Item {sku}", sku=sku, stock=5)
    ids = {sku: variant_id(dbsession, sku) for sku in "ABCDE"}
    form = staff_app.get("/admin/catalog/stock").forms["stock-form"]
    form[f"v{ids['A']}-stock"] = "ten"
    form[f"v{ids['B']}-stock"] = "-1"
    form[f"v{ids['C']}-stock"] = "1000001"
    form[f"v{ids['D']}-stock"] = "2.5"
    form[f"v{ids['E']}-stock"] = "7"
    page = form.submit(status=400)

    whole = "Write a whole number of 0 or more, such as 12."
    assert row_errors(page) == {
        f"v{ids['A']}": whole,
        f"v{ids['B']}": whole,
        f"v{ids['C']}": "The stock must be between 0 and 1,000,000.",
        f"v{ids['D']}": whole,
    }
    assert page.html.find(id=f"v{ids['A']}-stock")["aria-invalid"] == "true"
    assert page.forms["stock-form"][f"v{ids['A']}-stock"].value == "ten"  # kept to correct
    assert [stock(dbsession, sku) for sku in "ABCDE"] == [5, 5, 5, 5, 5]


def test_a_form_without_its_rows_is_refused(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=4)
    token = csrf_token(staff_app)
    page = staff_app.post("/admin/catalog/stock", {"csrf_token": token}, status=400)
    assert "The form is incomplete: reload the page" in page.text
    mug = variant_id(dbsession, "MUG")
    page = staff_app.post(
        "/admin/catalog/stock",
        {"csrf_token": token, "variant": str(mug), f"v{mug}-stock": "9"},
        status=400,
    )
    assert row_errors(page) == {f"v{mug}": "The form is incomplete: reload the page."}
    assert stock(dbsession, "MUG") == 4


def test_stock_is_filtered_by_sku_name_and_low_stock_and_paginated(staff_app, catalog):
    catalog.product("Enamel Mug", sku="MUG-1", stock=2)
    catalog.product("Teapot", sku="TEA-1", stock=40)
    catalog.product(
        "Tumbler",
        variants=[{"sku": f"TUM-{n:02}", "stock": 10} for n in range(55)],
    )

    def skus(**query):
        page = staff_app.get("/admin/catalog/stock", query)
        return [td.text for td in page.html.select("tbody td.mono")]

    assert skus(q="mug") == ["MUG-1"]
    assert skus(q="teap") == ["TEA-1"]
    assert skus(q="tum-0") == [f"TUM-0{n}" for n in range(10)]
    assert skus(low="1") == ["MUG-1"]
    assert skus(q="%") == []  # a literal percent sign, not a wildcard
    first = staff_app.get("/admin/catalog/stock")
    assert len(first.html.select("tbody tr")) == 50
    assert first.html.find("a", rel="next")["href"] == "/admin/catalog/stock?page=2"
    assert len(skus(page="2")) == 7
    low = staff_app.get("/admin/catalog/stock", {"low": "1"})
    assert low.forms["stock-form"].action == "/admin/catalog/stock?low=1"
    assert "must be a whole number" in staff_app.get("/admin/catalog/stock?page=x", status=400)


def test_a_save_returns_to_the_same_selection(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=2)
    form = staff_app.get("/admin/catalog/stock", {"q": "mug", "low": "1"}).forms["stock-form"]
    form[f"v{variant_id(dbsession, 'MUG')}-stock"] = "3"
    assert form.submit(status=303).location.endswith("/admin/catalog/stock?q=mug&low=1")
    assert stock(dbsession, "MUG") == 3


def test_a_stock_save_without_the_csrf_token_is_refused(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=4)
    mug = variant_id(dbsession, "MUG")
    staff_app.post(
        "/admin/catalog/stock",
        {"variant": str(mug), f"v{mug}-stock": "9", f"v{mug}-stock_was": "4"},
        status=400,
    )
    assert stock(dbsession, "MUG") == 4


# ---------------------------------------------------------------------------
# Who may
# ---------------------------------------------------------------------------

PAGES = ["/admin/catalog/stock", "/admin/catalog/csv", "/admin/catalog/csv/export"]
FORMS = ["/admin/catalog/stock", "/admin/catalog/csv"]


def test_a_guest_is_sent_to_log_in_and_a_customer_is_refused(app, customer_user, catalog):
    catalog.product("Mug", sku="MUG", stock=4)
    for url in PAGES:
        assert "/login" in app.get(url, status=303).location
    for url in FORMS:
        assert "/login" in app.post(url, {"csrf_token": csrf_token(app)}, status=303).location
    login(app, customer_user.email)
    for url in PAGES:
        app.get(url, status=403)
    for url in FORMS:
        app.post(url, {"csrf_token": csrf_token(app)}, status=403)


def test_the_pages_are_in_the_admin_menu_and_on_the_products_page(staff_app):
    page = staff_app.get("/admin/catalog/stock")
    menu = {a.text: a for a in page.html.select("nav.admin-nav a")}
    assert menu["Stock"]["href"] == "/admin/catalog/stock"
    assert menu["Stock"].get("aria-current") == "page"
    assert menu["CSV import/export"]["href"] == "/admin/catalog/csv"
    products = staff_app.get("/admin/catalog")
    assert products.html.find(id="bulk-stock")["href"] == "/admin/catalog/stock"
    assert products.html.find(id="csv-import-export")["href"] == "/admin/catalog/csv"
    csv_page = products.click(linkid="csv-import-export")
    assert csv_page.html.find(id="export-link")["href"] == "/admin/catalog/csv/export"


# ---------------------------------------------------------------------------
# CSV export
# ---------------------------------------------------------------------------


def test_the_export_downloads_every_variant_as_the_cli_writes_it(staff_app, catalog, dbsession):
    kitchen = catalog.category("home/kitchen", "Kitchen")
    catalog.product(
        "Linen Shirt",
        description="Cool, light",
        variants=[
            {"sku": "LS-M", "name": "M", "options": {"size": "M"}, "price": 4900, "stock": 5},
            {"sku": "LS-L", "name": "L", "options": {"size": "L"}, "price": 5250, "stock": 0},
        ],
    )
    catalog.product("Mug", sku="MUG", price=1200, stock=7, category=kitchen, active=False)

    response = staff_app.get("/admin/catalog/csv/export")
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="catalog-{date.today()}.csv"'
    )
    assert "no-store" in response.headers["Cache-Control"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["sku"], r["price"], r["stock"], r["options"]) for r in rows] == [
        ("LS-M", "49.00", "5", "size=M"),
        ("LS-L", "52.50", "0", "size=L"),
        ("MUG", "12.00", "7", ""),
    ]
    assert (rows[0]["description"], rows[2]["categories"], rows[2]["product_active"]) == (
        "Cool, light",
        "home/kitchen",
        "false",
    )
    cli = io.StringIO(newline="")
    csvio.export(dbsession, cli)
    assert response.body.decode("utf-8") == cli.getvalue()


def test_the_export_is_streamed_a_page_of_products_at_a_time(catalog, db_engine):
    catalog.product("Mug", sku="MUG")
    chunks = list(admin_csv.export_chunks(db_engine))
    # The header goes out before the database is asked anything, then one chunk a page.
    assert chunks[0] == HEADER.replace("\n", "\r\n").encode()
    assert len(chunks) == 2 and chunks[1].startswith(b"mug,Mug,")


# ---------------------------------------------------------------------------
# CSV import
# ---------------------------------------------------------------------------


def upload(app, content: bytes, name: str = "catalog.csv", status: int = 303):
    form = app.get("/admin/catalog/csv").forms["import-form"]
    form["file"] = Upload(name, content, "text/csv")
    return form.submit(status=status)


def test_a_good_file_creates_and_updates_products(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1000, stock=10)
    content = (
        HEADER
        + "mug,Mug,Stoneware,,true,MUG,,,12.50,EUR,20,true\n"
        + "linen-shirt,Linen Shirt,,clothing/shirts,true,LS-M,M,size=M,49.00,EUR,5,\n"
        + "linen-shirt,Linen Shirt,,clothing/shirts,true,LS-L,L,size=L,52.50,,0,\n"
    ).encode("utf-8-sig")  # with the BOM a spreadsheet puts in front
    response = upload(staff_app, content, "spring.csv")

    assert response.location.endswith("/admin/catalog/csv")
    assert (
        "Imported spring.csv: 1 product created, 1 updated; 2 variants created, 1 updated."
        in response.follow().text
    )
    dbsession.expire_all()
    mug = dbsession.scalars(select(Variant).where(Variant.sku == "MUG")).one()
    assert (mug.price_amount, mug.stock, mug.product.description) == (1250, 20, "Stoneware")
    shirt = dbsession.scalars(select(Product).where(Product.slug == "linen-shirt")).one()
    assert [(v.sku, v.price_amount, v.options) for v in shirt.variants] == [
        ("LS-M", 4900, {"size": "M"}),
        ("LS-L", 5250, {"size": "L"}),
    ]
    assert [c.path for c in shirt.categories] == ["clothing/shirts"]
    entry = dbsession.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.actor_email) == ("catalog_admin_csv", "staff@example.com")


def test_a_file_with_bad_rows_lists_them_and_imports_nothing(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1000, stock=10)
    content = (
        HEADER
        + "good,Good,,,,G-1,,,10.00,EUR,1,\n"
        + "mug,Mug,,,,MUG,,,99.00,EUR,1,\n"
        + "Bad Slug,Bad,,,,B-1,,,10.00,EUR,1,\n"
        + "price,Price,,,,P-1,,,ten,EUR,1,\n"
        + "stock,Stock,,,,S-1,,,10.00,EUR,-4,\n"
    ).encode()
    page = upload(staff_app, content, "bad.csv", status=400)

    assert "Nothing was imported from bad.csv: 3 rows are wrong." in page.text
    items = [li.text for li in page.html.select("#import-errors li")]
    assert items == [
        "Line 4: product_slug 'Bad Slug' must be lowercase letters, digits and dashes",
        "Line 5: price 'ten' is not an amount in EUR",
        "Line 6: stock '-4' must be a whole number of 0 or more",
    ]
    assert count(dbsession, Product) == 1
    assert dbsession.scalar(select(Variant.price_amount).where(Variant.sku == "MUG")) == 1000


def test_a_sku_of_another_product_undoes_the_rows_written_before_it(staff_app, catalog, dbsession):
    catalog.product("Mug", sku="MUG")
    content = HEADER + "aaa,First,,,,NEW-1,,,1.00,EUR,1,\n" + "bowl,Bowl,,,,MUG,,,1,EUR,1,\n"
    page = upload(staff_app, content.encode(), status=400)
    assert "Line 3: sku MUG belongs to another product already" in page.text
    assert count(dbsession, Product) == 1
    assert count(dbsession, Variant) == 1
    assert count(dbsession, AuditEntry) == 0


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (
            HEADER.encode() + "caf\xe9,Caf\xe9,,,,C-1,,,1,EUR,1,\n".encode("latin-1"),
            "latin1.csv",
            "The file is not UTF-8 text (line 2 has a character that is not): save it as "
            "“CSV UTF-8” and upload it again.",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200,
            "catalog.xlsx",
            "This is a spreadsheet workbook, not a CSV file",
        ),
        (
            b"Dear shop,\nplease add a mug.\n",
            "letter.txt",
            "Line 1: the header lacks the column(s) product_slug, product_name, sku, price, stock",
        ),
        (HEADER.encode(), "header.csv", "Line 1: the file has no rows"),
        (
            HEADER.encode() + b"a,A\x00,,,,A-1,,,1,EUR,1,\n",
            "nul.csv",
            "Line 2: the row contains a NUL",
        ),
        (b"  \n", "blank.csv", "The file is empty."),
    ],
)
def test_a_file_that_is_not_a_catalog_csv_is_refused(staff_app, dbsession, content, name, message):
    page = upload(staff_app, content, name, status=400)
    assert message in page.text
    assert count(dbsession, Product) == 0


def test_an_upload_without_a_file_or_the_csrf_token_is_refused(staff_app, dbsession):
    token = csrf_token(staff_app)
    page = staff_app.post("/admin/catalog/csv", {"csrf_token": token}, status=400)
    assert "Choose a CSV file to import." in page.text
    good = HEADER + "mug,Mug,,,,MUG,,,1,EUR,1,\n"
    staff_app.post(
        "/admin/catalog/csv", upload_files=[("file", "a.csv", good.encode())], status=400
    )
    assert count(dbsession, Product) == 0


@pytest.fixture
def small_upload_app(make_test_app, app_settings, staff_user):
    settings = {**app_settings, "mercato.catalog.upload_max_bytes": "2048"}
    plugins = settings.pop("mercato.plugins").split()
    app = make_test_app(plugins=plugins, **settings)
    login(app, staff_user.email)
    return app


def test_a_file_over_the_size_limit_is_refused(small_upload_app, dbsession):
    row = "mug,Mug,,,,MUG,,,1,EUR,1,\n"
    # Just over the limit (read and measured), and far over (refused by its length).
    for copies in (100, 4000):
        content = (HEADER + row * copies).encode()
        page = upload(small_upload_app, content, status=413)
        assert "The file is larger than 2 KB: split it into smaller files." in page.text
    assert "up to 2 KB" in small_upload_app.get("/admin/catalog/csv").text
    assert count(dbsession, Product) == 0
