"""Every form and upload of every role, each field replaced by hostile shapes: never a 5xx,
and a refused request writes nothing (issue 13, class 6: no input gives a 500).

The forms are read from the pages that show them (``hostile_forms_support``), so a field added
to a form is attacked without a change here. ``test_every_post_route_is_attacked_or_exempt``
enumerates the POST routes of the app: a new form fails it until it is listed in ``FORMS``
(where it is shown, to whom) or in ``EXEMPT`` (why it takes no input worth attacking).
"""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import url_for

from matchmaker.backup import table_snapshot
from matchmaker.campaigns import services as campaign_services
from matchmaker.energy.models import QUARTER_HOURS_PER_YEAR, AssetKind, GridConnection
from matchmaker.energy.services import upload_meter_data
from matchmaker.extensions import db
from matchmaker.members.models import Site

from .hostile_forms_support import Form, forms_of
from .test_access import (
    ADMIN,
    ANON,
    COORD,
    MEMBER,
    OTHER,
    PROVIDER,
    url_args,
    world,  # noqa: F401 (the fixture, used through `scene`)
)
from .test_campaign_support import Buy

# --- the shapes ----------------------------------------------------------------------------

DEEP = "[" * 50_000 + "]" * 50_000
GENERIC = ["", "x" * 5000, "\x00", "-1", str(2**63), "NaN"]
NUMBERS = ["1e30", "1" + "0" * 30, "1" + "0" * 300, "1e300", "-1e300", "-999999999999999",
           "inf", "-Infinity", "0,0000001", str(-(2**63)), "12.345.678.901.234.567"]
DATES = ["1600-01-01", "9999-12-31", "9999-12-31T23:59", "1600-01-01T00:00", "2025-02-30",
         "2025-03-30T02:30", "0000-00-00"]
TEXT = ["x" * 100_000, "<script>alert(1)</script>", "ẞ漢字🙂عربى", "1e300",
        "2025-01-01T00:00+01:00"]
GEOMETRY = [
    DEEP,
    '{"type": "Polygon", "coordinates": ' + DEEP + "}",
    ('{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[6.5, NaN], '
     "[6.6, 53], [6.6, 53.1], [6.5, 53]]]}}"),
    json.dumps({"type": "Polygon", "coordinates": [[[6.5 + i * 1e-5, 53.0] for i in range(3000)]
                                                   + [[6.5, 53.1], [6.5, 53.0]]]}),
    json.dumps({"type": "Polygon", "coordinates": [[[1e300, 1e300], [6.6, 53], [6.6, 53.1],
                                                    [1e300, 1e300]]]}),
]
HOUR = "2025-01-{:02d} {:02d}:00"


def meter(rows: list[tuple[str, str]], header: str = "timestamp;kwh") -> bytes:
    return (header + "\n" + "".join(f"{t};{v}\n" for t, v in rows)).encode()


def month(value: str = "1", stamp: str = HOUR) -> list[tuple[str, str]]:
    return [(stamp.format(d, h), value) for d in range(1, 29) for h in range(24)]


def year(odd: str = "1", *, first: str = "2025-01-01") -> list[tuple[str, str]]:
    """A year of hourly readings, the 100th reading ``odd``."""
    hours = pd.date_range(first, periods=8760, freq="h", tz="Europe/Amsterdam")
    return [(t.isoformat(timespec="minutes"), odd if i == 100 else "1")
            for i, t in enumerate(hours)]


FILES = [
    b"", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, b"SQLite format 3\x00" + b"\xff" * 400,
    DEEP.encode(), ('{"type": "FeatureCollection", "features": ' + DEEP + "}").encode(),
    meter([("2025-01-01T00:00+01:00", "1"), ("2025-01-01T01:00", "1"),
           ("2025-01-01T02:00Z", "1")]),
    meter(month(stamp="1600-01-{:02d} {:02d}:00")),
    meter(month(stamp="9999-01-{:02d} {:02d}:00")),
    meter(year("1e300")), meter(year("NaN")), meter(year("-inf")), meter(year("1e30")),
    meter(year("1e300"), header="timestamp;take_kwh"),
    meter([(f"9999-12-31T{h:02d}:{m:02d}+01:00", "1") for h in range(24) for m in (0, 15, 30, 45)],
          header="tijdstip;afname_kwh"),
]


def shapes(form: Form, name: str) -> list[object]:
    kind = form.kinds.get(name, "text")
    if kind == "file":
        return [(io.BytesIO(payload), "upload.csv") for payload in FILES]
    if name.endswith("polygon"):
        return GENERIC + GEOMETRY
    if kind == "number":
        return GENERIC + NUMBERS
    if kind in ("date", "datetime-local"):
        return GENERIC + DATES
    if kind in ("select", "radio", "checkbox"):
        return GENERIC
    if kind == "hidden":
        return GENERIC + NUMBERS[:4]
    return GENERIC + TEXT + NUMBERS[:3] + DATES[:2]


# --- where each form is --------------------------------------------------------------------

#: POST endpoint -> (role, page that shows its form, that page's URL arguments or None for the
#: ones of ``test_access.url_args``). Campaign forms need campaigns in the right state.
FORMS: dict[str, tuple[str, str, str | None]] = {
    "admin.revoke_token": (ADMIN, "admin.tokens", None),
    "admin.set_active": (ADMIN, "admin.users", None),
    "admin.set_role": (ADMIN, "admin.users", None),
    "admin.start_import": (ADMIN, "admin.register", None),
    "admin.tokens": (ADMIN, "admin.tokens", None),
    "admin.users": (ADMIN, "admin.users", None),
    "bundles.start_file": (COORD, "bundles.index", None),
    "auth.account": (MEMBER, "auth.account", None),
    "auth.forgot_password": (ANON, "auth.forgot_password", None),
    "auth.login": (ANON, "auth.login", None),
    "auth.reauthenticate": (MEMBER, "auth.reauthenticate", None),
    "auth.register": (ANON, "auth.register", None),
    "campaigns.award": (COORD, "campaigns.compare", "bidding"),
    "campaigns.cancel": (COORD, "campaigns.manage", None),
    "campaigns.decide_offer": (MEMBER, "campaigns.member_detail", None),
    "campaigns.edit": (COORD, "campaigns.edit", "draft"),
    "campaigns.give_consent": (OTHER, "campaigns.consent_requests", None),
    "campaigns.invite_supplier": (COORD, "campaigns.manage", "draft"),
    "campaigns.join": (MEMBER, "campaigns.member_detail", "open"),
    "campaigns.new": (COORD, "campaigns.new", None),
    "campaigns.request_consent": (MEMBER, "campaigns.member_detail", None),
    "campaigns.submit_bid": (PROVIDER, "campaigns.supplier_detail", "bidding"),
    "campaigns.transition": (COORD, "campaigns.manage", None),
    "campaigns.withdraw": (MEMBER, "campaigns.member_detail", "open"),
    "campaigns.withdraw_bid": (PROVIDER, "campaigns.supplier_detail", "bidding"),
    "energy.add_plan": (MEMBER, "energy.site_energy", None),
    "energy.delete_meter": (MEMBER, "energy.site_energy", None),
    "energy.delete_plan": (MEMBER, "energy.site_energy", None),
    "energy.save_grid": (MEMBER, "energy.site_energy", None),
    "energy.site_energy": (MEMBER, "energy.site_energy", None),
    "energy.start_run": (COORD, "energy.runs", None),
    "energy.upload_meter": (MEMBER, "energy.site_energy", None),
    "energy.upload_quarter_hours": (MEMBER, "energy.site_energy", None),
    "fibre.add_exclusion": (COORD, "fibre.check", None),
    "fibre.edit": (COORD, "fibre.edit", None),
    "fibre.grant_consent": (MEMBER, "fibre.consents", None),
    "fibre.new": (COORD, "fibre.new", None),
    "fibre.remove_exclusion": (COORD, "fibre.check", None),
    "fibre.withdraw_consent": (MEMBER, "fibre.consents", None),
    "heat.site_heat": (MEMBER, "heat.site_heat", None),
    "hub.add_site": (COORD, "hub.detail", None),
    "hub.analyse": (COORD, "hub.detail", None),
    "hub.battery_campaign": (COORD, "hub.detail", None),
    "hub.consent": (MEMBER, "energy.site_energy", None),
    "hub.index": (COORD, "hub.index", None),
    "hub.parameters": (COORD, "hub.detail", None),
    "hub.remove_site": (COORD, "hub.detail", None),
    "main.language": (ANON, "main.index", None),
    "members.delete_site": (MEMBER, "members.dashboard", None),
    "members.demand": (MEMBER, "members.demand", None),
    "members.edit_site": (MEMBER, "members.edit_site", None),
    "members.erase": (MEMBER, "members.data", None),
    "members.new_site": (MEMBER, "members.new_site", None),
    "members.organisation": (MEMBER, "members.organisation", None),
    "members.withdraw": (MEMBER, "members.dashboard", None),
    "energy.delete_quarter_hours": (MEMBER, "energy.site_energy", None),
}

#: Forms behind a secret link (mailed tokens): posted with their fields to a link that is not
#: valid, which is what an attacker has.
TOKEN_FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "auth.reset_password": (ANON, {"password": "x", "password_confirm": "x"}),
    "auth.confirm_email": (ANON, {"password": "x"}),
    "campaigns.owner_consent_link": (ANON, {"decision": "grant", "kvk_number": "1"}),
}

#: POST routes that take no input at all (the URL says everything).
EXEMPT = {
    "auth.logout": "ends the session; no fields",
}


def post_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}


def test_every_post_route_is_attacked_or_exempt(app):
    listed = set(FORMS) | set(TOKEN_FORMS) | set(EXEMPT)
    missing = post_endpoints(app) - listed
    assert not missing, f"POST routes nobody attacks (add them to FORMS or EXEMPT): {missing}"
    assert not listed - post_endpoints(app), "entries for routes that no longer exist"


@pytest.fixture
def scene(request, make):
    """``test_access.world`` plus campaigns in the states whose forms only then show: a
    draft, an open one the member joined, one in bidding with the provider's bid; and meter
    and quarter-hour data on the member's site."""
    base = request.getfixturevalue("world")
    buy = Buy(make, prefix="h", park="Hostilepark")
    site = db.session.get(Site, base["site_id"])
    draft = buy.campaign(title="Concept")
    opened = buy.campaign(title="Open")
    campaign_services.invite_supplier(opened, base[PROVIDER], actor=buy.coordinator)
    buy.open(opened)
    Buy.join(opened, base[MEMBER], site, "10")
    bidding = buy.campaign(title="Bieden")
    campaign_services.invite_supplier(bidding, base[PROVIDER], actor=buy.coordinator)
    buy.open(bidding)
    Buy.join(bidding, base[MEMBER], site, "400")
    buy.close(bidding)
    Buy.bid(bidding, base[PROVIDER])
    upload_meter_data(site, actor=base[MEMBER], kind=AssetKind.PV, data=meter(year("2")),
                      filename="meter.csv")
    grid = GridConnection(site_id=site.id, shiftable_share=0.0, metered_info={"file": "q.csv"})
    grid.set_quarter_hours(np.ones(QUARTER_HOURS_PER_YEAR), np.zeros(QUARTER_HOURS_PER_YEAR))
    db.session.add(grid)
    db.session.flush()
    return {**base, "draft": draft.id, "open": opened.id, "bidding": bidding.id}


def page_url(app, endpoint: str, scene: dict, campaign: str | None) -> str:
    args = url_args(endpoint, scene)
    if campaign is not None:
        args = {**args, "campaign_id": scene[campaign]}
    with app.test_request_context():
        return url_for(endpoint, **args)


def forms_for(app, html: str, page: str, endpoint: str) -> list[Form]:
    """The forms of ``page`` that post to ``endpoint``, one per set of fields (a page may hold
    several: the admin's register page imports addresses and areas)."""
    adapter = app.url_map.bind("localhost")
    found = []
    for form in forms_of(html, page):
        if form.method != "post":
            continue
        try:
            target, _args = adapter.match(urlsplit(form.action).path, method="POST")
        except Exception:  # noqa: BLE001, S112 (a form posting to another site)
            continue
        if target == endpoint and all(set(form.fields) != set(f.fields) for f in found):
            found.append(form)  # one of each kind (not every user's "deactivate" button)
    assert found, f"{page} shows no form for {endpoint}"
    return found


def changed(before, after, allowed=("audit_log",)):
    return [name for name in before if name not in allowed and before[name] != after[name]]


def overlong(snapshot) -> list[str]:
    """Stored text longer than its column (SQLite would keep it; PostgreSQL refuses it)."""
    found = []
    for table in db.metadata.sorted_tables:
        limits = {c.name: c.type.length for c in table.columns
                  if isinstance(c.type, sa.String) and c.type.length}
        for row in snapshot.get(table.name, []):
            found += [f"{table.name}.{name}" for name, limit in limits.items()
                      if isinstance(row.get(name), str) and len(row[name]) > limit]
    return found


def attack(client, url: str, form: Form) -> list[str]:
    """Post ``form`` with each field replaced by each of its shapes."""
    problems = []
    multipart = "multipart" in form.enctype or "file" in form.kinds.values()
    before = table_snapshot()
    names = [n for n in form.fields if n != "csrf_token"] or ["csrf_token"]
    for name in names:
        for value in shapes(form, name):
            data = {**form.data(), name: value}
            response = client.post(url, data=data, content_type="multipart/form-data"
                                   if multipart else None)
            after = table_snapshot()
            shown = value[1] if isinstance(value, tuple) else repr(value[:30])
            if response.status_code >= 500:
                problems.append(f"{url} {name}={shown}: {response.status_code}")
            elif response.status_code >= 400 and changed(before, after):
                problems.append(f"{url} {name}={shown}: {response.status_code} but wrote "
                                f"{changed(before, after)}")
            if overlong(after):
                problems.append(f"{url} {name}={shown}: stored {overlong(after)} longer than "
                                "its column")
            page = response.get_data(as_text=True)
            if "<script>alert(1)</script>" in page:
                problems.append(f"{url} {name}: reflected unescaped")
            before = after
    return problems


@pytest.mark.parametrize("endpoint", sorted(FORMS))
def test_every_form_refuses_hostile_input_without_a_5xx(app, client, auth, scene, endpoint):
    role, page_endpoint, campaign = FORMS[endpoint]
    if role != ANON:
        assert auth.login(scene[role]).status_code == 302
    page = page_url(app, page_endpoint, scene, campaign)
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    forms = forms_for(app, response.get_data(as_text=True), page, endpoint)
    assert forms, f"{page} shows no form that posts to {endpoint}: nothing was attacked"
    problems = []
    for form in forms:
        problems += attack(client, form.action, form)
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("endpoint", sorted(TOKEN_FORMS))
def test_forms_behind_a_link_refuse_hostile_input(app, client, scene, endpoint):
    _role, base = TOKEN_FORMS[endpoint]
    url = page_url(app, endpoint, scene, None)
    form = Form(action=url, method="post", enctype="",
                fields={k: [v] for k, v in base.items()}, kinds=dict.fromkeys(base, "text"))
    problems = attack(client, url, form)
    assert not problems, "\n".join(problems[:30])


NAMES = ("page", "per_page", "zoom", "bbox", "threshold_value", "since")


def test_page_numbers_and_query_strings_of_every_page(app, client, auth, scene):
    """Every page a role can open, with 2**63 and other hostile values for its page number
    and the usual filters: never a 5xx."""
    from .test_access import MATRIX, OK

    problems = []
    values = [str(2**63), "1e30", "-1", "NaN", "x" * 3000, "9999-12-31"]
    seen: set[str] = set()
    for role in (MEMBER, COORD, PROVIDER, ADMIN):
        auth.logout()
        assert auth.login(scene[role]).status_code == 302
        for (endpoint, method), expected in MATRIX.items():
            if method != "GET" or expected[role] != OK or endpoint in seen | {"static"}:
                continue
            seen.add(endpoint)  # each page once, as the first role that may open it
            url = urlsplit(page_url(app, endpoint, scene, None))
            own = dict(parse_qsl(url.query))
            queries = [{**own, **dict.fromkeys(NAMES, value), "what_if": "1"} for value in values]
            queries += [{**own, name: value, "what_if": "1"} for name in NAMES
                        for value in values[:2]]  # one at a time: no other refusal first
            for query in queries:
                response = client.get(url.path, query_string=query)
                if response.status_code >= 500:
                    shown = {k: v[:20] for k, v in query.items()}
                    problems.append(f"{role} {url.path}?{shown}: {response.status_code}")
                if response.mimetype not in ("text/html", "application/json"):
                    break  # a file download: one hostile query is enough
    assert not problems, "\n".join(problems[:30])


def test_the_cases_seen_in_the_review_get_a_clear_4xx(app, client, auth, scene, text_of):
    """The examples of issue 13 (class 6), with what the user reads."""
    auth.login(scene[MEMBER])
    site = scene["site_id"]
    meter_files = [
        (meter(year("1e300")), "regel(s) 102"),  # stored, it broke the energy page
        (meter([("2025-01-01T00:00+01:00", "1"), ("2025-01-01T01:00", "1"),
                ("2025-01-01T02:00+01:00", "1")]), "regel(s) 3"),
        (meter(month(stamp="1600-01-{:02d} {:02d}:00")), "regel(s) 2, 3"),
        (meter(month(stamp="9999-01-{:02d} {:02d}:00")), "2000 tot en met 2100"),
    ]
    for payload, message in meter_files:
        before = table_snapshot()
        response = client.post(f"/sites/{site}/energy/meter", data={
            "kind": "consumption", "file": (io.BytesIO(payload), "meter.csv")},
            content_type="multipart/form-data")
        assert response.status_code == 400 and message in text_of(response), text_of(response)
        assert changed(before, table_snapshot()) == []
    assert client.get(f"/sites/{site}/energy").status_code == 200
    response = client.post(f"/sites/{site}/energy/quarter-hours", data={"quarter-file": (
        io.BytesIO(meter([("2025-01-01T00:00+01:00", "1e300")], header="tijdstip;afname_kwh")),
        "q.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400 and "regel(s) 2" in text_of(response)

    auth.logout()
    auth.login(scene[COORD])
    with app.test_request_context():
        check_url = url_for("fibre.check", check_id=scene["check_id"])
    response = client.get(check_url, query_string={"what_if": "1", "threshold_kind": "count",
                                                   "threshold_value": "1" + "0" * 30})
    assert response.status_code < 500 and "Vul een getal in tot" in text_of(response)
    fibre = {"title": "Glas", "threshold_kind": "percent", "threshold_value": "30",
             "grouping": "per_area", "area_ids": "", "deadline": "2030-12-31"}
    for data in ({**fibre, "deadline": "9999-12-31"},
                 {**fibre, "polygon": '{"type": "Polygon", "coordinates": ' + DEEP + "}"}):
        before = table_snapshot()
        response = client.post("/fibre/checks/new", data=data)
        assert 400 <= response.status_code < 500
        assert changed(before, table_snapshot()) == []
    assert "tussen 2000 en 2100" in text_of(client.post("/fibre/checks/new", data={
        **fibre, "deadline": "9999-12-31"}))
