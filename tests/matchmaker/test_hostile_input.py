"""A corpus of hostile and broken input: every one gets a clear 4xx (or is stored safely and
shown escaped) and nothing is half-written. Never a 500."""

import io
import json

import pytest
from shapely.geometry import box

from matchmaker.auth.models import Role
from matchmaker.backup import table_snapshot
from matchmaker.register.models import AreaKind

HOSTILE = [
    "",
    "   ",
    "x" * 100_000,
    "ẞ漢字🙂عربى",
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "' OR 1=1 --",
    "1; DROP TABLE users",
    "NaN", "nan", "Infinity", "-inf", "1e309", "-1", "-0", "1e400",
    "\u0000", "0x41", "١٢٣",
]


def changed(before, after, allowed=("audit_log",)):
    return [name for name in before if name not in allowed and before[name] != after[name]]


def attack(client, url, base, fields, text_of, *, files=None):
    """POST ``base`` with each hostile value in each field; check status and the database."""
    problems = []
    for field in fields:
        for value in HOSTILE:
            before = table_snapshot()
            data = {**base, field: value}
            if files:
                data.update({k: (io.BytesIO(v), n) for k, (v, n) in files.items()})
            response = client.post(url, data=data, content_type="multipart/form-data"
                                   if files else None)
            after = table_snapshot()
            page = response.get_data(as_text=True)
            if response.status_code >= 500:
                problems.append(f"{field}={value[:20]!r}: {response.status_code}")
            elif response.status_code >= 400 and changed(before, after):
                problems.append(f"{field}={value[:20]!r}: {response.status_code} but wrote "
                                f"{changed(before, after)}")
            if "<script>alert(1)</script>" in page or "<img src=x onerror" in page:
                problems.append(f"{field}={value[:20]!r}: reflected unescaped")
    return problems


@pytest.fixture
def member(make, auth):
    user = make.user(Role.MEMBER)
    make.address("9401 AB", 12)
    auth.login(user)
    return user


def test_registration_form(client, text_of):
    base = {"name": "A", "email": "a@b.example", "password": "Zonnedak-Assen-42",
            "password_confirm": "Zonnedak-Assen-42", "organisation_name": "B",
            "kvk_number": "04123456", "legal_form": "bv", "kring_id": "0", "privacy": "y"}
    problems = attack(client, "/register", base,
                      ["name", "email", "kvk_number", "legal_form", "kring_id",
                       "organisation_name"], text_of)
    assert not problems, "\n".join(problems)


def test_site_and_demand_forms(client, make, member, text_of):
    site = make.site(member.organisation)
    base = {"postcode": "9401 AB", "house_number": "12", "floor_area_m2": "100",
            "tenure": "owner", "energy_label": ""}
    problems = attack(client, "/sites/new", base,
                      ["postcode", "house_number", "addition", "floor_area_m2", "year_built",
                       "grid_connection", "energy_label", "lat", "lon", "tenure"], text_of)
    problems += attack(client, f"/sites/{site.id}/demand/solar_roof",
                       {"quantity": "10", "stage": "interest"},
                       ["quantity", "quantity_min", "quantity_max", "stage", "version", "note"],
                       text_of)
    problems += attack(client, f"/sites/{site.id}/energy", {"profile_category": "g0"},
                       ["pv_kwp", "tilt_deg", "annual_use_kwh", "profile_category",
                        "feed_in_limit_kw"], text_of)
    problems += attack(client, f"/sites/{site.id}/heat", {"sink_temperature_class": "low"},
                       ["source_mwh", "source_temperature_c", "source_months", "sink_gas_m3",
                        "sink_temperature_class"], text_of)
    assert not problems, "\n".join(problems)


def test_uploads_that_are_broken_too_large_or_not_csv(client, make, member, app, text_of):
    site = make.site(member.organisation)
    url = f"/sites/{site.id}/energy/meter"
    broken = [
        b"", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10, b"timestamp;kwh\n",
        b"time,value\n2025-01-01 00:00,1\n", b"timestamp;kwh\nmorgen;1\n",
        b"timestamp;kwh\n2025-01-01 00:00;NaN\n", b"timestamp;kwh\n2025-01-01 00:00;-5\n",
        "timestamp;kwh\n2025-01-01 00:00;١\n".encode(), b"\xff\xfe\x00\x00garbage",
        b"timestamp;kwh\n" + b"2025-01-01 00:00;1\n" * 3,
    ]
    for payload in broken:
        before = table_snapshot()
        response = client.post(url, data={"kind": "consumption",
                                          "file": (io.BytesIO(payload), "meter.csv")},
                               content_type="multipart/form-data")
        assert 400 <= response.status_code < 500, payload[:30]
        assert changed(before, table_snapshot()) == []
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # a small limit keeps the test light
    try:
        huge = client.post(url, data={"kind": "consumption", "file": (
            io.BytesIO(b"timestamp;kwh\n" + b"2025-01-01 00:00;1\n" * 10_000), "big.csv")},
            content_type="multipart/form-data")
        assert huge.status_code == 413 and "te groot" in text_of(huge)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024


def test_drawn_areas_and_geometry_input(client, make, auth, text_of):
    make.area("Park", AreaKind.PARK, box(233000, 556000, 234000, 557000))
    auth.login(make.user(Role.COORDINATOR))
    bad_polygons = [
        "not json", json.dumps({"type": "Point", "coordinates": [6.5, 53]}),
        json.dumps({"type": "Polygon", "coordinates": [[[6.5, 53], [6.6, 53.1], [6.6, 53],
                                                        [6.5, 53.1], [6.5, 53]]]}),
        json.dumps({"type": "Polygon", "coordinates": [[["NaN", 53], [6.6, 53], [6.6, 53.1],
                                                        ["NaN", 53]]]}),
        json.dumps({"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9],
                                                        [2.3, 48.8]]]}),
        json.dumps({"type": "Polygon", "coordinates": []}),
    ]
    for polygon in bad_polygons:
        before = table_snapshot()
        response = client.post("/coordinator/campaigns/new", data={
            "title": "x", "product": "solar_roof", "decision_days": "14", "invite_by": "area",
            "threshold_quantity": "10", "registration_deadline": "2030-01-01T12:00",
            "tiers-0-min_volume": "0", "tiers-0-unit_price": "900", "polygon": polygon})
        assert 400 <= response.status_code < 500, polygon[:40]
        assert changed(before, table_snapshot()) == []


def test_query_strings_of_maps_and_exports(client, make, auth):
    auth.login(make.user(Role.COORDINATOR))
    for url in ("/coordinator/demand", "/coordinator/bundles", "/coordinator/heat",
                "/coordinator/bundles.geojson", "/coordinator/heat.geojson",
                "/coordinator/demand.geojson", "/coordinator/multi-product"):
        for field in ("gap", "product", "kring_id", "area_id", "stage", "detour", "q", "page"):
            for value in HOSTILE:
                response = client.get(url, query_string={field: value})
                assert response.status_code < 500, (url, field, value[:20])
