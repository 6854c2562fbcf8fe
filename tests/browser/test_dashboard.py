"""The staff dashboard in a real headless Chromium (Debian's chromium and chromium-driver, which .ci/run
installs): a live server on a database of its own, a staff member signs in through the page, and the
figures the page shows equal the API's. Skipped, saying so, only when no browser is installed."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from werkzeug.serving import make_server

from app import clock
from app.extensions import db

from .. import factories
from ..concurrency.conftest import _empty_every_table
from ..conftest import migrated_app
from . import webdriver

BROWSER = webdriver.installed()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium and chromedriver installed (apt install "
                                "chromium chromium-driver): the dashboard's browser test cannot run")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with migrated_app(tmp_path_factory, "ps_browser") as app:
        http = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{http.server_port}"
        finally:
            http.shutdown()
            with app.app_context():
                _empty_every_table()
                db.session.remove()


@pytest.fixture()
def browser():
    driver = webdriver.Browser(*BROWSER)
    try:
        yield driver
    finally:
        driver.quit()


def _network(app):
    """A few deals over three months at two outlets, so the page has figures and bars to show."""
    with app.app_context():
        world = factories.World.build()
        today = clock.today()
        for index, (months_ago, amount) in enumerate(((2, 1_250_000_00), (1, 380_000_00), (0, 96_000_00))):
            patent = factories.patent(world.uni.org if index % 2 == 0 else world.other_uni.org)
            listing = factories.listing(patent, "listed", outlet_codes=["baoshan" if index % 2 == 0 else "wuxi"])
            factories.deal([patent.id], patent.owner, world.enterprise.org, listing_id=listing.id, amount_fen=amount,
                           signed_on=max(date(today.year, 1, 1), today - timedelta(days=30 * months_ago)))
        db.session.commit()
        return world.staff.user.email, world.staff.headers


def test_staff_sign_in_and_see_the_apis_figures(server, browser, tmp_path):
    app, base = server
    email, headers = _network(app)
    with app.test_client() as client:
        overview = client.get("/api/v1/stats/overview", headers=headers).get_json()
    browser.get(base + "/dashboard")
    browser.type("#email", email)
    browser.type("#password", factories.PASSWORD)
    browser.click("#signin")
    shown = browser.wait_for("""
        const cells = document.querySelectorAll('[data-figure]');
        if (!cells.length) return null;
        return Object.fromEntries([...cells].map(c => [c.dataset.figure, c.textContent]));
    """)
    totals = overview["totals"]
    assert shown["deals"] == str(totals["deals"]) == "3"
    assert shown["amount"].replace(",", "") == f"{totals['amount_fen'] / 100:.2f}"
    assert shown["patents_converted"] == str(totals["patents_converted"])
    assert shown["patents_on_offer"] == str(totals["patents_on_offer"])
    bars = browser.run("""return [...document.querySelectorAll('#chart-deals rect')]
                          .map(r => [r.dataset.month, Number(r.dataset.value)]);""")
    assert bars == [[row["month"], row["deals"]] for row in overview["by_month"]]
    outlets = browser.run("""return [...document.querySelectorAll('#outlets tr[data-kind]')]
                             .map(r => [...r.cells].map(c => c.textContent));""")
    assert [row[0] for row in outlets] == [row["name"] for row in overview["by_outlet"]]
    assert [row[2] for row in outlets] == [str(row["deals"]) for row in overview["by_outlet"]]
    universities = browser.run("""return [...document.querySelectorAll('#universities tr[data-kind]')]
                                  .map(r => r.cells[0].textContent);""")
    assert universities == [row["name"] for row in overview["by_university"]]
    assert browser.run("return document.querySelectorAll('#exports button').length") == 8
    # A filter the API refuses shows its message instead of figures.
    browser.run("document.getElementById('from').value = '2026-12-31';"
                "document.getElementById('to').value = '2026-01-01';")
    browser.click("#filters button[type=submit]")
    assert "after" in browser.wait_for("return document.getElementById('board-error').textContent")
    screenshot = tmp_path / "dashboard.png"
    browser.screenshot(screenshot)
    assert screenshot.stat().st_size > 10_000


def test_the_page_refuses_a_wrong_password(server, browser):
    app, base = server
    with app.app_context():
        staff = factories.user("staff", factories.organization("看板交易中心", "exchange"))
        email = staff.email
    browser.get(base + "/dashboard")
    browser.type("#email", email)
    browser.type("#password", "not-the-password")
    browser.click("#signin")
    assert browser.wait_for("return document.getElementById('login-error').textContent")
    assert browser.run("return document.getElementById('board').classList.contains('hidden')")
