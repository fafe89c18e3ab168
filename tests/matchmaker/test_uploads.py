"""Class 5 of issue 13: slow work never holds the write lock.

An upload is parsed with no transaction open (the request reads, ends its read transaction,
parses, and only then starts the write transaction), so another member's ordinary save goes
through while it is parsed — shown with real commits on a database of its own, on SQLite
(where a write transaction locks the whole file) and PostgreSQL. Parsers refuse what is
larger than a file of its kind can be before they parse it.
"""

from __future__ import annotations

import io
import re
import threading

import pandas as pd
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from matchmaker import create_app
from matchmaker.demand.models import Demand
from matchmaker.energy import grid, services
from matchmaker.extensions import db

from .conftest import app_config, new_database
from .test_campaign_concurrency import committed, logged_in


@pytest.fixture(scope="module")
def upload_app(database_url, tmp_path_factory):
    """The app on a database of its own, migrated; requests commit for real."""
    with new_database(database_url, tmp_path_factory.mktemp("uploads"), "uploads") as url:
        app = create_app(app_config(url, str(tmp_path_factory.mktemp("instance"))))
        with app.app_context():
            upgrade(revision="heads")
            db.session.remove()
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

UPLOADS = {
    "meter": ("/sites/{site}/energy/meter", "file", {"kind": "consumption"},
              "parse_meter_data", services),
    "quarter": ("/sites/{site}/energy/quarter-hours", "quarter-file", {},
                "parse_quarter_hours", grid),
}


def post_file(client, url, data):
    """POST a form with a file, its body encoded in memory (the test client would spool a
    large one to a temporary file it never closes)."""
    fields = {k: FileStorage(v[0], filename=v[1]) if isinstance(v, tuple) else v
              for k, v in data.items()}
    stream, _length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(url, data=stream.getvalue(),
                       content_type=f"multipart/form-data; boundary={boundary}")


def meter_year(step: str = "h") -> bytes:
    """A year of values with UTC offsets (no daylight saving question)."""
    moments = pd.date_range("2025-01-01", "2025-12-31 23:45", freq=step, tz="UTC")
    if step == "h":
        lines = [f"{m:%Y-%m-%dT%H:%M}+00:00;0,8" for m in moments]
        return ("timestamp;kwh\n" + "\n".join(lines) + "\n").encode()
    lines = [f"{m:%Y-%m-%dT%H:%M}+00:00;1,2;0" for m in moments]
    return ("tijdstip;afname_kwh;invoeding_kwh\n" + "\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("upload", UPLOADS)
def test_another_members_save_goes_through_while_an_upload_is_parsed(
        upload_app, monkeypatch, upload):
    def build(buy):
        uploader, upload_site = buy.member("10")
        other, other_site = buy.member("10")
        return {"uploader": uploader.email, "site": upload_site.id, "other": other.email,
                "other_site": other_site.id}

    ids = committed(upload_app, build)
    url, field, extra, parser_name, module = UPLOADS[upload]
    uploader, other = logged_in(upload_app, ids["uploader"]), logged_in(upload_app, ids["other"])
    parse = getattr(module, parser_name)
    seen: dict[str, object] = {}

    def other_member_saves() -> None:
        response = other.post(f"/sites/{ids['other_site']}/demand/solar_roof", data={
            "quantity": "25", "stage": "committed", "version": "1"})
        seen["other"] = response.status_code

    def parse_while_another_saves(data, *, filename):
        seen["transaction_open"] = db.session().in_transaction()
        thread = threading.Thread(target=other_member_saves)
        thread.start()
        thread.join(120)
        return parse(data, filename=filename)

    monkeypatch.setattr(module, parser_name, parse_while_another_saves)
    payload = meter_year("h" if upload == "meter" else "15min")
    response = post_file(uploader, url.format(site=ids["site"]),
                         {**extra, field: (io.BytesIO(payload), "jaar.csv")})
    page = response.get_data(as_text=True)
    assert response.status_code == 302, re.findall(r"error[^<]*<[^>]*>([^<]*)", page)[:5]
    assert seen == {"transaction_open": False, "other": 302}
    with upload_app.app_context():
        stored = db.session.scalar(sa.select(Demand.quantity).where(
            Demand.site_id == ids["other_site"]))
        assert stored == 25
        db.session.remove()


@pytest.mark.parametrize("upload", UPLOADS)
@pytest.mark.parametrize("payload, words", [
    (b"timestamp;" + b";".join(b"c%d" % i for i in range(800_000)) + b"\n", "langer dan 200"),
    (b"timestamp;kwh;" + b";".join(b"c%d" % i for i in range(30)) + b"\n", "kolommen"),
    (b"timestamp;kwh\n" + b"2025-01-01 00:00;1\n" * 40_001, "rijen"),
])
def test_parsers_refuse_files_larger_than_their_kind_before_parsing(
        upload_app, upload, payload, words):
    def build(buy):
        user, site = buy.member("10")
        return {"email": user.email, "site": site.id}

    ids = committed(upload_app, build)
    url, field, extra, _parser, _module = UPLOADS[upload]
    client = logged_in(upload_app, ids["email"])
    response = post_file(client, url.format(site=ids["site"]),
                         {**extra, field: (io.BytesIO(payload), "groot.csv")})
    assert response.status_code == 400 and words in response.get_data(as_text=True)
