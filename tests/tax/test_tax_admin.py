"""The rates' staff pages: who may see and change them, the form, the CSV import and
export, and hostile input (always a 4xx with a message, never a 500, nothing written)."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from mercato.testing import login
from mercato_tax.models import TaxRate


@pytest.fixture
def admin_app(app, admin_user):
    login(app, admin_user.email)
    return app


def rate_of(session, country, region="", tax_class="standard"):
    session.expire_all()
    return session.scalar(
        select(TaxRate).filter_by(country=country, region=region, tax_class=tax_class)
    )


def count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(TaxRate))


def test_a_guest_is_sent_to_log_in_and_a_customer_refused(app, customer_user):
    assert "/login" in app.get("/admin/tax", status=303).location
    login(app, customer_user.email)
    app.get("/admin/tax", status=403)
    app.get("/admin/tax/export", status=403)
    app.get("/admin/tax/rates/new", status=403)


def test_staff_read_the_rates_but_cannot_change_them(app, staff_user, sample_rates, dbsession):
    login(app, staff_user.email)
    page = app.get("/admin/tax?country=de")
    assert page.html.find(id="rates") is not None
    assert [td.text for td in page.html.select("#rates tbody tr td.num")] == ["7%", "19%"]
    assert "Tax rates" in [a.text for a in page.html.select(".admin-nav a")]
    assert page.html.find("a", string="New rate") is None
    rate = rate_of(dbsession, "DE")
    app.get("/admin/tax/rates/new", status=403)
    app.get(f"/admin/tax/rates/{rate.id}/edit", status=403)
    token = app.get("/api/session/csrf").json["csrf_token"]
    app.post(f"/admin/tax/rates/{rate.id}/delete", {"csrf_token": token}, status=403)
    app.post("/admin/tax/import", {"csrf_token": token}, status=403)
    assert rate_of(dbsession, "DE") is not None


def test_the_list_groups_rates_by_country_and_shows_the_settings(admin_app, sample_rates):
    page = admin_app.get("/admin/tax")
    assert f"{sample_rates} rates" in page.text
    assert "Prices are entered including tax" in page.html.find(id="tax-settings").text
    assert "Germany" in page.html.find(id="tax-settings").text
    us = admin_app.get("/admin/tax?country=US")
    assert "Sales tax NY" in us.text and "6.875%" in us.text  # Minnesota
    assert "VAT" not in us.html.find(id="rates").text


def test_an_unknown_country_filter_is_a_400(admin_app):
    page = admin_app.get("/admin/tax?country=" + "X" * 200, status=400)
    assert "There is no such country" in page.text


def test_an_admin_adds_edits_and_deletes_a_rate(admin_app, dbsession):
    form = admin_app.get("/admin/tax/rates/new").forms["rate-form"]
    form["country"] = "CH"
    form["tax_class"] = "standard"
    form["rate"] = "8.1"
    form["name"] = "MWST"
    response = form.submit(status=303)
    assert response.location.endswith("/admin/tax?country=CH")
    assert "Rate for Switzerland, standard saved: 8.1%." in response.follow().text
    rate = rate_of(dbsession, "CH")
    assert (rate.rate, rate.name) == (Decimal("0.081"), "MWST")

    form = admin_app.get(f"/admin/tax/rates/{rate.id}/edit").forms["rate-form"]
    assert form["rate"].value == "8.1"
    form["rate"] = "7,7 %"  # a comma and a percent sign are fine
    form["tax_class"] = "Reduced"
    form.submit(status=303)
    assert rate_of(dbsession, "CH") is None
    assert rate_of(dbsession, "CH", tax_class="reduced").rate == Decimal("0.077")

    page = admin_app.get("/admin/tax?country=CH")
    delete = next(f for f in page.forms.values() if "/delete" in f.action)
    assert "deleted" in delete.submit(status=303).follow().text
    assert count(dbsession) == 0


def test_a_region_is_checked_against_the_country(admin_app, dbsession):
    form = admin_app.get("/admin/tax/rates/new").forms["rate-form"]
    form["country"] = "US"
    form["region"] = "us-wa"
    form["rate"] = "6.5"
    form["name"] = "Sales tax WA"
    form.submit(status=303)
    assert rate_of(dbsession, "US", "WA").name == "Sales tax WA"
    form["region"] = "ZZ"
    page = form.submit(status=400)
    assert "ZZ is not a region of US" in page.html.find(id="region-error").text


def test_a_second_rate_for_the_same_place_and_class_is_refused(admin_app, sample_rates, dbsession):
    form = admin_app.get("/admin/tax/rates/new").forms["rate-form"]
    form["country"] = "DE"
    form["rate"] = "16"
    form["name"] = "VAT"
    page = form.submit(status=400)
    assert "Germany, standard already has a rate" in page.html.find(id="tax_class-error").text
    reduced = rate_of(dbsession, "DE", tax_class="reduced")
    form = admin_app.get(f"/admin/tax/rates/{reduced.id}/edit").forms["rate-form"]
    form["tax_class"] = "standard"
    assert form.submit(status=400).html.find(id="tax_class-error") is not None
    assert rate_of(dbsession, "DE").rate == Decimal("0.19")
    assert rate_of(dbsession, "DE", tax_class="reduced").rate == Decimal("0.07")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", "abc", "Write the rate in percent"),
        ("rate", "-5", "A rate cannot be negative."),
        ("rate", "1e999", "Write the rate in percent"),
        ("rate", "101", "between 0 and 100 percent"),
        ("rate", "5.123456", "Write the rate in percent"),
        ("rate", "", "Enter the rate in percent"),
        ("country", "D" * 200, "Choose a country from the list"),
        ("country", "XX", "Choose a country from the list"),
        ("region", "<b>NY</b>" * 30, "is not a region of DE"),
        ("tax_class", "Standard rate!", "lowercase letters, digits"),
        ("tax_class", "x" * 33, "lowercase letters, digits"),
        ("name", "<script>alert(1)</script>", "Use plain text, without < or >."),
        ("name", "=HYPERLINK(1)", "Start the name with a letter or a digit."),
        ("name", "VAT\r\nX", "remove line breaks"),
        ("name", "V" * 101, "Longer than maximum length 100"),
    ],
)
def test_hostile_input_is_a_400_with_a_message(admin_app, dbsession, field, value, message):
    token = admin_app.get("/api/session/csrf").json["csrf_token"]
    data = {"country": "DE", "region": "", "tax_class": "standard", "rate": "19", "name": "VAT"}
    data[field] = value
    page = admin_app.post("/admin/tax/rates/new", {**data, "csrf_token": token}, status=400)
    assert message in page.html.find(id=f"{field}-error").text
    assert "<script>" not in page.text
    assert count(dbsession) == 0


def test_odd_posts_are_400s_not_500s(admin_app, dbsession):
    token = admin_app.get("/api/session/csrf").json["csrf_token"]
    page = admin_app.post(
        "/admin/tax/rates/new",
        [("csrf_token", token), ("country", "DE"), ("rate", "19"), ("rate", "x"), ("name", "VAT")],
        status=400,
    )
    assert page.html.find(id="rate-error") is not None
    admin_app.post(
        "/admin/tax/rates/new",
        {"csrf_token": token, "country": "FR", "name": "VAT"},
        upload_files=[("rate", "rate.txt", b"20")],
        status=400,
    )
    page = admin_app.post("/admin/tax/import", {"csrf_token": token, "file": "text"}, status=400)
    assert "Choose a CSV file to import." in page.html.find(id="import-errors").text
    assert count(dbsession) == 0


def test_unknown_rate_ids_are_404(admin_app):
    admin_app.get("/admin/tax/rates/999999/edit", status=404)
    admin_app.get("/admin/tax/rates/abc/edit", status=404)
    admin_app.get("/admin/tax/rates/" + "9" * 50 + "/edit", status=404)


# -- CSV ---------------------------------------------------------------------------

GOOD = (
    "country,region,tax_class,rate,name\n"
    "DE,,standard,19,VAT\n"
    "DE,,reduced,7,VAT\n"
    "US,NY,standard,4.5,Sales tax NY\n"
    "CH,,standard,8.1 %,MWST\n"
)


def upload(testapp, text, *, check_only=False, status=303, filename="rates.csv"):
    form = testapp.get("/admin/tax/import").forms["import-form"]
    form["check_only"] = check_only
    data = text.encode("utf-8") if isinstance(text, str) else text
    form["file"] = (filename, data, "text/csv")
    return form.submit(status=status)


def test_a_good_file_adds_and_updates_rates(admin_app, sample_rates, dbsession):
    response = upload(admin_app, GOOD)
    assert "1 rates added, 1 changed, 2 already so" in response.follow().text
    assert rate_of(dbsession, "US", "NY").rate == Decimal("0.045")
    assert rate_of(dbsession, "CH").name == "MWST"
    assert count(dbsession) == sample_rates + 1


def test_check_only_shows_the_changes_and_writes_nothing(admin_app, sample_rates, dbsession):
    page = upload(admin_app, GOOD, check_only=True, status=200)
    outcomes = [row.select("td")[-1].text for row in page.html.select("#import-check tbody tr")]
    assert outcomes == ["unchanged", "unchanged", "updated", "created"]
    assert rate_of(dbsession, "US", "NY").rate == Decimal("0.04")
    assert count(dbsession) == sample_rates


def test_a_file_with_a_bad_row_imports_nothing_and_names_each_bad_line(admin_app, dbsession):
    text = GOOD + "FR,,standard,abc,VAT\nXX,,standard,5,Tax\nDE,,standard,16,VAT\n"
    page = upload(admin_app, text, status=400)
    problems = [li.text for li in page.html.select("#import-errors li")]
    assert problems == [
        "Line 6: rate: Write the rate in percent, such as 19 or 5.5.",
        "Line 7: country: Choose a country from the list (an ISO code such as DE).",
        "Line 8: the same country, region and class as line 2.",
    ]
    assert count(dbsession) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"  \n", "The file is empty."),
        (b"country,rate\nDE,19\n", "missing: name"),
        (b"country,rate,name,vat\nDE,19,VAT,x\n", "Unknown column 'vat'"),
        (b"country,rate,rate,name\nDE,19,19,VAT\n", "names a column twice"),
        (b"country,rate,name\n", "The file has no rates"),
        (b"country,rate,name\nDE,19,VAT,extra\n", "more cells than the first line"),
        (b"country,rate,name\nDE,19,Mehrwertsteuer \xff\n", "Line 2: This line is not UTF-8"),
        (b"PK\x03\x04 a workbook", "spreadsheet workbook"),
        (b'country,rate,name\nDE,19,"' + b"x" * 200_000 + b'"\n', "not valid CSV"),
    ],
)
def test_a_bad_file_is_a_400_that_says_why(admin_app, dbsession, data, message):
    page = upload(admin_app, data, status=400)
    assert message in page.html.find(id="import-errors").text
    assert count(dbsession) == 0


def test_a_file_over_the_limit_is_a_413(admin_app):
    page = upload(admin_app, b"country,rate,name\n" + b"DE,19,VAT\n" * 120_000, status=413)
    assert "larger than 1 MB" in page.text


def test_the_export_imports_back_unchanged(admin_app, sample_rates, dbsession):
    export = admin_app.get("/admin/tax/export")
    assert export.content_type == "text/csv"
    assert export.text.splitlines()[0] == "country,region,tax_class,rate,name"
    assert "US,NY,standard,4,Sales tax NY" in export.text.splitlines()
    page = upload(admin_app, export.body, check_only=True, status=200)
    outcomes = {row.select("td")[-1].text for row in page.html.select("#import-check tbody tr")}
    assert outcomes == {"unchanged"}
    assert len(page.html.select("#import-check tbody tr")) == sample_rates
