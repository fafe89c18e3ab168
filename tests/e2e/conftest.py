"""End-to-end tests: the real app over real HTTP in a real browser (Debian's Chromium).

The app runs in a background thread on a free port with its own SQLite file, migrated and
loaded with the demo data, in demo mode. Map tiles are blocked (no internet needed).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from matchmaker import create_app
from matchmaker.database import write_intent
from matchmaker.demo import load_demo
from matchmaker.extensions import db

CHROMIUM = os.environ.get("MATCHMAKER_CHROMIUM", "/usr/bin/chromium")


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{instance / 'e2e.sqlite3'}"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance), "DEMO_MODE": True, "RATELIMIT_ENABLED": False,
        "PASSWORD_TIME_COST": 1, "PASSWORD_MEMORY_COST_KIB": 64,
    })
    with app.app_context(), write_intent():
        upgrade(revision="heads")
        load_demo()
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


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object, live_server: LiveServer) -> Iterator[object]:
    context = browser.new_context(base_url=live_server.url, accept_downloads=True,  # type: ignore[attr-defined]
                                  locale="nl-NL")
    context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
