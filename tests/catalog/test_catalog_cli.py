"""``mercato catalog sample|import|export`` against the test database."""

import csv
import io
import time

import pytest
from sqlalchemy import func, select

from mercato.ops.cli import main
from mercato_catalog.models import Category, Product, ProductImage, Variant

HEADER = (
    "product_slug,product_name,description,categories,product_active,sku,variant_name,"
    "options,price,currency,stock,variant_active\n"
)


@pytest.fixture
def config_file(tmp_path, migrated_database, redis_url, clean_stores):
    path = tmp_path / "shop.ini"
    path.write_text(
        "[app:main]\n"
        "use = egg:mercato\n"
        f"sqlalchemy.url = {migrated_database}\n"
        f"redis.url = {redis_url}\n"
        "mercato.secret = test\n"
        "mercato.plugins = catalog\n"
        "mercato.currency = EUR\n"
        f"mercato.catalog.upload_dir = {tmp_path / 'uploads'}\n"
    )
    return str(path)


def count(session, model) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(model)).scalar()


def test_sample_adds_products_with_variants_and_progress(config_file, dbsession, capsys):
    assert main(["-c", config_file, "catalog", "sample", "--products", "1200"]) == 0

    assert count(dbsession, Product) == 1200
    assert count(dbsession, Variant) >= 1200
    assert count(dbsession, Category) >= 8
    assert dbsession.execute(select(Product).where(Product.price_from.is_(None))).first() is None
    err = capsys.readouterr().err
    assert "catalog sample: 1,200/1,200 (100%" in err
    assert "added 1,200 products" in err

    assert main(["-c", config_file, "catalog", "sample", "--products", "10"]) == 0
    assert count(dbsession, Product) == 1210


def test_sample_pictures_every_product_unless_told_not_to(config_file, dbsession, tmp_path, capsys):
    started = time.perf_counter()
    assert main(["-c", config_file, "catalog", "sample", "--products", "300"]) == 0
    print(f"catalog sample of 300 with pictures: {time.perf_counter() - started:.2f} s")

    assert count(dbsession, ProductImage) == 600, "a front and a close-up each"
    key = dbsession.scalar(select(ProductImage.key).limit(1))
    assert (tmp_path / "uploads" / key / "thumb.webp").stat().st_size > 0
    assert "catalog pictures: 300/300 (100%" in capsys.readouterr().err

    assert main(["-c", config_file, "catalog", "sample", "--products", "5", "--no-images"]) == 0
    assert count(dbsession, Product) == 305
    assert count(dbsession, ProductImage) == 600
    assert "catalog pictures" not in capsys.readouterr().err


def test_sample_refuses_a_silly_count(config_file, capsys):
    with pytest.raises(SystemExit):
        main(["-c", config_file, "catalog", "sample", "--products", "lots"])
    assert "'lots' is not a whole number" in capsys.readouterr().err


def test_import_creates_products_variants_and_categories(config_file, tmp_path, dbsession):
    path = tmp_path / "in.csv"
    path.write_text(
        HEADER
        + "linen-shirt,Linen Shirt,Cool in summer,clothing/shirts,true,LS-M,M,size=M,49.00,EUR,5,\n"
        + "linen-shirt,Linen Shirt,Cool in summer,clothing/shirts,true,LS-L,L,size=L,52.50,,0,\n"
        + "mug,Mug,,home,,MUG,,,12,EUR,100,false\n"
    )
    assert main(["-c", config_file, "catalog", "import", str(path)]) == 0

    shirt = dbsession.execute(select(Product).where(Product.slug == "linen-shirt")).scalar_one()
    assert [c.path for c in shirt.categories] == ["clothing/shirts"]
    assert [(v.sku, v.price_amount, v.stock, v.options) for v in shirt.variants] == [
        ("LS-M", 4900, 5, {"size": "M"}),
        ("LS-L", 5250, 0, {"size": "L"}),
    ]
    mug = dbsession.execute(select(Variant).where(Variant.sku == "MUG")).scalar_one()
    assert (mug.price_amount, mug.active) == (1200, False)

    # The same file again changes nothing.
    assert main(["-c", config_file, "catalog", "import", str(path)]) == 0
    assert count(dbsession, Product) == 2
    assert count(dbsession, Variant) == 3


def test_import_reports_every_bad_row_and_imports_nothing(config_file, tmp_path, dbsession, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "good,Good,,,,G-1,,,10.00,EUR,1,\n"
        + "Bad Slug,Bad,,,,B-1,,,10.00,EUR,1,\n"
        + "price,Price,,,,P-1,,,ten,EUR,1,\n"
        + "stock,Stock,,,,S-1,,,10.00,EUR,-4,\n"
        + "dup,Dup,,,,G-1,,,10.00,EUR,1,\n"
        + "cents,Cents,,,,C-1,,,10.001,EUR,1,\n"
        + "dollars,Dollars,,,,D-1,,,10.00,USD,1,\n"
        + "opts,Opts,,,,O-1,,size,10.00,EUR,1,\n"
        + "huge,Huge,,,,H-1,,,1e13,EUR,1,\n"
    )
    assert main(["-c", config_file, "catalog", "import", str(path)]) == 1

    err = capsys.readouterr().err
    for line, words in [
        (3, "product_slug 'Bad Slug'"),
        (4, "price 'ten' is not an amount"),
        (5, "stock '-4' must be a whole number"),
        (6, "sku G-1 is already on line 2"),
        (7, "price '10.001' is not an amount"),
        (8, "currency must be the shop's currency EUR"),
        (9, "options must look like"),
        (10, "price '1e13' must be between 0 and"),
    ]:
        assert f"bad.csv:{line}: {words}" in err
    assert "8 bad row(s); nothing was imported" in err
    assert count(dbsession, Product) == 0


def test_import_refuses_a_file_without_the_needed_columns(config_file, tmp_path, capsys):
    path = tmp_path / "wrong.csv"
    path.write_text("name,price\nMug,10\n")
    assert main(["-c", config_file, "catalog", "import", str(path)]) == 1
    assert "wrong.csv:1: the header lacks the column(s) product_slug" in capsys.readouterr().err


def test_import_of_a_missing_file_says_so(config_file, tmp_path, capsys):
    assert main(["-c", config_file, "catalog", "import", str(tmp_path / "nope.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_import_refuses_a_sku_of_another_product(config_file, tmp_path, catalog, dbsession, capsys):
    catalog.product("Mug", sku="MUG")
    path = tmp_path / "steal.csv"
    path.write_text(HEADER + "bowl,Bowl,,,,MUG,,,10.00,EUR,1,\n")
    assert main(["-c", config_file, "catalog", "import", str(path)]) == 1
    assert "steal.csv:2: sku MUG belongs to another product already" in capsys.readouterr().err
    assert count(dbsession, Product) == 1


def test_export_then_import_round_trips(config_file, tmp_path, catalog, dbsession, capsys):
    shirts = catalog.category("clothing/shirts", "Shirts")
    catalog.product(
        "Linen Shirt",
        description='Cool, "airy" linen',
        category=shirts,
        variants=[
            {"sku": "LS-M", "name": "M", "options": {"size": "M"}, "price": 4900, "stock": 3},
            {"sku": "LS-L", "name": "L", "options": {"size": "L"}, "price": 5250, "stock": 0},
        ],
    )
    out = tmp_path / "out.csv"
    assert main(["-c", config_file, "catalog", "export", str(out)]) == 0
    assert "2 rows written" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["sku"], r["price"], r["options"], r["categories"]) for r in rows] == [
        ("LS-M", "49.00", "size=M", "clothing/shirts"),
        ("LS-L", "52.50", "size=L", "clothing/shirts"),
    ]
    assert rows[0]["description"] == 'Cool, "airy" linen'

    dbsession.execute(Variant.__table__.delete())
    dbsession.commit()
    assert main(["-c", config_file, "catalog", "import", str(out)]) == 0
    assert count(dbsession, Variant) == 2
