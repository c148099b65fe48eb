"""``mercato.render_cached`` for a plugin's own page: shared part cached, personal
slots filled per request, tags invalidated only by a commit, never a broken page."""

import pytest

from tests.kernel.plugins import pagecache_probe

PROBE = "tests.kernel.plugins.pagecache_probe"


@pytest.fixture
def app(make_test_app):
    pagecache_probe.RENDERS.clear()
    return make_test_app(plugins=[PROBE])


def test_the_shared_part_is_rendered_once_and_the_personal_slot_every_time(app):
    ada = app.get("/probe/mugs", headers={"X-Shopper": "Ada"})
    bob = app.get("/probe/mugs", headers={"X-Shopper": "Bob"})

    assert pagecache_probe.RENDERS == ["mugs"]
    assert ada.html.select_one(".renders").text == bob.html.select_one(".renders").text == "1"
    # The slot's context came back from Redis as JSON, its Money still a Money.
    assert ada.html.select_one(".greeting").text == "Hello Ada (1999)"
    assert bob.html.select_one(".greeting").text == "Hello Bob (1999)"


def test_a_committed_change_renders_the_page_again_a_failed_one_does_not(app):
    app.get("/probe/mugs")
    app.get("/probe/pens")

    app.post("/probe/mugs/touch", {"fail": "1"}, status=500)
    app.get("/probe/mugs")
    assert pagecache_probe.RENDERS == ["mugs", "pens"]

    app.post("/probe/mugs/touch")
    assert app.get("/probe/mugs").html.select_one(".renders").text == "3"
    app.get("/probe/pens")
    assert pagecache_probe.RENDERS == ["mugs", "pens", "mugs"]


def test_a_template_that_eats_a_personal_part_is_served_uncached_not_broken(app, caplog):
    first = app.get("/probe-eaten/mugs", headers={"X-Shopper": "Ada"})
    second = app.get("/probe-eaten/mugs", headers={"X-Shopper": "Bob"})

    assert first.html.select_one(".plain").text == "HELLO ADA (1999)"
    assert second.html.select_one(".plain").text == "HELLO BOB (1999)"
    assert "\x00" not in first.text
    assert pagecache_probe.RENDERS == ["mugs", "mugs"]
    assert "lost a personal part's marker" in caplog.text
