"""Typos: the close words of product names, kept by PostgreSQL, lead the full-text search.

The fallback asks the names' vocabulary (``catalog_search_words``) for the words a
typed word is closest to, then searches the catalog's full-text index with them; the
vocabulary is kept by triggers, whatever writes the products (ORM, bulk SQL, COPY).
"""

from sqlalchemy import select, text

from mercato_catalog.models import SearchWord


def names(response):
    return [item["name"] for item in response.json["items"]]


def search(app, q):
    response = app.get("/api/search", {"q": q})
    assert response.json["fuzzy"] is True, "a typo is answered by the fallback"
    return names(response)


def vocabulary(dbsession):
    dbsession.rollback()  # a fresh snapshot: the triggers wrote in other transactions
    return set(dbsession.execute(select(SearchWord.word)).scalars())


def test_a_typo_finds_the_closest_word_not_every_word_that_shares_letters(app, catalog):
    # "coax" shares as many trigrams with "coastal" as with "coat" (word similarity
    # 0.6 both), but as a whole word it is a typo of "coat".
    catalog.product("Wool Coat")
    catalog.product("Rain Coat")
    catalog.product("Coastal Mug")
    assert sorted(search(app, "coax")) == ["Rain Coat", "Wool Coat"]


def test_several_words_with_typos_rank_the_products_matching_more_of_them_first(app, catalog):
    catalog.product("Wool Coat")
    catalog.product("Wool Scarf")
    catalog.product("Rain Coat")
    found = search(app, "wol coax")
    assert found[0] == "Wool Coat"
    assert set(found[1:]) == {"Wool Scarf", "Rain Coat"}


def test_a_typo_and_a_word_cut_short_in_one_query(app, catalog):
    catalog.product("Canvas Backpack")
    catalog.product("Canvas Tote")
    assert search(app, "backpak canv") == ["Canvas Backpack", "Canvas Tote"]


def test_typos_of_inactive_products_find_nothing(app, catalog):
    catalog.product("Secret Lantern", active=False)
    assert search(app, "lanterm") == []


def test_new_and_renamed_products_bring_their_words(app, catalog, dbsession):
    parka = catalog.product("Linen Parka")
    assert {"linen", "parka"} <= vocabulary(dbsession)
    assert search(app, "parkx") == ["Linen Parka"]

    parka.name = "Linen Anorak"
    catalog.session.commit()
    assert "anorak" in vocabulary(dbsession)
    assert search(app, "anorax") == ["Linen Anorak"]
    assert search(app, "parkx") == [], "the old word finds nothing any more"


def test_bulk_inserts_bring_their_words_in_one_statement(app, dbsession):
    # What COPY and the CSV import do: many rows in one statement, one trigger call.
    dbsession.execute(
        text(
            "INSERT INTO catalog_products (slug, name) "
            "SELECT 'bulk-' || n, 'Harbour Hammock ' || n FROM generate_series(1, 50) AS n"
        )
    )
    dbsession.commit()
    assert {"harbour", "hammock"} <= vocabulary(dbsession)
    assert "bulk" not in vocabulary(dbsession), "slugs are not names"
    assert len(search(app, "hamock")) == 24, "a full first page of hammocks"
