"""A real browser on the admin: Debian's Chromium through Playwright, the app served by
waitress on a loopback port. Staff log in, refund part of an order, and the dashboard
is saved as a screenshot under test-artifacts/ (laptop and phone widths).

Chromium must start: a machine without it fails this test (``.ci/run`` installs it),
it is never skipped.
"""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import update
from waitress import create_server

from mercato.orders import models as m

from .conftest import order

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def served(shop):
    """The shop's WSGI app under waitress, in a thread: its base URL."""
    server = create_server(shop.app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    server.task_dispatcher.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            pytest.fail(
                f"Chromium did not start from {CHROMIUM} ({str(exc).splitlines()[0]}): "
                "install Debian's package (apt-get install -y chromium), as .ci/run does"
            )
        yield chromium
        chromium.close()


def spread_over_days(db_engine, numbers: list[str]) -> None:
    """Move orders into the past, one per day, so the revenue chart has bars."""
    now = datetime.now(UTC)
    with db_engine.begin() as conn:
        for days_ago, number in enumerate(numbers):
            conn.execute(
                update(m.Order)
                .where(m.Order.number == number)
                .values(created_at=now - timedelta(days=days_ago * 3))
            )


def test_staff_refund_an_order_in_chromium_and_the_dashboard_is_saved(
    browser, served, checkout, products, staff_user, db_engine, dbsession
):
    products("MUG-BLUE", price=1250, stock=40, name="Blue mug")
    products("TEAPOT", price=3450, stock=3, name="Enamel teapot")
    products("TOWEL", price=899, stock=0, name="Tea towel")
    shopper = checkout()
    numbers = [shopper.buy("MUG-BLUE", 2)]
    numbers += [shopper.buy(sku, q) for sku, q in [("TEAPOT", 1), ("MUG-BLUE", 3), ("TEAPOT", 1)]]
    numbers += [shopper.buy("MUG-BLUE", 1) for _ in range(4)]
    spread_over_days(db_engine, numbers[1:])
    refunded = numbers[0]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{served}/login?next=/admin")
    page.get_by_label("Email").fill(staff_user.email)
    page.get_by_label("Password").fill(staff_user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Orders").click()
    page.get_by_role("link", name=refunded).click()
    refund = page.locator("#refund-form")
    refund.get_by_label("Amount (EUR)").fill("5.00")
    refund.get_by_label("Reason (optional)").fill("chipped handle")
    refund.get_by_role("button", name="Refund").click()

    expect(page.get_by_role("status")).to_contain_text(f"€5.00 refunded for order {refunded}.")
    expect(page.locator(".timeline")).to_contain_text("chipped handle")
    refunded_order = order(dbsession, refunded)
    assert (refunded_order.status, refunded_order.amount_refunded) == (m.PARTIALLY_REFUNDED, 500)

    page.goto(f"{served}/admin")
    expect(page.get_by_role("heading", name="Low stock")).to_be_visible()
    expect(page.locator(".bar-chart .bar")).to_have_count(30)
    ARTIFACTS.mkdir(exist_ok=True)
    laptop = ARTIFACTS / "admin-dashboard.png"
    page.screenshot(path=str(laptop), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    phone = ARTIFACTS / "admin-dashboard-phone.png"
    page.screenshot(path=str(phone), full_page=True)
    assert laptop.stat().st_size > 10_000 and phone.stat().st_size > 10_000
