"""Every role's pages in Dutch and English, at desktop and phone width (390 px): no script or
console error, no horizontal scrollbar, no text of the other language (compared against the
catalogue) and no number written the other language's way. Screenshots of every page go to
/tmp/e2e-shots for people to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from matchmaker.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

# The development server's threads can leave a static file open when the browser drops a
# connection as a context closes; that is the test server's, not the app's, so not an error.
pytestmark = [pytest.mark.e2e,
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

PO = Path(__file__).resolve().parents[2] / "matchmaker/translations/nl/LC_MESSAGES/messages.po"
SHOTS = Path("/tmp/e2e-shots")
TILES = "https://tile.openstreetmap.org/"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
MIN_LENGTH = 14  # shorter texts (units, "Status", names of languages) are the same in both


def _catalogue() -> tuple[list[str], list[str]]:
    """Whole texts that differ between the languages: (English ids, Dutch translations)."""
    with PO.open("rb") as fh:
        catalogue = read_po(fh, locale="nl")
    english, dutch = [], []
    for message in catalogue:
        if not message.id or isinstance(message.id, tuple) or not message.string:
            continue
        if "%" in message.id or message.id == message.string or len(message.id) < MIN_LENGTH:
            continue
        english.append(message.id)
        dutch.append(message.string)
    return english, dutch


ENGLISH, DUTCH = _catalogue()

# A number written the other language's way, in visible text.
WRONG_NUMBER = {
    # In Dutch a decimal point (12.5, 0.15) or an English thousands comma (12,500.5).
    "nl": re.compile(r"(?<![\d.,/:-])\d+\.(\d{1,2}|\d{4,})(?![\d.,])|\d,\d{3}\.\d"),
    # In English a decimal comma (12,5 or € 1.234,50).
    "en": re.compile(r"(?<![\d.,/:-])\d+,\d{1,2}(?![\d.,])|\d\.\d{3},\d"),
}

PAGES = {
    "member": ["/dashboard", "first:/sites/", "/campaigns", "first:/campaigns/",
               "/energy/matches", "/heat", "/organisation/data", "/fibre/consents"],
    "coordinator": ["/coordinator/demand", "/coordinator/bundles", "/coordinator/campaigns",
                    "first:/coordinator/campaigns/", "/coordinator/energy",
                    "first:/coordinator/energy/runs/", "/coordinator/heat", "/fibre/checks",
                    "/coordinator/hubs"],
    "supplier": ["/supplier/campaigns", "first:/supplier/campaigns/"],
    "provider": ["/provider", "/fibre/checks", "first:/fibre/checks/"],
    "admin": ["/admin/users", "/admin/register", "/admin/tokens", "/admin/outbox"],
}
ACCOUNTS = {"member": DEMO_ACCOUNTS["member"], "coordinator": DEMO_ACCOUNTS["coordinator"],
            "supplier": "zonnebouw@demo.example", "provider": DEMO_ACCOUNTS["provider"],
            "admin": DEMO_ACCOUNTS["admin"]}


def problems_on(page, lang: str) -> list[str]:
    found = []
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .slice(0, 3).map(e => e.tagName + '.' + e.className + ': ' + (e.innerText || '').slice(0, 40))""")
        found.append(f"horizontal scrollbar ({overflow} px): {wide}")
    # Text marked as another language (an e-mail's subject in its recipient's language, the
    # names of the languages in the footer) is not the page's text.
    text = page.evaluate("""lang => {
        const body = document.body.cloneNode(true);
        body.querySelectorAll('[lang]').forEach(e => { if (e.lang !== lang) e.remove(); });
        body.querySelectorAll('script, style, template').forEach(e => e.remove());
        document.documentElement.appendChild(body);  // innerText needs a rendered node
        body.style.position = 'absolute'; body.style.left = '-99999px';
        const text = body.innerText; body.remove(); return text; }""", lang)
    others = ENGLISH if lang == "nl" else DUTCH
    untranslated = [t for t in others if t in text]
    if untranslated:
        found.append(f"text of the other language: {untranslated[:5]}")
    numbers = [m.group(0) for m in WRONG_NUMBER[lang].finditer(text)]
    if numbers:
        found.append(f"numbers in the wrong format: {numbers[:5]}")
    return found


def login_as(page, email: str, lang: str) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"{email} could not log in"
    # The footer's switch; a logged-in user's choice is kept with the account.
    page.locator(f"footer button[value={lang}]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang


def reset_language(page, emails: list[str], lang: str) -> None:
    """The choice sticks to the demo accounts: leave them Dutch for the other tests."""
    if lang == "nl":
        return
    for email in emails:
        page.context.clear_cookies()
        login_as(page, email, "nl")


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("role", PAGES)
def test_every_page_reads_right(browser, live_server, role, lang, viewport):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[viewport],
                                  locale="nl-NL" if lang == "nl" else "en-GB")
    context.route(f"{TILES}**", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if (
        msg.type == "error" and not (msg.location or {}).get("url", "").startswith(TILES))
        else None)
    SHOTS.mkdir(exist_ok=True)
    failures: dict[str, list[str]] = {}
    try:
        login_as(page, ACCOUNTS[role], lang)
        for target in PAGES[role]:
            if target.startswith("first:"):
                prefix = target.removeprefix("first:")
                links = [h for h in page.eval_on_selector_all(
                    "main a[href]", "els => els.map(e => e.getAttribute('href'))")
                    if h.startswith(prefix) and re.search(r"/\d+(/energy)?$", h)]
                if not links:
                    continue
                target = links[0]
            response = page.goto(target)
            assert response is not None and response.status < 400, (target, response.status)
            page.wait_for_load_state("networkidle")
            name = re.sub(r"[^a-z0-9]+", "-", target.strip("/")) or "home"
            page.screenshot(path=str(SHOTS / f"{role}-{lang}-{viewport}-{name}.png"),
                            full_page=True)
            found = problems_on(page, lang)
            if found:
                failures[target] = found
    finally:
        reset_language(page, [ACCOUNTS[role]], lang)
        context.close()
    assert not errors, f"console or script errors: {errors}"
    assert not failures, failures


def test_long_unbroken_names_never_widen_the_page(browser, live_server):
    """Forms allow 200 characters; a name without a space wraps instead of widening the page."""
    import sqlalchemy as sa

    long_name = "Installatietechniekgroothandel" * 7  # 210 characters, no space
    engine = sa.create_engine(live_server.database_url)
    with engine.begin() as conn:
        org_id, old = conn.execute(sa.text(
            "SELECT o.id, o.name FROM organisations o JOIN users u ON u.organisation_id = o.id "
            "WHERE u.email = :email"), {"email": DEMO_ACCOUNTS["member"]}).one()
        conn.execute(sa.text("UPDATE organisations SET name = :name WHERE id = :id"),
                     {"name": long_name[:200], "id": org_id})
    try:
        for viewport in VIEWPORTS.values():
            context = browser.new_context(base_url=live_server.url, viewport=viewport)
            context.route(f"{TILES}**", lambda route: route.abort())
            page = context.new_page()
            login_as(page, DEMO_ACCOUNTS["member"], "nl")
            for target in ("/dashboard", "/organisation", "/campaigns"):
                page.goto(target)
                assert page.evaluate("() => document.documentElement.scrollWidth"
                                     " <= document.documentElement.clientWidth"), target
            page.screenshot(path=str(SHOTS / f"long-name-{viewport['width']}.png"))
            context.close()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE organisations SET name = :name WHERE id = :id"),
                         {"name": old, "id": org_id})
        engine.dispose()
