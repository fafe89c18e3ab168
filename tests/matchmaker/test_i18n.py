"""Dutch first: every text has a Dutch translation, pages are Dutch unless English is chosen."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def extracted_messages() -> set[str]:
    method_map = [("matchmaker/**.py", "python"), ("geo/**.py", "python"),
                  ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "N_": None, "lazy_gettext": None,
                "ngettext": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=keywords):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_text_has_a_dutch_translation():
    with open(ROOT / "matchmaker/translations/nl/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    translated = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        texts = m.string if isinstance(m.string, tuple) else (m.string,)
        if all(texts):
            translated[ids[0]] = (ids, texts)
    missing = sorted(extracted_messages() - set(translated))
    assert not missing, "untranslated (run `make extract-messages` and translate):\n" + "\n".join(missing)
    for ids, texts in translated.values():
        for text in texts:
            assert sorted(PLACEHOLDER.findall(ids[0])) == sorted(PLACEHOLDER.findall(text)), ids


def test_pages_are_dutch_until_english_is_chosen(client, text_of):
    assert "Registreer uw bedrijf" in text_of(client.get("/")) or "Inloggen" in text_of(client.get("/"))
    client.post("/language", data={"lang": "en"})
    page = text_of(client.get("/login"))
    assert "Log in" in page and "Inloggen" not in page
    client.post("/language", data={"lang": "nl"})
    assert "Inloggen" in text_of(client.get("/login"))


def test_error_pages_are_dutch_without_internals(client, text_of):
    response = client.get("/this/does/not/exist")
    assert response.status_code == 404
    page = text_of(response)
    assert "Pagina niet gevonden" in page and "Traceback" not in page
    assert client.get("/login?next=x", headers={"Accept": "application/json"}).status_code == 200


def test_a_chosen_language_sticks_to_the_account(make, auth, client, text_of):
    from matchmaker.auth.models import Role

    user = make.user(Role.MEMBER)
    auth.login(user)
    client.post("/language", data={"lang": "en"})
    auth.logout()
    auth.login(user)
    assert "My company" in text_of(client.get("/dashboard"))


def test_unexpected_errors_show_a_dutch_page_without_a_stack_trace(database_url, tmp_path):
    from matchmaker import create_app

    from .conftest import app_config

    app = create_app(app_config(database_url, str(tmp_path)))

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Er ging iets mis" in body
    assert "secret internals" not in body and "Traceback" not in body


def test_units_dates_and_numbers_follow_the_users_language(make, auth, client, text_of):
    from matchmaker.auth.models import Role

    user = make.user(Role.MEMBER)
    site = make.site(user.organisation)
    make.demand(site, "fibre", 1)
    make.demand(site, "shared_heat", 1250)
    auth.login(user)
    dutch = text_of(client.get("/dashboard"))
    assert "1 aansl." in dutch and "1.250 MWh/jr" in dutch
    client.post("/language", data={"lang": "en"})
    english = text_of(client.get("/dashboard"))
    assert "1 conn." in english and "1,250 MWh/yr" in english
    assert "aansl." not in english and "MWh/jr" not in english
