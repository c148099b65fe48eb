"""The admin's API key pages: only admins, CSRF on every form, bad input a 400 with
the reason next to the field and nothing saved."""

from sqlalchemy import text

from .conftest import make_key


def key_count(dbsession) -> int:
    return dbsession.execute(text("SELECT count(*) FROM api_keys")).scalar_one()


def test_the_list_shows_each_key_with_prefix_scopes_and_dates(shop, admin, staff_user, dbsession):
    make_key(admin, staff_user.id, scopes=("orders:read", "catalog:read"), name="Warehouse")
    page = admin.app.get("/admin/api-keys")
    row = page.html.find("tbody").find("tr")
    cells = [cell.get_text(" ", strip=True) for cell in row.find_all("td")]
    prefix = dbsession.execute(text("SELECT prefix FROM api_keys")).scalar_one()
    assert cells[:4] == ["Warehouse", f"{prefix}…", staff_user.email, "catalog:read, orders:read"]
    assert cells[5] == "never"
    assert "no-store" in page.headers["Cache-Control"]
    assert 'href="/admin/api-keys"' in admin.app.get("/admin").text  # in the admin's menu


def test_only_admins_manage_keys(shop, staff_user, customer_user, dbsession):
    for user in (staff_user, customer_user):
        browser = shop.browser()
        browser.log_in(user.email, user.password)
        browser.app.get("/admin/api-keys", status=403)
        fields = {
            "csrf_token": browser.token,
            "name": "x",
            "owner": str(user.id),
            "scope": "orders:read",
        }
        browser.app.post("/admin/api-keys", fields, status=403)
    assert key_count(dbsession) == 0


def test_forms_without_the_csrf_token_are_refused(shop, admin, admin_user, dbsession):
    fields = {"name": "ERP", "owner": str(admin_user.id), "scope": "orders:read"}
    admin.app.post("/admin/api-keys", fields, status=400)
    assert key_count(dbsession) == 0
    make_key(admin, admin_user.id)
    key_id = dbsession.execute(text("SELECT id FROM api_keys")).scalar_one()
    admin.app.post(f"/admin/api-keys/{key_id}/revoke", {}, status=400)
    assert dbsession.execute(text("SELECT revoked_at FROM api_keys")).scalar_one() is None


def test_bad_input_is_a_400_with_the_reason_and_makes_no_key(
    shop, admin, admin_user, customer_user, dbsession
):
    good = {"name": "ERP", "owner": str(admin_user.id), "scope": ["orders:read"]}
    cases = [
        ({"name": "  "}, "key-name-error", "Give the key a name"),
        ({"name": "x" * 101}, "key-name-error", "at most 100"),
        ({"name": "bad\x07name"}, "key-name-error", "plain characters"),
        ({"owner": str(customer_user.id)}, "key-owner-error", "staff member or admin"),
        ({"owner": "99999999999"}, "key-owner-error", "staff member or admin"),
        ({"owner": "abc"}, "key-owner-error", "staff member or admin"),
        ({"scope": []}, "key-scope-error", "at least one scope"),
        ({"scope": ["orders:read", "everything"]}, "key-scope-error", "from the list"),
    ]
    for change, error_id, words in cases:
        values = {**good, **change}
        fields = [("csrf_token", admin.token), ("name", values["name"]), ("owner", values["owner"])]
        fields += [("scope", scope) for scope in values["scope"]]
        page = admin.app.post("/admin/api-keys", fields, status=400)
        assert words in page.html.find(id=error_id).text, change
    assert key_count(dbsession) == 0


def test_revoking_an_unknown_key_is_a_404(shop, admin):
    admin.app.post("/admin/api-keys/123/revoke", {"csrf_token": admin.token}, status=404)
    admin.app.post("/admin/api-keys/1234567890/revoke", {"csrf_token": admin.token}, status=404)
