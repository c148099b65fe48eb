"""Category pages as a shop's: filters by option (size, colour), price and stock, sorting,
one GET form that works without JavaScript, and odd addresses answered plainly."""

import pytest

from tests.catalog.test_catalog_page_cache import Statements


@pytest.fixture
def shelves(catalog):
    """Four products whose variants have a size and a colour each: (size, colour, stock)."""
    clothing = catalog.category("clothing", "Clothing")
    tees = catalog.category("clothing/tees", "Tees")
    jackets = catalog.category("clothing/jackets", "Jackets")

    def variants(code, price, *specs):
        return [
            {"sku": f"{code}-{size}-{colour}", "name": f"{size} / {colour}",
             "options": {"size": size, "colour": colour}, "price": price, "stock": stock}
            for size, colour, stock in specs
        ]  # fmt: skip

    catalog.product("Field Tee", category=tees, variants=variants(
        "FT", 2000, ("S", "Olive", 0), ("M", "Olive", 4), ("M", "Navy", 0)))  # fmt: skip
    catalog.product("Camp Shirt", category=tees, variants=variants(
        "CS", 4500, ("M", "Navy", 2), ("L", "Navy", 3)))  # fmt: skip
    catalog.product("Linen Top", category=tees, variants=variants(
        "LT", 3000, ("L", "White", 0)))  # fmt: skip
    catalog.product("Rain Jacket", category=jackets, variants=variants(
        "RJ", 9000, ("XL", "Olive", 1)))  # fmt: skip
    return clothing


def shown(page) -> set[str]:
    return {a.text.strip() for a in page.html.select(".product-name")}


def in_order(page) -> list[str]:
    return [a.text.strip() for a in page.html.select(".product-name")]


def facet_counts(page) -> dict[str, dict[str, int]]:
    """{"Size": {"M": 2, …}, …} as the filters show them."""
    counts = {}
    for fieldset in page.html.select("details.filters fieldset"):
        boxes = fieldset.select("input[type=checkbox][name^='opt.']")
        if boxes:
            counts[fieldset.legend.text] = {
                box["value"]: int(fieldset.find("label", attrs={"for": box["id"]}).span.text[1:-1])
                for box in boxes
            }
    return counts


ALL = {"Field Tee", "Camp Shirt", "Linen Top", "Rain Jacket"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL),
        ({"opt.size": "M"}, {"Field Tee", "Camp Shirt"}),
        ([("opt.size", "M"), ("opt.size", "XL")], {"Field Tee", "Camp Shirt", "Rain Jacket"}),
        ({"opt.colour": "Olive"}, {"Field Tee", "Rain Jacket"}),
        ({"opt.size": "M", "opt.colour": "Navy"}, {"Field Tee", "Camp Shirt"}),
        # One variant must be all of it: the Field Tee's M in navy is sold out.
        ({"opt.size": "M", "opt.colour": "Navy", "in_stock": "1"}, {"Camp Shirt"}),
        ({"in_stock": "1"}, {"Field Tee", "Camp Shirt", "Rain Jacket"}),
        ({"min_price": "25"}, {"Camp Shirt", "Linen Top", "Rain Jacket"}),
        ({"max_price": "40.00"}, {"Field Tee", "Linen Top"}),
        ({"min_price": "25", "max_price": "50", "in_stock": "1"}, {"Camp Shirt"}),
        ({"opt.size": "XXL"}, set()),
    ],
    ids=[
        "none", "size", "two sizes", "colour", "size and colour", "one variant in stock",
        "in stock", "lowest price", "highest price", "price range in stock", "nothing",
    ],
)  # fmt: skip
def test_filters_narrow_the_category(app, shelves, params, expected):
    page = app.get("/c/clothing", params)
    assert shown(page) == expected
    assert f"{len(expected)} product" in page.html.select_one(".listing-bar [role=status]").text


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price_asc", ["Field Tee", "Linen Top", "Camp Shirt", "Rain Jacket"]),
        ("price_desc", ["Rain Jacket", "Camp Shirt", "Linen Top", "Field Tee"]),
        ("name", ["Camp Shirt", "Field Tee", "Linen Top", "Rain Jacket"]),
        ("newest", ["Rain Jacket", "Linen Top", "Camp Shirt", "Field Tee"]),
    ],
)
def test_sorting_applies_with_the_filters(app, shelves, sort, expected):
    assert in_order(app.get("/c/clothing", {"sort": sort})) == expected
    filtered = app.get("/c/clothing", {"sort": sort, "in_stock": "1"})
    assert in_order(filtered) == [name for name in expected if name != "Linen Top"]


def test_the_filters_count_products_per_value_in_the_staff_order(app, shelves):
    page = app.get("/c/clothing")
    assert facet_counts(page) == {
        "Colour": {"Olive": 2, "Navy": 2, "White": 1},
        "Size": {"S": 1, "M": 2, "L": 2, "XL": 1},
    }
    assert list(facet_counts(page)["Size"]) == ["S", "M", "L", "XL"]
    # Stock narrows the counts; a chosen option does not (its neighbours stay to add).
    page = app.get("/c/clothing", {"in_stock": "1", "opt.size": "M"})
    assert facet_counts(page)["Size"] == {"M": 2, "L": 1, "XL": 1}
    assert [box["value"] for box in page.html.select("input[name='opt.size'][checked]")] == ["M"]
    assert page.html.select_one("#in_stock").has_attr("checked")


def test_a_chosen_value_nothing_has_any_more_stays_to_be_unticked(app, shelves):
    page = app.get("/c/clothing", {"opt.size": "XXL", "opt.fit": "Slim"})
    assert facet_counts(page)["Size"]["XXL"] == 0
    assert facet_counts(page)["Fit"] == {"Slim": 0}
    assert "No products match these filters" in page.text


def test_chosen_filters_are_listed_each_with_a_link_that_removes_it(app, shelves):
    page = app.get(
        "/c/clothing",
        [("opt.size", "M"), ("opt.size", "L"), ("in_stock", "1"), ("min_price", "10")],
    )
    links = {a.text.split("×")[0].strip(): a["href"] for a in page.html.select(".active-filters a")}
    assert links == {
        "Size: M": "/c/clothing?min_price=10.00&in_stock=1&sort=newest&opt.size=L",
        "Size: L": "/c/clothing?min_price=10.00&in_stock=1&sort=newest&opt.size=M",
        "In stock only": "/c/clothing?min_price=10.00&sort=newest&opt.size=L&opt.size=M",
        "Price: 10.00–…": "/c/clothing?in_stock=1&sort=newest&opt.size=L&opt.size=M",
        "Clear all": "/c/clothing?sort=newest",
    }
    assert shown(app.get(links["Size: M"])) == {"Camp Shirt"}


def test_pages_keep_the_filters(make_test_app, app_settings, shelves):
    settings = {**app_settings, "mercato.catalog.page_size": "1"}
    plugins = settings.pop("mercato.plugins").split()
    app = make_test_app(plugins=plugins, **settings)
    page = app.get("/c/clothing", {"opt.size": "M", "sort": "name"})
    assert in_order(page) == ["Camp Shirt"]
    assert page.html.find("a", rel="next")["href"] == "/c/clothing?sort=name&page=2&opt.size=M"
    assert in_order(app.get(page.html.find("a", rel="next")["href"])) == ["Field Tee"]


def test_the_form_works_without_javascript(app, shelves):
    """A plain GET form: tick, type, choose, press Apply (what a browser without
    JavaScript sends); catalog.js only sends it sooner."""
    page = app.get("/c/clothing")
    form = page.forms["listing-form"]
    assert form.method.upper() == "GET" and form.action == "/c/clothing"
    assert form.html.find("button", type="submit").text == "Apply"
    assert form.html.find("form").has_attr("data-autosubmit")
    sizes = [field for field in form.fields["opt.size"]]
    next(box for box in sizes if box._value == "M").checked = True
    form["in_stock"] = True
    form["max_price"] = "50"
    form["sort"] = "price_desc"

    result = form.submit()

    assert in_order(result) == ["Camp Shirt", "Field Tee"]  # M, in stock, up to 50
    assert result.request.path_qs.startswith("/c/clothing?")
    again = result.forms["listing-form"]
    assert again["max_price"].value == "50.00" and again["sort"].value == "price_desc"


def test_the_script_sends_the_form_on_change_and_there_is_no_inline_script(app, shelves):
    page = app.get("/c/clothing")
    scripts = page.html.find_all("script")
    assert scripts and all(script.get("src") and not script.text.strip() for script in scripts)
    script = app.get(next(s["src"] for s in scripts if "catalog.js" in s["src"])).text
    assert 'hasAttribute("data-autosubmit")' in script and "form.submit()" in script
    assert ".thumbs a[data-src]" in script


HOSTILE = {
    "price not a number": {"min_price": "abc"},
    "price huge": {"max_price": "9" * 40},
    "price negative": {"min_price": "-5"},
    "price range upside down": {"min_price": "50", "max_price": "10"},
    "price with NUL": {"min_price": "1\x00"},
    "option value ten kilobytes": {"opt.size": "M" * 10_000},
    "option name ten kilobytes": {"opt." + "x" * 10_000: "M"},
    "option value NUL": {"opt.size": "M\x00"},
    "option name NUL": {"opt.si\x00ze": "M"},
    "option name empty": {"opt.": "M"},
    "option value spaces": {"opt.size": "   "},
    "too many options": {f"opt.o{n}": "x" for n in range(10)},
    "too many values": [("opt.size", str(n)) for n in range(30)],
    "in stock odd": {"in_stock": "perhaps"},
    "in stock NUL": {"in_stock": "\x00"},
    "sort unknown": {"sort": "'; DROP TABLE x; --"},
    "page negative": {"page": "-1"},
    "page huge": {"page": "9" * 30},
    "sql in a value": {"opt.size": "M' OR '1'='1"},
    "json path in a name": {"opt.size'->>'x": "M"},
    "unicode": {"opt.größe": "🧥"},
}


@pytest.mark.parametrize("params", HOSTILE.values(), ids=HOSTILE.keys())
def test_odd_filters_are_refused_or_ignored_never_a_500(app, shelves, params):
    page = app.get("/c/clothing", params, expect_errors=True)
    assert page.status_int in (200, 400), page.status
    assert "Traceback" not in page.text
    if page.status_int == 400:
        assert page.html.select_one("main").text.strip()  # a sentence, not a stack


def test_a_bad_price_says_what_is_wrong(app, shelves):
    page = app.get("/c/clothing", {"min_price": "abc"}, status=400)
    assert "The lowest price must be an amount such as 25 or 25.50." in page.html.main.text
    page = app.get("/c/clothing", {"opt.size": "M" * 10_000}, status=400)
    assert "A filter's value is too long." in page.html.main.text


def test_a_category_page_is_cached_per_filters_and_spelling_does_not_matter(app, shelves):
    app.get("/c/clothing")  # the navigation, kept per process
    statements = Statements(app.app.registry.db_engine)
    first = app.get("/c/clothing", [("opt.size", "M"), ("in_stock", "1"), ("opt.size", "L")])
    assert statements.seen, "rendered"
    statements.seen.clear()

    # The same filters, spelt otherwise: the same cached page.
    again = app.get("/c/clothing", [("in_stock", "on"), ("opt.size", "L"), ("opt.size", "M")])

    assert statements.seen == []
    assert again.text == first.text
    app.get("/c/clothing", {"opt.size": "M"})
    assert statements.seen, "other filters, another page"
