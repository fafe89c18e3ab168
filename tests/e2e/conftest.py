"""End-to-end tests: the real app over real HTTP in a real browser (Debian's Chromium).

The app runs in a background thread on a free port with its own SQLite file, migrated and
loaded with the demo data, in demo mode. Map tiles are blocked (no internet needed).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _closing(app: Any) -> Any:
    """The app, with each response closed by the time its generator is finished or dropped.

    Werkzeug's development server (3.1.9, ``serving.py`` ``execute``) closes a response only
    after draining the request; when the browser has already reset the connection (a page
    left while a script was still loading), that read raises first and a file being sent stays
    open, which Python reports as an unclosed file in whatever test runs next."""
    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        body = app(environ, start_response)
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()
    return wsgi


@contextmanager
def demo_server(instance: Path, name: str, load: Callable[[], None] | None = None
                ) -> Iterator[LiveServer]:
    """The app on a free port in a background thread, with its own SQLite file, migrated and
    loaded with the demo data (and ``load``'s, when given), in demo mode."""
    database_url = f"sqlite:///{instance / name}"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance), "DEMO_MODE": True, "RATELIMIT_ENABLED": False,
        "PASSWORD_TIME_COST": 1, "PASSWORD_MEMORY_COST_KIB": 64,
    })
    with app.app_context(), write_intent():
        upgrade(revision="heads")
        load_demo()
        if load is not None:
            load()
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", 0, _closing(app), threaded=True)
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
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with demo_server(tmp_path_factory.mktemp("e2e"), "e2e.sqlite3") as server:
        yield server


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
