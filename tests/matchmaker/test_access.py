"""Who may see what: every route of the app against every role, object access included.

A new route without an entry in ``MATRIX`` fails ``test_every_route_has_an_entry``: deciding
who may use a page is part of adding it.
"""

from __future__ import annotations

import pytest
from shapely.geometry import box

from matchmaker.auth.models import Role
from matchmaker.register.models import AreaKind

ANON, MEMBER, OTHER, COORD, PROVIDER, ADMIN = (
    "anonymous", "member", "other_member", "coordinator", "provider", "admin")
ROLES = (ANON, MEMBER, OTHER, COORD, PROVIDER, ADMIN)
OK, LOGIN, FORBIDDEN, NOT_FOUND = "ok", "login", 403, 404

EVERYONE = dict.fromkeys(ROLES, OK)
LOGGED_IN = {**dict.fromkeys(ROLES, OK), ANON: LOGIN}
MEMBERS = {ANON: LOGIN, MEMBER: OK, OTHER: OK, COORD: FORBIDDEN, PROVIDER: FORBIDDEN,
           ADMIN: FORBIDDEN}
OWN_SITE = {**MEMBERS, OTHER: NOT_FOUND}  # another organisation's site does not exist for you
STAFF = {ANON: LOGIN, MEMBER: FORBIDDEN, OTHER: FORBIDDEN, COORD: OK, PROVIDER: FORBIDDEN,
         ADMIN: OK}
PROVIDERS = {**STAFF, PROVIDER: OK}
ADMINS = {**dict.fromkeys(ROLES, FORBIDDEN), ANON: LOGIN, ADMIN: OK}

# (endpoint, method) -> expected outcome per role. URL arguments come from `url_args`.
MATRIX: dict[tuple[str, str], dict[str, object]] = {
    ("static", "GET"): EVERYONE,
    ("main.index", "GET"): EVERYONE,
    ("main.language", "POST"): EVERYONE,
    ("main.health", "GET"): EVERYONE,
    ("main.leaflet", "GET"): EVERYONE,
    ("main.products_css", "GET"): EVERYONE,
    ("main.areas_geojson", "GET"): LOGGED_IN,
    ("main.provider_home", "GET"): PROVIDERS,
    ("auth.login", "GET"): EVERYONE,
    ("auth.login", "POST"): EVERYONE,
    ("auth.register", "GET"): EVERYONE,
    ("auth.register", "POST"): EVERYONE,
    ("auth.account", "GET"): LOGGED_IN,
    ("auth.account", "POST"): LOGGED_IN,
    ("members.dashboard", "GET"): MEMBERS,
    ("members.organisation", "GET"): MEMBERS,
    ("members.organisation", "POST"): MEMBERS,
    ("members.new_site", "GET"): MEMBERS,
    ("members.new_site", "POST"): MEMBERS,
    ("members.edit_site", "GET"): OWN_SITE,
    ("members.edit_site", "POST"): OWN_SITE,
    ("members.demand", "GET"): OWN_SITE,
    ("members.demand", "POST"): OWN_SITE,
    ("members.withdraw", "POST"): OWN_SITE,
    ("members.delete_site", "POST"): OWN_SITE,
    ("demand.overview", "GET"): STAFF,
    ("demand.overview_csv", "GET"): STAFF,
    ("demand.overview_geojson", "GET"): STAFF,
    ("admin.users", "GET"): ADMINS,
    ("admin.register", "GET"): ADMINS,
    ("admin.set_role", "POST"): ADMINS,
    ("admin.set_active", "POST"): ADMINS,
    ("auth.logout", "POST"): LOGGED_IN,  # last: it ends the session
}


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_has_an_entry(app):
    missing = [f"{rule.endpoint} {method} ({rule.rule})" for rule, method in routes(app)
               if (rule.endpoint, method) not in MATRIX]
    assert not missing, "routes without an access decision: " + ", ".join(missing)
    stale = set(MATRIX) - {(rule.endpoint, method) for rule, method in routes(app)}
    assert not stale, f"entries for routes that no longer exist: {stale}"


@pytest.fixture
def world(make):
    """A member organisation with a site and demand, another organisation, and staff."""
    make.area("Kring Test", AreaKind.KRING, box(230000, 550000, 240000, 560000))
    member = make.user(Role.MEMBER)
    site = make.site(member.organisation)
    make.demand(site, "fibre", 1)
    return {
        MEMBER: member,
        OTHER: make.user(Role.MEMBER),
        COORD: make.user(Role.COORDINATOR),
        PROVIDER: make.user(Role.PROVIDER),
        ADMIN: make.user(Role.ADMIN),
        "site_id": site.id,
        "target_user_id": make.user(Role.PROVIDER).id,
    }


def url_args(endpoint, world):
    site_id, user_id = world["site_id"], world["target_user_id"]
    return {
        "static": {"filename": "css/app.css"},
        "main.leaflet": {"filename": "leaflet.js"},
        "members.edit_site": {"site_id": site_id},
        "members.delete_site": {"site_id": site_id},
        "members.demand": {"site_id": site_id, "product_code": "fibre"},
        "members.withdraw": {"site_id": site_id, "product_code": "fibre"},
        "admin.set_role": {"user_id": user_id},
        "admin.set_active": {"user_id": user_id, "action": "deactivate"},
    }.get(endpoint, {})


def outcome(response):
    if response.status_code == 302 and "/login" in response.headers["Location"]:
        return LOGIN
    if response.status_code in (403, 404):
        return response.status_code
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    return OK


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, client, auth, world, role):
    from flask import url_for

    if role != ANON:
        assert auth.login(world[role]).status_code == 302
    failures = []
    for (endpoint, method), expected in MATRIX.items():
        with app.test_request_context():
            url = url_for(endpoint, **url_args(endpoint, world))
        response = client.open(url, method=method, data={})
        got = outcome(response)
        response.close()
        if got != expected[role]:
            failures.append(f"{method} {url}: expected {expected[role]}, got {got}")
    assert not failures, "\n".join(failures)


def test_state_changing_requests_need_a_csrf_token(base_app, app, world):
    """With CSRF protection on (as in production) every POST without a token is refused."""
    from flask import url_for

    base_app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        for (endpoint, method) in MATRIX:
            if method != "POST":
                continue
            with app.test_request_context():
                url = url_for(endpoint, **url_args(endpoint, world))
            response = client.post(url, data={"email": world[MEMBER].email})
            assert response.status_code == 400, f"{url} accepted a POST without CSRF token"
    finally:
        base_app.config["WTF_CSRF_ENABLED"] = False
