"""Sample catalogs: a small hand-written one for the demo, a generated one for benchmarks.

``demo_catalog`` is what ``mercato demo`` shows: a few categories and about forty
products a person would recognise, each with pictures of its own. ``bulk_sample`` makes
any number of plausible products (100,000 in a minute or two) with PostgreSQL's COPY,
in batches, each batch committed, so memory stays flat and progress is real; with a
storage, each product gets a picture too (see ``sample_pictures``).
"""

import json
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from .models import Category, Product, Variant
from .sample_pictures import BulkPictures, add_demo_pictures
from .services import ensure_category_path, slugify

CATEGORY_NAMES = {
    "clothing": "Clothing",
    "t-shirts": "T-shirts",
    "sweaters": "Sweaters & knitwear",
    "jackets": "Jackets",
    "home": "Home",
    "kitchen": "Kitchen",
    "textiles": "Bedding & textiles",
    "pantry": "Pantry",
    "outdoors": "Outdoors",
    "camping": "Camping",
    "bags": "Bags & backpacks",
    "stationery": "Stationery",
    "books": "Books",
}
LEAF_PATHS = [
    "clothing/t-shirts",
    "clothing/sweaters",
    "clothing/jackets",
    "home/kitchen",
    "home/textiles",
    "home/pantry",
    "outdoors/camping",
    "outdoors/bags",
    "stationery",
    "books",
]
# Food and books: the reduced tax rate in most EU countries (7 % in Germany, 5.5 % in
# France); the tax plugin's tables say what "reduced" means where an order goes.
REDUCED_PATHS = ("home/pantry", "books")
SIZES = ["S", "M", "L", "XL"]
# How much heavier than the smallest a larger size is, in tenths: an XL weighs 130 %.
SIZE_STEPS = {"M": 1, "L": 2, "XL": 3, "Double": 3, "King": 5, "Long": 2}

# (category path, name, price in cents, weight in grams packed, description, options)
DEMO_PRODUCTS = [
    ("clothing/t-shirts", "Organic Cotton T-shirt", 2400, 180,
     "A soft, breathable everyday tee made from organic cotton.", {"size": SIZES}),
    ("clothing/t-shirts", "Striped Breton Shirt", 3900, 260,
     "The classic navy and white stripe, in heavy cotton jersey.", {"size": SIZES}),
    ("clothing/t-shirts", "Linen Henley", 4500, 200,
     "Lightweight linen with a three-button placket, for warm days.", {"size": SIZES}),
    ("clothing/t-shirts", "Pocket Tee", 2200, 190,
     "A relaxed fit tee with a chest pocket.", {"colour": ["White", "Black", "Olive"]}),
    ("clothing/t-shirts", "Long Sleeve Waffle Top", 3400, 280,
     "Textured waffle knit that layers well in spring and autumn.", {"size": SIZES}),
    ("clothing/sweaters", "Merino Crew Sweater", 8900, 350,
     "Fine merino wool: warm, light and never itchy.", {"size": SIZES}),
    ("clothing/sweaters", "Chunky Cable Cardigan", 11900, 750,
     "Hand-finished cable knit cardigan with horn buttons.", {"size": SIZES}),
    ("clothing/sweaters", "Fisherman Rollneck", 9900, 800,
     "A dense wool rollneck in the tradition of North Sea knitwear.", {"size": SIZES}),
    ("clothing/sweaters", "Cotton Hoodie", 5900, 600,
     "Brushed-back cotton hoodie with a roomy kangaroo pocket.", {"size": SIZES}),
    ("clothing/sweaters", "Alpaca Blend Scarf", 4900, 250,
     "A long, soft scarf in an alpaca and wool blend.", {"colour": ["Oat", "Charcoal"]}),
    ("clothing/jackets", "Waxed Cotton Jacket", 18900, 1400,
     "Weatherproof waxed cotton with a corduroy collar.", {"size": SIZES}),
    ("clothing/jackets", "Packable Rain Jacket", 9900, 350,
     "Waterproof, breathable and folds into its own pocket.", {"size": SIZES}),
    ("clothing/jackets", "Quilted Liner Vest", 6900, 400,
     "A light quilted layer for cold mornings.", {"size": SIZES}),
    ("clothing/jackets", "Denim Chore Coat", 12900, 1100,
     "Rigid selvedge denim chore coat with three patch pockets.", {"size": SIZES}),
    ("clothing/jackets", "Down Parka", 27900, 1300,
     "Responsibly sourced down, a deep hood and a two-way zip.", {"size": SIZES}),
    ("home/kitchen", "Cast Iron Skillet", 4500, 2600,
     "A 26 cm pre-seasoned skillet that lasts for generations.", None),
    ("home/kitchen", "Stoneware Mug", 1800, 400,
     "Hand-glazed stoneware mug, 350 ml.", {"colour": ["Sand", "Slate", "Moss"]}),
    ("home/kitchen", "Chef's Knife", 7900, 300,
     "A 20 cm chef's knife in high-carbon stainless steel.", None),
    ("home/kitchen", "Olive Wood Cutting Board", 3900, 1200,
     "Each board is cut from a single piece of olive wood.", None),
    ("home/kitchen", "Pour-over Coffee Set", 5400, 1100,
     "Ceramic dripper, glass carafe and fifty filters.", None),
    ("home/kitchen", "Linen Tea Towels (set of 3)", 2400, 250,
     "Absorbent stonewashed linen tea towels.", {"colour": ["Natural", "Blue stripe"]}),
    ("home/textiles", "Linen Duvet Cover", 14900, 1500,
     "Stonewashed French linen that softens with every wash.",
     {"size": ["Single", "Double", "King"]}),
    ("home/textiles", "Wool Throw Blanket", 8900, 1400,
     "A heavy herringbone throw woven from lambswool.", {"colour": ["Grey", "Rust"]}),
    ("home/textiles", "Cotton Waffle Bath Towel", 2900, 600,
     "Quick-drying waffle weave bath towel.", {"colour": ["White", "Sage", "Clay"]}),
    ("home/textiles", "Percale Pillowcases (pair)", 3500, 350,
     "Crisp, cool cotton percale.", None),
    ("home/textiles", "Sheepskin Rug", 9900, 1200,
     "A single natural sheepskin, tanned in Europe.", None),
    ("outdoors/camping", "Two-person Tent", 24900, 2300,
     "A freestanding three-season tent, 2.1 kg.", None),
    ("outdoors/camping", "Down Sleeping Bag", 21900, 1100,
     "Comfortable to 0 °C, packs to the size of a melon.", {"size": ["Regular", "Long"]}),
    ("outdoors/camping", "Enamel Camp Mug", 1400, 200,
     "Tough enamel steel mug for the trail.", None),
    ("outdoors/camping", "Titanium Cook Pot", 4900, 200,
     "A 900 ml titanium pot with a folding handle.", None),
    ("outdoors/camping", "Headlamp", 3900, 150,
     "A rechargeable 400 lumen headlamp with a red light mode.", None),
    ("outdoors/camping", "Insulated Water Bottle", 2900, 450,
     "Keeps drinks cold for 24 hours or hot for 12.", {"colour": ["Steel", "Forest", "Sky"]}),
    ("outdoors/bags", "Canvas Backpack", 8900, 1300,
     "Waxed canvas and leather, 22 litres, with a padded laptop sleeve.", None),
    ("outdoors/bags", "Roll-top Dry Bag", 3400, 300,
     "Fully waterproof 20 litre roll-top bag.", {"colour": ["Yellow", "Black"]}),
    ("outdoors/bags", "Weekend Duffel", 12900, 1500,
     "A 40 litre duffel that fits airline cabin limits.", None),
    ("outdoors/bags", "Leather Belt Bag", 6900, 400,
     "Vegetable-tanned leather bag worn at the hip or across the body.", None),
    ("stationery", "Dot Grid Notebook", 1600, 350,
     "A5, 192 pages of fountain-pen-friendly paper.", {"colour": ["Black", "Red", "Kraft"]}),
    ("stationery", "Brass Fountain Pen", 5900, 120,
     "A solid brass pen that gains a patina with use.", None),
    ("stationery", "Desk Planner", 2400, 300,
     "Undated weekly planner pad, 60 sheets.", None),
    ("stationery", "Pencil Set", 1200, 150,
     "Twelve cedar pencils in graded hardness.", None),
    ("home/pantry", "Single-origin Coffee Beans", 1400, 300,
     "250 g of washed Ethiopian coffee, roasted in small batches.",
     {"grind": ["Whole bean", "Filter"]}),
    ("home/pantry", "Wildflower Honey", 1100, 750,
     "A 500 g jar of raw honey from meadows in the Alps.", None),
    ("books", "Field Guide to Wild Mushrooms", 2400, 650,
     "Four hundred species, each with photographs and look-alikes to avoid.", None),
    ("books", "The Camp Kitchen Cookbook", 3200, 900,
     "Eighty recipes for a single pot and an open fire.", None),
]  # fmt: skip


def _variant_rows(base_sku: str, price: int, grams: int, options: dict | None, stock_seed: int):
    if not options:
        yield base_sku, "", {}, price, grams, (stock_seed * 7) % 30
        return
    ((option, values),) = options.items()
    for position, value in enumerate(values):
        # The larger sizes cost and weigh a little more; some variants are sold out or
        # nearly.
        surcharge = 500 if value in ("XL", "King", "Long") else 0
        stock = (stock_seed * 7 + position * 5) % 26
        yield (
            f"{base_sku}-{slugify(value).upper()}",
            value,
            {option: value},
            price + surcharge,
            grams * (10 + SIZE_STEPS.get(value, 0)) // 10,
            stock,
        )


def demo_catalog(session, currency: str, progress, storage=None) -> bool:
    """Create the demo catalog unless the shop already has products; True if created.

    With a ``storage`` (the catalog's image storage), every product gets its pictures.
    """
    if session.execute(select(func.count()).select_from(Product)).scalar():
        progress("catalog: products already there, sample data skipped")
        return False
    progress(f"catalog: creating {len(DEMO_PRODUCTS)} sample products")
    now = datetime.now(UTC)
    for path in LEAF_PATHS:
        ensure_category_path(session, path, CATEGORY_NAMES)
    order = list(CATEGORY_NAMES)
    for category in session.execute(select(Category)).scalars():
        if category.slug in order:
            category.position = order.index(category.slug)
    made = []
    for index, (path, name, price, grams, description, options) in enumerate(DEMO_PRODUCTS):
        category = ensure_category_path(session, path, CATEGORY_NAMES)
        slug = slugify(name)
        product = Product(
            slug=slug,
            name=name,
            description=description,
            attributes={"brand": "Mercato Goods"},
            tax_class="reduced" if path in REDUCED_PATHS else "standard",
            # Older first, so "newest" shows the end of the list first.
            created_at=now - timedelta(hours=len(DEMO_PRODUCTS) - index),
        )
        product.categories.append(category)
        base_sku = "".join(word[0] for word in slug.split("-")).upper() + f"{index + 1:03d}"
        for position, (sku, label, opts, amount, weight, stock) in enumerate(
            _variant_rows(base_sku, price, grams, options, index + 3)
        ):
            product.variants.append(
                Variant(
                    sku=sku,
                    name=label,
                    options=opts,
                    price_amount=amount,
                    price_currency=currency,
                    stock=stock,
                    weight=weight,
                    position=position,
                )
            )
        session.add(product)
        made.append((product, path, (options or {}).get("colour")))
    session.flush()
    if storage is None:
        progress("catalog: no image storage, so the sample products have no pictures")
    else:
        add_demo_pictures(session, storage, made, progress)
    return True


ADJECTIVES = [
    "Classic",
    "Everyday",
    "Heritage",
    "Lightweight",
    "Organic",
    "Recycled",
    "Rugged",
    "Soft",
    "Urban",
    "Vintage",
    "Alpine",
    "Coastal",
    "Nordic",
    "Merino",
    "Waxed",
    "Linen",
    "Canvas",
    "Quilted",
    "Brushed",
    "Ribbed",
    "Woven",
    "Hand-made",
    "Minimal",
    "Sturdy",
    "Compact",
    "Travel",
    "Studio",
    "Field",
    "Harbour",
    "Meadow",
    "Granite",
    "Cedar",
    "Copper",
    "Indigo",
    "Saffron",
]
NOUNS = {
    "clothing/t-shirts": ["T-shirt", "Tee", "Henley", "Polo", "Tank", "Top", "Shirt"],
    "clothing/sweaters": ["Sweater", "Cardigan", "Jumper", "Hoodie", "Rollneck", "Pullover"],
    "clothing/jackets": ["Jacket", "Parka", "Coat", "Vest", "Anorak", "Blazer", "Overshirt"],
    "home/kitchen": [
        "Skillet",
        "Mug",
        "Knife",
        "Board",
        "Bowl",
        "Kettle",
        "Teapot",
        "Carafe",
        "Plate",
    ],
    "home/textiles": [
        "Blanket",
        "Throw",
        "Towel",
        "Pillowcase",
        "Duvet",
        "Cushion",
        "Rug",
        "Curtain",
    ],
    "outdoors/camping": [
        "Tent",
        "Stove",
        "Lantern",
        "Hammock",
        "Chair",
        "Pot",
        "Bottle",
        "Headlamp",
    ],
    "outdoors/bags": ["Backpack", "Duffel", "Tote", "Sling", "Satchel", "Pouch", "Messenger"],
    "home/pantry": ["Coffee", "Tea", "Honey", "Jam", "Chocolate", "Olive Oil", "Granola"],
    "stationery": ["Notebook", "Pen", "Pencil", "Planner", "Journal", "Sketchbook", "Folder"],
    "books": ["Guide", "Cookbook", "Atlas", "Handbook", "Almanac", "Field Notes"],
}
# A typical packed weight in grams per category; each product varies around it.
TYPICAL_GRAMS = {
    "clothing/t-shirts": 220,
    "clothing/sweaters": 600,
    "clothing/jackets": 1200,
    "home/kitchen": 900,
    "home/textiles": 1000,
    "home/pantry": 500,
    "outdoors/camping": 800,
    "outdoors/bags": 900,
    "stationery": 250,
    "books": 700,
}
PHRASES = (
    "Made to last and easy to care for.",
    "Designed in our studio and made in small batches.",
    "A favourite of our customers for years.",
    "Comfortable from the first day.",
    "Finished by hand with attention to detail.",
    "Pairs well with the rest of the collection.",
    "Light enough for travel, tough enough for every day.",
    "Uses recycled materials wherever we can.",
)
BATCH = 5000


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def bulk_sample(
    engine, count: int, currency: str, progress, seed: int = 1, storage=None,
    picture_progress=None,
) -> int:  # fmt: skip
    """Add ``count`` generated products (with 1–4 variants each); return how many.

    Each batch of 5,000 products is committed on its own, so an interrupted run keeps
    what it made and memory stays flat. With a ``storage``, each product gets a picture
    (``picture_progress(done, total)`` follows them, batch by batch).
    """
    with Session(engine) as session:
        for path in LEAF_PATHS:
            ensure_category_path(session, path, CATEGORY_NAMES)
        session.commit()
        leaves = {
            path: session.execute(select(Category.id).where(Category.path == path)).scalar_one()
            for path in LEAF_PATHS
        }
    rng = random.Random(seed)
    now = datetime.now(UTC)
    done = 0
    drawn = BulkPictures(storage, count, picture_progress) if storage is not None else None
    with engine.connect() as connection:
        while done < count:
            size = min(BATCH, count - done)
            ids = (
                connection.execute(
                    text("SELECT nextval('catalog_products_id_seq') FROM generate_series(1, :n)"),
                    {"n": size},
                )
                .scalars()
                .all()
            )
            products, variants, links, pictured = [], [], [], []
            for product_id in ids:
                path = rng.choice(LEAF_PATHS)
                first, second = rng.choice(ADJECTIVES), rng.choice(ADJECTIVES)
                noun = rng.choice(NOUNS[path])
                name = f"{first} {second} {noun}"
                pictured.append((product_id, name, noun, path))
                description = " ".join(rng.sample(PHRASES, 3))
                products.append((
                    product_id,
                    f"{slugify(name)}-{product_id}",
                    name,
                    description,
                    json.dumps({"sample": True}),
                    True,
                    now + timedelta(microseconds=product_id),
                    "reduced" if path in REDUCED_PATHS else "standard",
                ))  # fmt: skip
                links.append((product_id, leaves[path]))
                price = rng.randrange(500, 30000, 100) - 1
                # From 80 % to 120 % of the typical weight, without a draw from ``rng``.
                grams = TYPICAL_GRAMS[path] * (8 + product_id % 5) // 10
                labels = rng.sample(SIZES, rng.randint(1, 4)) if "clothing" in path else [""]
                for position, label in enumerate(labels):
                    sku = f"GEN{product_id:08d}" + (f"-{label}" if label else "")
                    options = json.dumps({"size": label} if label else {})
                    stock = rng.choice((0, 2, 5, 10, 25, 50, 100))
                    variants.append(
                        (product_id, sku, label, options, price, currency, stock, grams, position)
                    )
            dbapi = connection.connection.driver_connection
            with dbapi.cursor() as cursor:
                _copy(cursor, "catalog_products",
                      ("id", "slug", "name", "description", "attributes", "active", "created_at",
                       "tax_class"),
                      products)  # fmt: skip
                _copy(cursor, "catalog_product_categories", ("product_id", "category_id"), links)
                _copy(cursor, "catalog_variants",
                      ("product_id", "sku", "name", "options", "price_amount", "price_currency",
                       "stock", "weight", "position"),
                      variants)  # fmt: skip
                if drawn is not None:
                    _copy(cursor, "catalog_product_images",
                          ("product_id", "key", "extension", "alt", "width", "height", "position"),
                          drawn.rows(pictured))  # fmt: skip
            connection.commit()
            done += size
            progress(done, count)
    # Fresh statistics for the planner, and a visibility map that lets counts use
    # index-only scans, without waiting for autovacuum.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in (
            "catalog_products",
            "catalog_variants",
            "catalog_product_categories",
            "catalog_categories",
        ):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    return done
