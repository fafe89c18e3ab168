"""Maps at province scale in a real browser: 50,000 sites on the embedded SQLite default.

The demand and bundle maps get the sites clustered per viewport (matchmaker.mapgrid), so the
first markers come at once however many sites there are. The time to the first markers is
measured and printed (benchmarks compare times; tests do not assert them); the test fails on a
script error (the ``page`` fixture), on a map without markers, and when the clusters do not
add up to every site with demand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from playwright.sync_api import expect
from werkzeug.serving import make_server

from matchmaker import create_app
from matchmaker.database import write_intent
from matchmaker.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo
from matchmaker.demo_province import TARGETS, load_province
from matchmaker.extensions import db

from .conftest import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def province_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("e2e-province")
    database_url = f"sqlite:///{instance / 'province.sqlite3'}"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance),
        "DEMO_MODE": True, "RATELIMIT_ENABLED": False,
        "PASSWORD_TIME_COST": 1, "PASSWORD_MEMORY_COST_KIB": 64,
    })
    with app.app_context(), write_intent():
        upgrade(revision="heads")
        load_demo()
        load_province(targets={"sites": TARGETS["sites"]})
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", database_url)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def province_page(browser, province_server) -> Iterator[object]:
    context = browser.new_context(base_url=province_server.url, locale="nl-NL")
    context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def login(page, email):
    page.goto("/login")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()


def sites_with_demand(server: LiveServer, product: str | None = None) -> int:
    engine = sa.create_engine(server.database_url)
    with engine.connect() as conn:
        query = ("SELECT count(DISTINCT d.site_id) FROM demands d JOIN products p "
                 "ON p.id = d.product_id WHERE d.stage != 'withdrawn'")
        if product:
            query += f" AND p.code = '{product}'"
        count = conn.execute(sa.text(query)).scalar_one()
    engine.dispose()
    return int(count)


def first_markers(page, selector: str, url: str) -> float:
    """Open ``url`` and wait for the map's first markers; returns the seconds it took."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(f"{selector}[data-sites-loaded]", timeout=60_000)
    expect(page.locator(f"{selector} .map-cluster, {selector} path.leaflet-interactive")
           .first).to_be_visible()
    return time.perf_counter() - started


def test_the_demand_map_carries_the_province(province_page, province_server, capsys):
    page = province_page
    total = sites_with_demand(province_server)
    assert total > 40_000
    login(page, DEMO_ACCOUNTS["coordinator"])
    seconds = first_markers(page, "#demand-map", "/coordinator/demand")
    # The map opens on all the data: its clusters stand for every site with demand.
    assert int(page.locator("#demand-map").get_attribute("data-sites-loaded")) == total
    assert int(page.locator("#demand-map").get_attribute("data-features-loaded")) < 1000
    with capsys.disabled():
        print(f"\n  demand map, {total:,} sites: first markers after {seconds:.2f} s")

    # Zoomed in on one park: single sites, and a click shows the company.
    page.evaluate("() => window.scrollTo(0, 0)")
    cluster = page.locator("#demand-map .map-cluster").first
    for _ in range(6):
        if not page.locator("#demand-map .map-cluster").count():
            break
        before = page.locator("#demand-map").get_attribute("data-features-loaded")
        cluster.click()
        page.wait_for_function(
            "b => document.querySelector('#demand-map').dataset.featuresLoaded !== b", arg=before,
            timeout=30_000)
        cluster = page.locator("#demand-map .map-cluster").first
    site = page.locator("#demand-map path.leaflet-interactive").first
    site.click(force=True)
    expect(page.locator(".leaflet-popup-content strong")).to_be_visible(timeout=30_000)


def test_the_bundle_map_draws_hulls_and_clusters(province_page, province_server, capsys):
    page = province_page
    login(page, DEMO_ACCOUNTS["coordinator"])
    started = time.perf_counter()
    page.goto("/coordinator/bundles?product=solar_roof")
    page.wait_for_selector("#bundle-map[data-sites-loaded]", timeout=120_000)
    page.wait_for_selector("#bundle-map[data-features-loaded]", timeout=120_000)
    seconds = time.perf_counter() - started
    assert int(page.locator("#bundle-map").get_attribute("data-features-loaded")) > 0
    assert page.locator("#bundle-map .map-cluster").count() > 0
    with capsys.disabled():
        print(f"\n  bundle map, {sites_with_demand(province_server, 'solar_roof'):,} solar "
              f"sites: hulls and first markers after {seconds:.2f} s")
