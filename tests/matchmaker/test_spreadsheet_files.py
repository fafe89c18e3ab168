"""Class 3 of issue 13 (and the spreadsheet items of issue 17): every file a user downloads is
safe to open in a spreadsheet and reads right in a Dutch one.

The sweep fills every text a member or coordinator can type with formula-like text, then opens
*every* GET route of the app as every role (and the API with a token): each response that is a
CSV file, or a ZIP holding CSV files, is checked cell by cell. A new export is swept without
being named here.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import url_for

from matchmaker.api.services import issue_token
from matchmaker.demand.models import Demand, Stage
from matchmaker.demand.services import grant_consent
from matchmaker.extensions import db
from matchmaker.fibre.models import FibreCheck, FibreRegion
from matchmaker.members.models import Organisation, Site, Tenure
from matchmaker.register.models import Area
from matchmaker.web.exports import Id, csv_cell, csv_text

from .test_access import (  # noqa: F401  (world is a fixture)
    ADMIN,
    COORD,
    MATRIX,
    MEMBER,
    PROVIDER,
    url_args,
    world,
)

FORMULAS = ['=HYPERLINK("http://evil.example","klik")', "+31 6 1234 5678", "-2+3+cmd|' /C calc'!A0",
            "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]
#: A cell may start with a formula character only as a plain number or an id kept as text.
SAFE_START = re.compile(r'^(-?\d+(,\d+)?|="\d+")$')
BAG_ID = "0106010000000042"
KVK = "01234567"


def check_cells(name: str, text: str, problems: list[str]) -> list[list[str]]:
    if not text.startswith("\ufeff"):
        problems.append(f"{name}: no BOM")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    for row in rows:
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not SAFE_START.match(cell):
                problems.append(f"{name}: formula cell {cell[:40]!r}")
    return rows


def csv_files(response) -> dict[str, str]:
    """The CSV files in a response: the body itself, or the CSV members of a ZIP."""
    if response.mimetype == "text/csv":
        return {"": response.get_data(as_text=True)}
    if response.mimetype == "application/zip":
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        return {n: archive.read(n).decode("utf-8") for n in archive.namelist()
                if n.endswith(".csv")}
    return {}


@pytest.fixture
def hostile_world(world):  # noqa: F811
    """The access matrix's world with formula-like text in every field a person types."""
    for n, org in enumerate(db.session.scalars(sa.select(Organisation))):
        org.name = f"{FORMULAS[n % len(FORMULAS)]} {n}"
        org.contact_name = FORMULAS[(n + 1) % len(FORMULAS)]
        org.contact_phone = "+31 6 1234 5678"
        org.contact_email = "@evil.example"
    world[MEMBER].organisation.kvk_number = KVK
    for n, site in enumerate(db.session.scalars(sa.select(Site))):
        site.street = FORMULAS[n % len(FORMULAS)]
        site.addition = "-1"
        site.label = "=1+1"
        site.bag_id = BAG_ID if site.id == world["site_id"] else site.bag_id
    for area in db.session.scalars(sa.select(Area)):
        area.name = f"=Park {area.id}"
    for region in db.session.scalars(sa.select(FibreRegion)):
        region.name = f"@Region {region.id}"
    check = db.session.get(FibreCheck, world["check_id"])
    grant_consent(db.session.get(Demand, world["demand_id"]), check.provider, actor=None)
    db.session.get(Demand, world["demand_id"]).stage = Stage.COMMITTED
    db.session.flush()
    _row, world["api_token"] = issue_token(check.provider, actor=None)
    return world


def test_every_csv_the_service_hands_out_is_safe_in_a_spreadsheet(app, client, auth,
                                                                   hostile_world):
    problems: list[str] = []
    seen: dict[str, str] = {}
    for role in (MEMBER, COORD, PROVIDER, ADMIN, "api"):
        if role != "api":
            auth.login(hostile_world[role])
        headers = {"Authorization": f"Bearer {hostile_world['api_token']}"} if role == "api" \
            else {}
        for endpoint, method in MATRIX:
            if method != "GET" or endpoint.startswith("auth.") or (
                    (role == "api") != endpoint.startswith("api.")):
                continue
            with app.test_request_context():
                url = url_for(endpoint, **url_args(endpoint, hostile_world))
            response = client.get(url, headers=headers)
            for name, text in csv_files(response).items():
                seen[f"{url}{'!' + name if name else ''}"] = text
                if response.mimetype == "text/csv":
                    assert response.headers["Content-Type"].count("charset") == 1, url
                check_cells(f"{role} {url} {name}", text, problems)
        if role != "api":
            auth.logout()
    assert not problems, "\n".join(problems)
    # The sweep reached the exports of every role and the hostile text flowed into them.
    reached = " ".join(seen)
    for part in ("/coordinator/demand.csv", "bundles.csv", "handoff.csv", "export.csv",
                 "/energy/meter-example.csv", "data.zip!organisation.csv", "progress.csv",
                 "addresses.csv", "/api/v1/checks/"):
        assert part in reached, f"no CSV seen at {part}: {sorted(seen)}"
    everything = "".join(seen.values())
    assert "'=HYPERLINK(" in everything and "'+31 6 1234 5678" in everything
    assert f'="{BAG_ID}"' in everything and f'="{KVK}"' in everything


def test_cells_keep_numbers_ids_and_dutch_time(app):
    with app.test_request_context():
        text = csv_text(["Naam", "Aantal"], [
            ["=1+1", Decimal("-12.50")], [Id("0106010000000042"), -3], [Id("=1"), 1.5],
            [datetime(2026, 7, 1, 13, 38, tzinfo=UTC), None], [Stage.COMMITTED, True],
            [Tenure.TENANT, float("nan")], ["-12,5", "+5"],
        ])
        assert csv_cell("@x") == "'@x" and csv_cell("\rx") == "'\rx" and csv_cell("a=b") == "a=b"
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows == [["Naam", "Aantal"], ["'=1+1", "-12,5"], ['="0106010000000042"', "-3"],
                    ["'=1", "1,5"], ["2026-07-01 15:38", ""], ["toegezegd", "ja"],
                    ["huurder", ""], ["-12,5", "'+5"]]
