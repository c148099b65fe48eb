"""The API reference page (``/api/docs``) in Debian's Chromium: Swagger UI from the
shop's own files renders every operation of the document under the shop's Content
Security Policy, with no script error, failed load or CSP violation."""


def test_the_reference_page_shows_every_operation_from_local_files(sample_shop, page):
    loaded = []
    page.on("request", lambda request: loaded.append(request.url))
    page.set_viewport_size({"width": 1280, "height": 900})
    response = page.goto(f"{sample_shop}/api/docs")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    page.wait_for_selector(".opblock", timeout=15000)
    document = page.request.get(f"{sample_shop}/api/openapi.json").json()
    operations = sum(
        1 for item in document["paths"].values() for method in item if method in ("get", "post")
    )
    shown = page.locator(".opblock-get, .opblock-post").count()
    assert shown == operations
    assert page.get_by_text("/api/checkout/orders", exact=True).count() == 1
    assert all(url.startswith(sample_shop) for url in loaded), "no file from another origin"
