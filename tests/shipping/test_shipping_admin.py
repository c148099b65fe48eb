"""Staff pages: zones and methods created, edited and deleted through the admin's own
forms; hostile input answered with a 400 and a sentence, never a 500; only people
holding ``shipping.manage`` get in."""

import pytest
from sqlalchemy import select

from mercato.testing import csrf_token, login
from mercato_shipping.models import ShippingMethod, ShippingZone
from tests.shipping.conftest import add_zone


@pytest.fixture
def staff_app(app, staff_user):
    login(app, staff_user.email)
    return app


def zone_named(dbsession, name) -> ShippingZone | None:
    dbsession.expire_all()
    return dbsession.scalar(select(ShippingZone).where(ShippingZone.name == name))


def method_coded(dbsession, code) -> ShippingMethod | None:
    dbsession.expire_all()
    return dbsession.scalar(select(ShippingMethod).where(ShippingMethod.code == code))


def field_errors(page) -> dict[str, str]:
    return {p["id"].removesuffix("-error"): p.text for p in page.html.select(".field-error")}


def test_only_people_with_shipping_manage_get_in(app, customer_user, demo_zones, dbsession):
    zone = zone_named(dbsession, "Germany")
    assert "/login" in app.get("/admin/shipping", status=303).location
    login(app, customer_user.email)
    token = csrf_token(app)
    app.get("/admin/shipping", status=403)
    app.get("/admin/shipping/zones/new", status=403)
    app.post(f"/admin/shipping/zones/{zone.id}/delete", {"csrf_token": token}, status=403)
    assert zone_named(dbsession, "Germany") is not None


def test_the_admin_menu_links_to_shipping(staff_app):
    menu = staff_app.get("/admin").html.select(".admin-nav a")
    assert ("Shipping", "/admin/shipping") in [(a.text, a["href"]) for a in menu]


def test_the_list_shows_zones_countries_and_rates(staff_app, demo_zones):
    page = staff_app.get("/admin/shipping")
    assert "no-store" in page.headers["Cache-Control"]
    germany, eu, us = page.html.select("section.card")
    assert germany.h2.text == "Germany" and "Germany" in germany.p.text
    assert "€4.90, free from €50.00" in germany.text and "de-express" in germany.text
    assert "France" in eu.p.text and "Germany" not in eu.p.text
    assert "≤ 2 kg €9.90; ≤ 5 kg €14.90; ≤ 30 kg €24.90, free from €100.00" in eu.text
    assert "≤ €100.00 €19.90; above €14.90" in us.text


def test_staff_create_edit_and_delete_a_zone(staff_app, dbsession):
    form = staff_app.get("/admin/shipping/zones/new").forms["zone-form"]
    form["name"] = "Alpine"
    form["countries"] = ["CH", "LI"]
    form["regions"] = "it-32, AT-7"
    page = form.submit(status=303).follow()
    assert "Zone Alpine saved." in page.text
    zone = zone_named(dbsession, "Alpine")
    assert (zone.countries, zone.regions) == (["LI", "CH"], ["AT-7", "IT-32"])

    form = staff_app.get(f"/admin/shipping/zones/{zone.id}").forms["zone-form"]
    assert form["regions"].value == "AT-7, IT-32"
    form["name"] = "Alps"
    form["countries"] = ["CH"]
    form.submit(status=303)
    assert zone_named(dbsession, "Alps").countries == ["CH"]

    form = staff_app.get(f"/admin/shipping/zones/{zone.id}").forms["delete-zone-form"]
    assert "Zone Alps deleted" in form.submit(status=303).follow().text
    assert zone_named(dbsession, "Alps") is None


def test_staff_add_edit_and_delete_methods_of_each_rate_type(staff_app, dbsession):
    zone = add_zone(dbsession, "Switzerland", countries=["CH"])
    form = staff_app.get(f"/admin/shipping/zones/{zone.id}/methods/new").forms["method-form"]
    form["name"] = "Post"
    form["code"] = "CH-Post"
    form["rate_type"] = "weight"
    form.set("tier_up_to", "1.5", index=0)
    form.set("tier_price", "7", index=0)
    form.set("tier_up_to", "", index=1)
    form.set("tier_price", "12.50", index=1)
    form["free_over"] = "150"
    form["estimate"] = "2–4 working days"
    form["active"] = True
    assert "Method Post (ch-post) saved." in form.submit(status=303).follow().text
    method = method_coded(dbsession, "ch-post")
    assert (method.rate_type, method.tiers, method.free_over, method.price) == (
        "weight",
        [{"up_to": 1500, "price": 700}, {"up_to": None, "price": 1250}],
        15000,
        None,
    )
    assert (method.currency, method.estimate, method.active) == ("EUR", "2–4 working days", True)

    form = staff_app.get(f"/admin/shipping/methods/{method.id}").forms["method-form"]
    assert [f.value for f in form.fields["tier_up_to"]][:3] == ["1.5", "", ""]
    form["rate_type"] = "value"
    form.set("tier_up_to", "50", index=0)
    form.set("tier_price", "9.90", index=0)
    form.submit(status=303)
    assert method_coded(dbsession, "ch-post").tiers == [
        {"up_to": 5000, "price": 990},
        {"up_to": None, "price": 1250},
    ]

    form = staff_app.get(f"/admin/shipping/methods/{method.id}").forms["method-form"]
    form["rate_type"] = "flat"
    form["price"] = "8.00"
    form["free_over"] = ""
    form["active"] = False
    form.submit(status=303)
    method = method_coded(dbsession, "ch-post")
    assert (method.rate_type, method.price, method.tiers, method.free_over, method.active) == (
        "flat",
        800,
        [],
        None,
        False,
    )

    form = staff_app.get(f"/admin/shipping/methods/{method.id}").forms["delete-method-form"]
    form.submit(status=303)
    assert method_coded(dbsession, "ch-post") is None
    assert zone_named(dbsession, "Switzerland") is not None


def test_deleting_a_zone_deletes_its_methods(staff_app, demo_zones, dbsession):
    zone = zone_named(dbsession, "Germany")
    staff_app.post(
        f"/admin/shipping/zones/{zone.id}/delete", {"csrf_token": csrf_token(staff_app)}, status=303
    )
    assert method_coded(dbsession, "de-standard") is None


def test_a_country_belongs_to_one_zone(staff_app, demo_zones, dbsession):
    form = staff_app.get("/admin/shipping/zones/new").forms["zone-form"]
    form["name"] = "Neighbours"
    form["countries"] = ["PL", "CZ"]
    page = form.submit(status=400)
    assert "Czechia is already in the zone “European Union”" in field_errors(page)["countries"]
    assert zone_named(dbsession, "Neighbours") is None
    # Its own countries are no conflict when a zone is saved again.
    germany = zone_named(dbsession, "Germany")
    staff_app.get(f"/admin/shipping/zones/{germany.id}").forms["zone-form"].submit(status=303)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "name", "Please fill this in."),
        ({"name": "<script>alert(1)</script>"}, "name", "Please leave out < and >"),
        ({"name": "x" * 101}, "name", "Longer than maximum length 100"),
        ({"countries": []}, "countries", "Choose at least one country"),
        ({"countries": ["XX"]}, "countries", "Unknown country code: XX."),
        ({"countries": ["<b>"]}, "countries", "Unknown country code: <b>."),
        ({"regions": "US-ZZ"}, "regions", "Unknown region: US-ZZ."),
        ({"regions": "Alaska"}, "regions", "Unknown region: ALASKA."),
        ({"regions": ", ".join(["US-AK"] * 501)}, "regions", "at most 500 regions"),
        ({"position": "abc"}, "position", '"abc" is not a number'),
        ({"position": "1e999"}, "position", "is not a number"),
        ({"position": "-1"}, "position", "less than minimum value 0"),
    ],
)
def test_hostile_zone_input_is_refused_with_a_reason(staff_app, dbsession, fields, field, message):
    form = {"name": "Zone", "countries": ["NO"], "regions": "", "position": "0", **fields}
    form["csrf_token"] = csrf_token(staff_app)
    page = staff_app.post("/admin/shipping/zones/new", form, status=400)
    assert message in field_errors(page)[field]
    assert "Nothing was saved" in page.text
    assert "<script>alert" not in page.text and "<b>." not in page.text, "escaped"
    assert dbsession.scalar(select(ShippingZone.id)) is None


def method_form(token, **fields) -> dict:
    return {
        "csrf_token": token,
        "name": "Post",
        "code": "post",
        "rate_type": "flat",
        "price": "5",
        "free_over": "",
        "estimate": "",
        "position": "0",
        "tier_up_to": [""],
        "tier_price": [""],
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"price": "-1"}, "price", "The amount must be 0 or more."),
        ({"price": "abc"}, "price", "Write an amount in EUR, like 4.90."),
        ({"price": "1e999"}, "price", "Write an amount in EUR"),
        ({"price": "NaN"}, "price", "Write an amount in EUR"),
        ({"price": "4.905"}, "price", "EUR amounts have at most 2 decimals."),
        ({"price": "9" * 14}, "price", "far too large"),
        ({"price": ""}, "price", "Write an amount in EUR"),
        ({"free_over": "-5"}, "free_over", "The amount must be 0 or more."),
        ({"rate_type": "free"}, "rate_type", "Choose one of the rate types."),
        ({"code": "Post Office!"}, "code", "Use lowercase letters, digits"),
        ({"code": "x" * 65}, "code", "Use lowercase letters, digits"),
        ({"name": "<img src=x onerror=alert(1)>"}, "name", "Please leave out < and >"),
        ({"estimate": "1\n2"}, "estimate", "Please remove line breaks"),
        (
            {"rate_type": "weight", "tier_up_to": [""], "tier_price": [""]},
            "tiers",
            "Give at least one tier",
        ),
        (
            {"rate_type": "weight", "tier_up_to": ["2", "1"], "tier_price": ["5", "6"]},
            "tiers",
            "Tier 2: Each tier must go higher than the one before.",
        ),
        (
            {"rate_type": "weight", "tier_up_to": ["", "1"], "tier_price": ["5", "6"]},
            "tiers",
            "Tier 1: Only the last tier may leave “up to” empty",
        ),
        (
            {"rate_type": "weight", "tier_up_to": ["-2"], "tier_price": ["5"]},
            "tiers",
            "Tier 1: Write a weight in kg",
        ),
        (
            {"rate_type": "weight", "tier_up_to": ["2"], "tier_price": ["-5"]},
            "tiers",
            "Tier 1: The amount must be 0 or more.",
        ),
        (
            {"rate_type": "value", "tier_up_to": ["abc"], "tier_price": ["5"]},
            "tiers",
            "Tier 1: Write an amount in EUR",
        ),
        (
            {"rate_type": "weight", "tier_up_to": ["2"], "tier_price": [""]},
            "tiers",
            "Tier 1: Give the tier a price.",
        ),
        (
            {"rate_type": "weight", "tier_up_to": ["1", "2"], "tier_price": ["5"]},
            "tiers",
            "please reload the form",
        ),
        (
            {
                "rate_type": "weight",
                "tier_up_to": [str(n) for n in range(1, 10_001)],
                "tier_price": ["5"] * 10_000,
            },
            "tiers",
            "A method may have at most 20 tiers.",
        ),
    ],
)
def test_hostile_method_input_is_refused_with_a_reason(
    staff_app, dbsession, fields, field, message
):
    zone = add_zone(dbsession, "Norway", countries=["NO"])
    form = method_form(csrf_token(staff_app), **fields)
    page = staff_app.post(f"/admin/shipping/zones/{zone.id}/methods/new", form, status=400)
    assert message in field_errors(page)[field]
    assert "<img src=x" not in page.text, "escaped"
    assert method_coded(dbsession, "post") is None


def test_a_code_another_method_uses_is_refused(staff_app, demo_zones, dbsession):
    zone = add_zone(dbsession, "Norway", countries=["NO"])
    form = method_form(csrf_token(staff_app), code="DE-Standard")
    page = staff_app.post(f"/admin/shipping/zones/{zone.id}/methods/new", form, status=400)
    assert field_errors(page)["code"] == "Another method already uses the code de-standard."
    assert method_coded(dbsession, "de-standard").zone.name == "Germany"
    # A method keeps its own code when saved again.
    express = method_coded(dbsession, "de-express")
    form = staff_app.get(f"/admin/shipping/methods/{express.id}").forms["method-form"]
    form["name"] = "Express delivery"
    form.submit(status=303)
    assert method_coded(dbsession, "de-express").name == "Express delivery"


def test_unknown_and_absurd_ids_are_not_found(staff_app):
    staff_app.get("/admin/shipping/zones/42", status=404)
    staff_app.get("/admin/shipping/methods/42", status=404)
    staff_app.get("/admin/shipping/zones/99999999999999999999", status=404)
    staff_app.get("/admin/shipping/zones/42/methods/new", status=404)
    token = csrf_token(staff_app)
    staff_app.post("/admin/shipping/methods/42/delete", {"csrf_token": token}, status=404)


def test_a_form_without_its_csrf_token_changes_nothing(staff_app, dbsession):
    staff_app.post("/admin/shipping/zones/new", {"name": "Z", "countries": ["NO"]}, status=400)
    assert dbsession.scalar(select(ShippingZone.id)) is None


def test_changes_show_in_the_audit_log(staff_app, dbsession):
    form = staff_app.get("/admin/shipping/zones/new").forms["zone-form"]
    form["name"] = "Nordics"
    form["countries"] = ["NO", "IS"]
    form.submit(status=303)
    assert "shipping_admin_zone_new" in staff_app.get("/admin/audit").text


def test_the_dashboard_warns_when_the_shop_ships_nowhere(staff_app, dbsession):
    panel = staff_app.get("/admin").html.find(id="shipping-panel").parent
    assert "Nobody can check out" in panel.text
    assert panel.find("a", string="Add a zone")["href"] == "/admin/shipping/zones/new"
    zone = add_zone(dbsession, "Switzerland", countries=["CH", "LI"])
    assert "Nobody can check out" in staff_app.get("/admin").text  # a zone with no method
    add_zone(
        dbsession,
        "Austria",
        countries=["AT"],
        regions=["IT-32"],
        methods=[{"code": "at", "name": "Post", "rate_type": "flat", "price": 500}],
    )
    panel = staff_app.get("/admin").html.find(id="shipping-panel").parent
    assert "Nobody can check out" not in panel.text
    assert "1 zone ships to 1 country and 1 region." in panel.text
    assert zone.name not in panel.text
