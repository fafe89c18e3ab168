"""Maps at province scale in a real browser: 50,000 sites on the embedded SQLite default.

The demand and bundle maps get the sites clustered per viewport (matchmaker.mapgrid), so the
first markers come at once however many sites there are. The time to the first markers is
measured and printed (benchmarks compare times; tests do not assert them); the test fails on a
script error (the ``page`` fixture), on a map without markers, and when the clusters do not
add up to every site with demand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from matchmaker.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from matchmaker.demo_province import TARGETS, load_province

from .conftest import LiveServer, demo_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def province_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with demo_server(tmp_path_factory.mktemp("e2e-province"), "province.sqlite3",
                     lambda: load_province(targets={"sites": TARGETS["sites"]})) as server:
        yield server


@pytest.fixture
def province_page(browser, province_server) -> Iterator[object]:
    context = browser.new_context(base_url=province_server.url, locale="nl-NL")
    context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.script_errors = errors  # first_markers fails at once on one
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


def first_markers(page, selector: str, url: str, *, timeout_s: float = 60) -> float:
    """Open ``url`` and wait for the map's first markers (clusters or sites drawn in the map);
    returns the seconds from the request of the page to the first marker on screen. Fails at
    once on a script error (a failed data request is one too) instead of waiting for markers
    that will never come."""
    # A cluster of sites, or a lone site (the class the map scripts give them).
    markers = page.locator(f"{selector} .map-cluster, {selector} .map-site")
    started = time.perf_counter()
    page.goto(url)
    while True:
        assert not page.script_errors, f"JavaScript errors on {url}: {page.script_errors}"
        if markers.count() and markers.first.is_visible():
            seconds = time.perf_counter() - started
            break
        assert time.perf_counter() - started < timeout_s, f"no markers on {url} after {timeout_s} s"
        page.wait_for_timeout(50)
    page.wait_for_selector(f"{selector}[data-sites-loaded]", timeout=10_000)
    return seconds


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
    site = page.locator("#demand-map .map-site").first
    site.click(force=True)
    popup = page.locator(".leaflet-popup-content strong")
    expect(popup).to_be_visible(timeout=30_000)
    # The details stay open while the map moves and its sites are drawn again. The popup's own
    # pan may still be reloading the sites: let it settle, mark what is drawn, pan, and wait until
    # the pan's answer has replaced every marked site.
    page.wait_for_load_state("networkidle")
    page.evaluate("() => document.querySelectorAll('#demand-map .map-site')"
                  ".forEach(e => { e.dataset.before = '1'; })")
    with page.expect_response(lambda r: "bbox=" in r.url, timeout=30_000):
        page.locator("#demand-map").press("ArrowLeft")
    page.wait_for_function("() => !document.querySelector('#demand-map [data-before]')",
                           timeout=30_000)
    expect(popup).to_be_visible()


def test_the_bundle_map_draws_hulls_and_clusters(province_page, province_server, capsys):
    page = province_page
    login(page, DEMO_ACCOUNTS["coordinator"])
    seconds = first_markers(page, "#bundle-map", "/coordinator/bundles?product=solar_roof",
                            timeout_s=120)
    page.wait_for_selector("#bundle-map[data-features-loaded]", timeout=120_000)
    assert int(page.locator("#bundle-map").get_attribute("data-features-loaded")) > 0
    assert page.locator("#bundle-map .map-cluster").count() > 0
    with capsys.disabled():
        print(f"\n  bundle map, {sites_with_demand(province_server, 'solar_roof'):,} solar "
              f"sites: first markers after {seconds:.2f} s")


def test_a_script_error_fails_the_measurement(province_page, province_server):
    """The measurement is only worth something if a broken map fails it: here the clusters'
    data request fails, and the test says so at once instead of timing out."""
    page = province_page
    login(page, DEMO_ACCOUNTS["coordinator"])
    page.route("**/coordinator/demand/map.json*",
               lambda route: route.fulfill(status=500, body="broken"))
    started = time.perf_counter()
    with pytest.raises(AssertionError, match="JavaScript errors.*HTTP 500"):
        first_markers(page, "#demand-map", "/coordinator/demand")
    assert time.perf_counter() - started < 30
    page.script_errors.clear()  # expected here
