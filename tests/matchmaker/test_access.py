"""Who may see what: every route of the app against every role, object access included.

A new route without an entry in ``MATRIX`` fails ``test_every_route_has_an_entry``: deciding
who may use a page is part of adding it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from matchmaker.api.services import issue_token
from matchmaker.auth.models import Role
from matchmaker.bundles import services as bundle_services
from matchmaker.campaigns import services
from matchmaker.demand.services import grant_consent
from matchmaker.energy.models import (
    AssetKind,
    Direction,
    EnergyAsset,
    ExpansionKind,
    ExpansionPlan,
    MatchRun,
    RunStatus,
)
from matchmaker.extensions import db
from matchmaker.fibre import services as fibre_services
from matchmaker.hub import services as hub_services
from matchmaker.hub.models import Hub, HubSite, HubSource
from matchmaker.mail.models import Outbox
from matchmaker.members.models import Tenure
from matchmaker.models import utcnow
from matchmaker.register.models import AreaKind, ImportStatus, RegisterImport

from .test_campaign_support import Buy

ANON, MEMBER, OTHER, COORD, PROVIDER, ADMIN = (
    "anonymous", "member", "other_member", "coordinator", "provider", "admin")
ROLES = (ANON, MEMBER, OTHER, COORD, PROVIDER, ADMIN)
OK, LOGIN, FORBIDDEN, NOT_FOUND, NO_TOKEN = "ok", "login", 403, 404, 401

EVERYONE = dict.fromkeys(ROLES, OK)
LOGGED_IN = {**dict.fromkeys(ROLES, OK), ANON: LOGIN}
MEMBERS = {ANON: LOGIN, MEMBER: OK, OTHER: OK, COORD: FORBIDDEN, PROVIDER: FORBIDDEN,
           ADMIN: FORBIDDEN}
OWN_SITE = {**MEMBERS, OTHER: NOT_FOUND}  # another organisation's site does not exist for you
STAFF = {ANON: LOGIN, MEMBER: FORBIDDEN, OTHER: FORBIDDEN, COORD: OK, PROVIDER: FORBIDDEN,
         ADMIN: OK}
PROVIDERS = {**STAFF, PROVIDER: OK}
ADMINS = {**dict.fromkeys(ROLES, FORBIDDEN), ANON: LOGIN, ADMIN: OK}
PROVIDER_ONLY = {**dict.fromkeys(ROLES, FORBIDDEN), ANON: LOGIN, PROVIDER: OK}
# A campaign is seen by members with a site in its areas, invited suppliers and staff.
CAMPAIGN_VIEWERS = {ANON: LOGIN, MEMBER: OK, OTHER: NOT_FOUND, COORD: OK, PROVIDER: OK, ADMIN: OK}
# Consent is given by the owner organisation (the other member owns the member's building).
OWNER_OF_SITE = {**MEMBERS, MEMBER: NOT_FOUND}
HANDOFF = {**STAFF, PROVIDER: OK}  # staff, and the awarded supplier once contracted
# Fibre demand checks: providers and staff; the check in `world` belongs to *another*
# provider, so for the provider it does not exist.
FIBRE_CHECK = {**STAFF, PROVIDER: NOT_FOUND}
# A file of bundles is its maker's (the coordinator in `world`): for others it does not exist.
BUNDLE_FILE = {**STAFF, ADMIN: NOT_FOUND}
# The API takes bearer tokens only: a logged-in session is not enough for anyone.
API = dict.fromkeys(ROLES, NO_TOKEN)

# (endpoint, method) -> expected outcome per role. URL arguments come from `url_args`.
MATRIX: dict[tuple[str, str], dict[str, object]] = {
    ("static", "GET"): EVERYONE,
    ("main.index", "GET"): EVERYONE,
    ("main.language", "POST"): EVERYONE,
    ("ops.health", "GET"): EVERYONE,
    ("ops.ready", "GET"): EVERYONE,
    ("main.leaflet", "GET"): EVERYONE,
    ("main.products_css", "GET"): EVERYONE,
    ("main.areas_geojson", "GET"): LOGGED_IN,
    ("main.provider_home", "GET"): PROVIDERS,
    ("auth.login", "GET"): EVERYONE,
    ("auth.login", "POST"): EVERYONE,
    ("auth.register", "GET"): EVERYONE,
    ("auth.register", "POST"): EVERYONE,
    ("auth.reauthenticate", "GET"): LOGGED_IN,
    ("auth.reauthenticate", "POST"): LOGGED_IN,
    ("auth.forgot_password", "GET"): EVERYONE,
    ("auth.forgot_password", "POST"): EVERYONE,
    ("auth.confirm_email", "GET"): EVERYONE,
    ("auth.confirm_email", "POST"): EVERYONE,
    ("auth.reset_password", "GET"): EVERYONE,
    ("auth.reset_password", "POST"): EVERYONE,
    ("auth.account", "GET"): LOGGED_IN,
    ("auth.account", "POST"): LOGGED_IN,
    # Site pages of other features before the member routes (one of them deletes the site).
    ("heat.site_heat", "GET"): OWN_SITE,
    ("heat.site_heat", "POST"): OWN_SITE,
    ("energy.site_energy", "GET"): OWN_SITE,
    ("energy.site_energy", "POST"): OWN_SITE,
    ("energy.upload_meter", "POST"): OWN_SITE,
    ("energy.delete_meter", "POST"): OWN_SITE,
    # Group buys before the member routes below (deleting the site ends its participation).
    ("mail.outbox", "GET"): ADMINS,
    ("mail.message", "GET"): ADMINS,
    ("campaigns.member_list", "GET"): MEMBERS,
    ("campaigns.member_detail", "GET"): OWN_SITE,
    ("campaigns.map_geojson", "GET"): CAMPAIGN_VIEWERS,
    ("campaigns.consent_requests", "GET"): MEMBERS,
    ("campaigns.owner_consent_link", "GET"): EVERYONE,
    ("campaigns.owner_consent_link", "POST"): EVERYONE,
    ("campaigns.manage_list", "GET"): STAFF,
    ("campaigns.new", "GET"): STAFF,
    ("campaigns.manage", "GET"): STAFF,
    ("campaigns.edit", "GET"): STAFF,
    ("campaigns.compare", "GET"): STAFF,
    ("campaigns.export_csv", "GET"): STAFF,
    ("campaigns.summary", "GET"): STAFF,
    ("campaigns.supplier_list", "GET"): PROVIDER_ONLY,
    ("campaigns.supplier_detail", "GET"): PROVIDER_ONLY,
    ("campaigns.handoff_csv", "GET"): HANDOFF,
    ("campaigns.handoff_list", "GET"): HANDOFF,
    # State changes last among the campaign routes; each is refused for its state or its data.
    ("campaigns.join", "POST"): OWN_SITE,
    ("campaigns.withdraw", "POST"): OWN_SITE,
    ("campaigns.request_consent", "POST"): OWN_SITE,
    ("campaigns.decide_offer", "POST"): OWN_SITE,
    ("campaigns.give_consent", "POST"): OWNER_OF_SITE,
    ("campaigns.new", "POST"): STAFF,
    ("campaigns.edit", "POST"): STAFF,
    ("campaigns.invite_supplier", "POST"): STAFF,
    ("campaigns.award", "POST"): STAFF,
    ("campaigns.transition", "POST"): STAFF,
    ("campaigns.cancel", "POST"): STAFF,
    ("campaigns.submit_bid", "POST"): PROVIDER_ONLY,
    ("campaigns.withdraw_bid", "POST"): PROVIDER_ONLY,
    ("members.dashboard", "GET"): MEMBERS,
    ("members.data", "GET"): MEMBERS,
    ("members.data_export", "GET"): MEMBERS,
    ("members.erase", "POST"): MEMBERS,
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
    ("demand.overview_map", "GET"): STAFF,
    ("demand.site_detail", "GET"): STAFF,
    ("bundles.index", "GET"): STAFF,
    ("bundles.geojson", "GET"): STAFF,
    ("bundles.export", "GET"): STAFF,
    ("bundles.export_all", "GET"): STAFF,
    ("bundles.start_file", "POST"): STAFF,
    ("bundles.file", "GET"): BUNDLE_FILE,
    ("bundles.file_status", "GET"): BUNDLE_FILE,
    ("bundles.download_file", "GET"): BUNDLE_FILE,
    ("bundles.print_summary", "GET"): STAFF,
    ("bundles.multi_product", "GET"): STAFF,
    ("heat.my_networks", "GET"): MEMBERS,
    ("heat.networks", "GET"): STAFF,
    ("heat.networks_geojson", "GET"): STAFF,
    ("heat.export", "GET"): STAFF,
    ("heat.print_summary", "GET"): STAFF,
    ("energy.meter_example", "GET"): MEMBERS,
    ("energy.my_matches", "GET"): MEMBERS,
    ("energy.runs", "GET"): STAFF,
    ("energy.start_run", "POST"): STAFF,
    ("energy.run", "GET"): STAFF,
    ("energy.run_status", "GET"): STAFF,
    ("energy.run_csv", "GET"): STAFF,
    ("energy.run_geojson", "GET"): STAFF,
    ("admin.users", "GET"): ADMINS,
    ("admin.users", "POST"): ADMINS,
    ("admin.start_import", "POST"): ADMINS,
    ("admin.import_status", "GET"): ADMINS,
    ("admin.import_status_json", "GET"): ADMINS,
    ("admin.register", "GET"): ADMINS,
    ("admin.set_role", "POST"): ADMINS,
    ("admin.set_active", "POST"): ADMINS,
    ("admin.tokens", "GET"): ADMINS,
    ("admin.tokens", "POST"): ADMINS,
    ("admin.revoke_token", "POST"): ADMINS,
    ("fibre.checks", "GET"): PROVIDERS,
    ("fibre.new", "GET"): PROVIDERS,
    ("fibre.new", "POST"): PROVIDERS,
    ("fibre.check", "GET"): FIBRE_CHECK,
    ("fibre.edit", "GET"): FIBRE_CHECK,
    ("fibre.edit", "POST"): FIBRE_CHECK,
    ("fibre.progress_geojson", "GET"): FIBRE_CHECK,
    ("fibre.progress_csv", "GET"): FIBRE_CHECK,
    ("fibre.addresses", "GET"): FIBRE_CHECK,
    ("fibre.addresses_csv", "GET"): FIBRE_CHECK,
    ("fibre.add_exclusion", "POST"): FIBRE_CHECK,
    ("fibre.remove_exclusion", "POST"): FIBRE_CHECK,
    ("fibre.consents", "GET"): MEMBERS,
    ("fibre.grant_consent", "POST"): OWN_SITE,
    ("fibre.withdraw_consent", "POST"): OWN_SITE,
    ("api.openapi", "GET"): EVERYONE,
    ("api.checks", "GET"): API,
    ("api.check", "GET"): API,
    ("api.progress", "GET"): API,
    ("api.progress_geojson_view", "GET"): API,
    ("api.progress_csv_view", "GET"): API,
    ("api.addresses", "GET"): API,
    ("api.exclusions", "GET"): API,
    ("api.addresses_csv_view", "GET"): API,
    # Energy hubs: members' grid data and consent, coordinators' hubs.
    ("energy.save_grid", "POST"): OWN_SITE,
    ("energy.upload_quarter_hours", "POST"): OWN_SITE,
    ("energy.delete_quarter_hours", "POST"): OWN_SITE,
    ("energy.add_plan", "POST"): OWN_SITE,
    ("energy.delete_plan", "POST"): OWN_SITE,
    ("energy.quarter_hour_example", "GET"): MEMBERS,
    ("hub.consent", "POST"): OWN_SITE,
    ("hub.index", "GET"): STAFF,
    ("hub.index", "POST"): STAFF,
    ("hub.detail", "GET"): STAFF,
    ("hub.parameters", "POST"): STAFF,
    ("hub.add_site", "POST"): STAFF,
    ("hub.status", "GET"): STAFF,
    ("hub.heat_map", "GET"): STAFF,
    ("hub.summary", "GET"): STAFF,
    ("hub.download_dossier", "GET"): STAFF,
    ("hub.battery_campaign", "POST"): STAFF,
    ("hub.analyse", "POST"): STAFF,
    ("hub.remove_site", "POST"): STAFF,
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
    """A member organisation with a site and demand, another organisation, and staff.

    Group buys: one offered (the member has a pending offer; the member rents the building
    from the other member, who must consent) and one contracted (the provider has the
    hand-off), both on a park around the member's site.
    """
    make.area("Kring Test", AreaKind.KRING, box(230000, 550000, 240000, 560000))
    member = make.user(Role.MEMBER)
    other = make.user(Role.MEMBER)
    site = make.site(member.organisation, tenure=Tenure.TENANT,
                     owner_organisation_id=other.organisation_id)
    fibre_demand = make.demand(site, "fibre", 1)
    buy = Buy(make)
    provider = buy.suppliers[0]
    offered, _bid = buy.offered([(member, site, "400")])
    peer, peer_site = buy.member("400")
    contracted, _bid = buy.offered([(peer, peer_site, "400")], title="Zon 2")
    services.accept_offer(peer_site_offer(contracted), actor=peer)
    services.decide(contracted, actor=buy.coordinator)
    outbox = db.session.scalar(sa.select(Outbox.id))
    run = MatchRun(mode="annual", max_distance_m=500.0, status=RunStatus.QUEUED)
    db.session.add(run)
    db.session.flush()
    other_provider = make.user(Role.PROVIDER)
    coordinator = make.user(Role.COORDINATOR)
    check = fibre_services.create_check(fibre_services.CheckSettings(
        title="Glas", provider=other_provider, deadline=utcnow() + timedelta(days=30),
        threshold_percent=Decimal(30), area_ids=[buy.park.id]), actor=coordinator)
    exclusion = fibre_services.exclude_address(
        check, make.address("9401 ZZ", 1, x=233500, y=556500), reason="vacant", note="",
        actor=coordinator)
    grant_consent(fibre_demand, provider, actor=None)
    token, _secret = issue_token(other_provider, actor=None)
    register_import = RegisterImport(kind="addresses", filename="bag.csv", stored_path="/none",
                                     options={}, status=ImportStatus.DONE,
                                     report={"rows": 0, "inserted": 0, "updated": 0,
                                             "pruned": 0, "bad_count": 0, "bad": []})
    db.session.add(register_import)
    db.session.flush()
    bundle_file = bundle_services.prepare_file(bundle_services.BundleFilter(product="fibre"),
                                               fmt="gpkg", locale="nl", actor=coordinator)
    bundle_services.write_file(bundle_file)
    db.session.add(EnergyAsset(site_id=site.id, kind=AssetKind.CONSUMPTION, annual_kwh=50_000.0))
    plan = ExpansionPlan(site_id=site.id, kind=ExpansionKind.TRUCKS, direction=Direction.TAKE,
                         kw=50.0, from_year=2027, shape="night")
    hub = Hub(name="Hub", source=HubSource.MANUAL, members=[HubSite(site_id=site.id,
                                                                   consent_profile=True)])
    db.session.add_all([plan, hub])
    db.session.flush()
    analysis = hub_services.start_analysis(hub, actor=coordinator)
    hub_services.compute_analysis(analysis)
    return {
        MEMBER: member,
        OTHER: other,
        COORD: coordinator,
        PROVIDER: provider,
        ADMIN: make.user(Role.ADMIN),
        "site_id": site.id,
        "target_user_id": make.user(Role.PROVIDER).id,
        "campaign_id": offered.id,
        "contracted_id": contracted.id,
        "participation_id": offered.participations[0].id,
        "offer_id": offered.participations[0].offer.id,
        "bid_id": offered.awarded_bid.id,
        "message_id": outbox,
        "run_id": run.id,
        "check_id": check.id,
        "exclusion_id": exclusion.id,
        "demand_id": fibre_demand.id,
        "provider_id": provider.id,
        "token_id": token.id,
        "import_id": register_import.id,
        "bundle_file": bundle_file,
        "plan_id": plan.id,
        "hub_id": hub.id,
        "analysis_id": analysis.id,
    }


def peer_site_offer(campaign):
    return campaign.participations[0].offer


def url_args(endpoint, world):
    site_id, user_id = world["site_id"], world["target_user_id"]
    campaign = {"campaign_id": world["campaign_id"]}
    fibre_check = {"check_id": world["check_id"]}
    hub = {"hub_id": world["hub_id"]}
    analysis = {**hub, "analysis_id": world["analysis_id"]}
    return {
        "energy.save_grid": {"site_id": site_id},
        "energy.upload_quarter_hours": {"site_id": site_id},
        "energy.delete_quarter_hours": {"site_id": site_id},
        "energy.add_plan": {"site_id": site_id},
        "energy.delete_plan": {"site_id": site_id, "plan_id": world["plan_id"]},
        "hub.consent": {"site_id": site_id, **hub},
        "hub.detail": hub,
        "hub.parameters": hub,
        "hub.add_site": hub,
        "hub.remove_site": {**hub, "site_id": site_id},
        "hub.analyse": hub,
        "hub.status": analysis,
        "hub.heat_map": analysis,
        "hub.summary": analysis,
        "hub.download_dossier": analysis,
        "hub.battery_campaign": analysis,
        "mail.message": {"message_id": world["message_id"]},
        "auth.reset_password": {"token": "not-a-token"},
        "auth.confirm_email": {"token": "not-a-token"},
        "bundles.export": {"fmt": "csv", "product": "fibre", "site": site_id},
        "bundles.export_all": {"fmt": "csv", "product": "fibre"},
        "bundles.start_file": {"fmt": "gpkg", "product": "fibre"},
        "bundles.file": {"key": world["bundle_file"]},
        "bundles.file_status": {"key": world["bundle_file"]},
        "bundles.download_file": {"key": world["bundle_file"]},
        "demand.overview_map": {"bbox": "6.5,52.9,6.6,53.0", "zoom": 12},
        "demand.site_detail": {"site_id": site_id},
        "bundles.print_summary": {"product": "fibre", "site": site_id},
        "admin.revoke_token": {"token_id": world["token_id"]},
        "admin.start_import": {"kind": "addresses"},
        "admin.import_status": {"import_id": world["import_id"]},
        "admin.import_status_json": {"import_id": world["import_id"]},
        "fibre.check": fibre_check,
        "fibre.edit": fibre_check,
        "fibre.progress_geojson": fibre_check,
        "fibre.progress_csv": fibre_check,
        "fibre.addresses": fibre_check,
        "fibre.addresses_csv": fibre_check,
        "fibre.add_exclusion": fibre_check,
        "fibre.remove_exclusion": {**fibre_check, "exclusion_id": world["exclusion_id"]},
        "fibre.grant_consent": {"demand_id": world["demand_id"]},
        "fibre.withdraw_consent": {"demand_id": world["demand_id"],
                                   "provider_id": world["provider_id"]},
        "api.check": fibre_check,
        "api.progress": fibre_check,
        "api.progress_geojson_view": fibre_check,
        "api.progress_csv_view": fibre_check,
        "api.addresses": fibre_check,
        "api.exclusions": fibre_check,
        "api.addresses_csv_view": fibre_check,
        "heat.site_heat": {"site_id": site_id},
        "heat.export": {"fmt": "geojson"},
        "energy.site_energy": {"site_id": site_id},
        "energy.upload_meter": {"site_id": site_id},
        "energy.delete_meter": {"site_id": site_id, "kind": "pv"},
        "energy.run": {"run_id": world["run_id"]},
        "energy.run_status": {"run_id": world["run_id"]},
        "energy.run_csv": {"run_id": world["run_id"]},
        "energy.run_geojson": {"run_id": world["run_id"]},
        "campaigns.member_detail": campaign,
        "campaigns.map_geojson": campaign,
        "campaigns.owner_consent_link": {"token": "not-a-token"},
        "campaigns.manage": campaign,
        "campaigns.edit": campaign,
        "campaigns.compare": campaign,
        "campaigns.export_csv": campaign,
        "campaigns.summary": campaign,
        "campaigns.supplier_detail": campaign,
        "campaigns.handoff_csv": {"campaign_id": world["contracted_id"]},
        "campaigns.handoff_list": {"campaign_id": world["contracted_id"]},
        "campaigns.join": {**campaign, "site_id": site_id},
        "campaigns.withdraw": {**campaign, "site_id": site_id},
        "campaigns.request_consent": {"participation_id": world["participation_id"]},
        "campaigns.decide_offer": {"offer_id": world["offer_id"], "decision": "accept"},
        "campaigns.give_consent": {"participation_id": world["participation_id"]},
        "campaigns.invite_supplier": campaign,
        "campaigns.award": {**campaign, "bid_id": world["bid_id"]},
        "campaigns.transition": {**campaign, "action": "decide"},
        "campaigns.cancel": campaign,
        "campaigns.submit_bid": campaign,
        "campaigns.withdraw_bid": campaign,
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
    if response.status_code in (401, 403, 404):
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
