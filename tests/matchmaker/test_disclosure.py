"""Class 2 of issue 13: no number below the disclosure rule reaches any byte of a response.

Small and changing groups are built (a group buy of four organisations, one of five, a heat
network of three companies, a park whose demand changes by one member), then every GET route
of the app is opened as each member, the supplier and the provider (and the API with a token),
and every e-mail they were sent is read: the raw bytes — text, attributes, JSON, GeoJSON, CSV —
are searched for the protected numbers in every notation (1234, 1.234, 1,234, 1234.0, 1234,5,
a percentage, a bar length). A route with an argument the sweep cannot fill fails the test, so
a new page is swept without being named here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from itertools import product as combinations

import pytest
import sqlalchemy as sa
from flask import url_for
from shapely.geometry import box

from matchmaker.api.services import issue_token
from matchmaker.auth.models import Role, User
from matchmaker.campaigns import services
from matchmaker.demand.models import Demand
from matchmaker.demand.services import publish_park_demand, register_demand
from matchmaker.extensions import db
from matchmaker.fibre import services as fibre
from matchmaker.heat.services import save_heat
from matchmaker.mail.models import Outbox
from matchmaker.members.models import Site
from matchmaker.models import utcnow
from matchmaker.register.models import AreaKind

from .test_campaign_support import Buy, tiers

#: Endpoints whose bytes are files of the app itself, not data.
NOT_DATA = {"static", "main.leaflet", "main.products_css"}


def notations(value: Decimal) -> set[str]:
    """A number as any page, file or API might write it."""
    value = Decimal(value)
    whole = int(value.to_integral_value())
    plain = format(value.normalize(), "f")
    forms = {plain, plain.replace(".", ","), f"{value:.1f}", f"{value:.1f}".replace(".", ",")}
    for n in {whole, int(value)}:
        forms |= {str(n), f"{n:,}", f"{n:,}".replace(",", "."), f"{n:,}".replace(",", "\u00a0"),
                  f"{n}.0"}
    if "." in plain:
        head, tail = plain.split(".")
        grouped = f"{int(head):,}"
        forms |= {f"{grouped}.{tail}", f"{grouped.replace(',', '.')},{tail}"}
    return {f for f in forms if len(f.replace(".", "").replace(",", "")) >= 3}


def percent_forms(value: Decimal) -> list[re.Pattern[bytes]]:
    """A share of a threshold: exact, rounded and "about" (to tens), with a % or as an
    attribute value."""
    forms = {str(int(value.to_integral_value())), str(int(value // 10 * 10)),
             f"{value:.1f}", f"{value:.1f}".replace(".", ",")}
    patterns = []
    for form in forms:
        patterns.append(re.compile(
            rf"(?<![\d.,]){re.escape(form)}\s*(?:%|&#37;|&nbsp;%|\xc2\xa0%)".encode()))
        patterns.append(re.compile(rf'="{re.escape(form)}"'.encode()))
    return patterns


def number_patterns(values: Iterable[Decimal]) -> list[re.Pattern[bytes]]:
    return [re.compile(rf"(?<![\d.,]){re.escape(form)}(?!\d)(?![.,]\d)".encode())
            for value in values for form in notations(value)]


def leaks(body: bytes, patterns: list[re.Pattern[bytes]]) -> list[str]:
    found = []
    for pattern in patterns:
        match = pattern.search(body)
        if match:
            start = max(match.start() - 60, 0)
            found.append(f"{pattern.pattern!r}: ...{body[start:match.end() + 20]!r}")
    return found


class Sweep:
    """Opens every GET route as one viewer, with every argument value that viewer has."""

    def __init__(self, app, client, auth, candidates):
        self.app, self.client, self.auth, self.candidates = app, client, auth, candidates

    def routes(self):
        for rule in self.app.url_map.iter_rules():
            if "GET" in rule.methods and rule.endpoint not in NOT_DATA:
                yield rule

    def bodies(self, viewer: User | None, *, token: str | None = None) -> dict[str, bytes]:
        if viewer is not None:
            assert self.auth.login(viewer).status_code == 302
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        seen: dict[str, bytes] = {}
        for rule in self.routes():
            if (token is not None) != rule.endpoint.startswith("api."):
                continue
            names = sorted(rule.arguments)
            missing = [n for n in names if n not in self.candidates]
            assert not missing, (f"{rule.rule}: the disclosure sweep has no values for "
                                 f"{missing}; add them to `candidates`")
            for values in combinations(*(self.candidates[n](viewer) for n in names)):
                with self.app.test_request_context():
                    try:
                        url = url_for(rule.endpoint, **dict(zip(names, values, strict=True)))
                    except ValueError:  # not one of an <any(...)> argument's values
                        continue
                response = self.client.get(url, headers=headers)
                if response.status_code == 200:
                    seen[url] = response.data
        if viewer is not None:
            self.auth.logout()
        return seen


def mail_bodies(user: User) -> bytes:
    return b"".join((m.subject + m.body_text + (m.body_html or "")).encode() for m in
                    db.session.scalars(sa.select(Outbox).where(Outbox.recipient == user.email)))


@pytest.fixture
def small_world(make):
    buy = Buy(make)
    coordinator, supplier = buy.coordinator, buy.suppliers[0]
    threshold = "9000"
    small = buy.open(buy.campaign(title="Vier", threshold_quantity=threshold,
                                  tier_list=tiers((0, "1000"), (3000, "950"), (6000, "900"))),
                     suppliers=[supplier])
    five = buy.open(buy.campaign(title="Vijf", threshold_quantity="3000"), suppliers=[supplier])
    small_members = [buy.member(q) for q in ("1234.5", "2345.5", "1111.5", "987.5")]
    for user, site in small_members:
        buy.join(small, user, site, site.demands[0].quantity)
    five_members = [buy.member(q) for q in ("501.5", "602.5", "703.5", "804.5", "905.5")]
    for user, site in five_members:
        buy.join(five, user, site, site.demands[0].quantity)
    # A group buy of three with offers out, two of them accepted.
    offered_members = [buy.member(q) for q in ("3333.5", "4444.5", "5555.5")]
    offered, _bid = buy.offered([(u, site, site.demands[0].quantity)
                                 for u, site in offered_members], title="Drie")
    for participation in offered.participations[:2]:
        services.accept_offer(participation.offer, actor=next(
            u for u, site in offered_members if site.id == participation.site_id))
    # A heat network: a waste-heat source, the member and one more user of heat.
    heat_member, heat_site = buy.member(None, x=240100, y=560100)
    for n, (mwh, role) in enumerate(((912.6, "source"), (333.3, "sink"), (456.7, "sink"))):
        owner, site = (heat_member, heat_site) if n == 1 else buy.member(
            None, x=240100 + 60 * n, y=560100)
        save_heat(site, actor=owner, source_mwh=mwh if role == "source" else None,
                  source_temperature_c=60 if role == "source" else None, source_months=[],
                  sink_mwh=mwh if role == "sink" else None, sink_gas_m3=None,
                  sink_temperature_class="low", share_name=False)
    # A quiet park where the providers' per-park numbers move over time.
    quiet = make.area("Stilpark", AreaKind.PARK, box(250000, 560000, 251000, 561000))
    park_members = []
    for n in range(5):
        user = make.user(Role.MEMBER)
        site = make.site(user.organisation, x=250100 + 100 * n, y=560500)
        make.demand(site, "insulation", Decimal("11.5") + n)
        park_members.append((user, site))
    provider = make.user(Role.PROVIDER)
    check = fibre.create_check(fibre.CheckSettings(
        title="Glas", provider=provider, deadline=utcnow() + timedelta(days=30),
        threshold_percent=Decimal(30), area_ids=[buy.park.id]), actor=coordinator)
    _row, token = issue_token(provider, actor=None)
    return {"buy": buy, "small": small, "five": five, "small_members": small_members,
            "five_members": five_members, "offered": offered, "offered_members": offered_members,
            "heat_member": heat_member, "quiet": quiet,
            "park_members": park_members, "provider": provider, "supplier": supplier,
            "check": check, "token": token, "threshold": Decimal(threshold)}


@pytest.fixture
def sweep(app, client, auth, small_world):
    def own_sites(viewer):
        if viewer is None or viewer.organisation_id is None:
            return [1]
        return list(db.session.scalars(sa.select(Site.id).where(
            Site.organisation_id == viewer.organisation_id))) or [1]

    campaigns = [small_world["small"].id, small_world["five"].id, small_world["offered"].id]
    candidates = {
        "site_id": own_sites,
        "product_code": lambda viewer: ["solar_roof", "insulation"],
        "campaign_id": lambda viewer: campaigns,
        "check_id": lambda viewer: [small_world["check"].id],
        "run_id": lambda viewer: [1],
        "message_id": lambda viewer: list(db.session.scalars(sa.select(Outbox.id))) or [1],
        "token": lambda viewer: ["not-a-token"],
        "fmt": lambda viewer: ["csv", "geojson", "gpkg"],
        # Energy hubs are staff pages; every id is tried (a member or supplier gets a 403).
        "hub_id": lambda viewer: [1],
        "analysis_id": lambda viewer: [1],
        "import_id": lambda viewer: [1],
        "key": lambda viewer: ["0" * 32],  # files of bundles: staff only, made per person
    }
    return Sweep(app, client, auth, candidates)


def protected_in_campaign(members, viewer=None, *, threshold=None):
    """The total of a group buy and what a participant could work out from it."""
    quantities = [site.demands[0].quantity for _user, site in members]
    total = sum(quantities, Decimal(0))
    values = [total] + [total - q for (u, _s), q in zip(members, quantities, strict=True)
                        if viewer is not None and u.id == viewer.id]
    patterns = number_patterns(values)
    if threshold:
        share = total * 100 / threshold
        patterns += percent_forms(share)
        # The bar's length: the volume on a scale that reaches 10 % past the threshold.
        bar = (total * 100 / (max(total, threshold) * Decimal("1.1"))).quantize(Decimal("0.1"))
        patterns.append(re.compile(rf'width="{bar}%"'.encode()))
    return patterns


def test_small_groups_show_no_number_in_any_byte(app, small_world, sweep):
    w = small_world
    problems = []
    viewers = [*(u for u, _ in w["small_members"]), *(u for u, _ in w["five_members"]),
               *(u for u, _ in w["offered_members"])]
    # Registered 13.333,5 and accepted 7.778 in the group buy of three (and what each of them
    # could work out with its own quantity).
    offered = [Decimal("13333.5"), Decimal(7778)]
    for viewer in viewers:
        pages = sweep.bodies(viewer)
        pages["mail"] = mail_bodies(viewer)
        patterns = protected_in_campaign(w["small_members"], viewer, threshold=w["threshold"])
        own = [site.demands[0].quantity for u, site in w["offered_members"] if u.id == viewer.id]
        patterns += number_patterns(offered + [v - q for v in offered for q in own])
        if viewer in {u for u, _ in w["five_members"]}:  # four others: hidden for them only
            patterns += protected_in_campaign(w["five_members"], viewer)
        for url, body in pages.items():
            problems += [f"{viewer.email} {url}: {leak}" for leak in leaks(body, patterns)]
    supplier_pages = sweep.bodies(w["supplier"])
    supplier_pages["mail"] = mail_bodies(w["supplier"])
    supplier_patterns = protected_in_campaign(w["small_members"], threshold=w["threshold"])
    supplier_patterns += number_patterns(offered)
    for url, body in supplier_pages.items():
        problems += [f"supplier {url}: {leak}" for leak in leaks(body, supplier_patterns)]
    assert not problems, "\n".join(problems)
    # Not vacuous: with five organisations the supplier does see the total (3.517,5), and a
    # member sees its own registration.
    five_total = number_patterns([Decimal("3517.5")])
    assert any(leaks(body, five_total) for body in supplier_pages.values())
    own = number_patterns([Decimal("1234.5")])
    first = w["small_members"][0][0]
    assert any(leaks(body, own) for body in sweep.bodies(first).values())


def test_a_growing_group_buy_shows_its_total_only_from_five_other_members_on(small_world,
                                                                             sweep, make):
    w = small_world
    buy, small = w["buy"], w["small"]
    fifth = buy.member("1000.5")
    buy.join(small, *fifth, "1000.5")
    members = [*w["small_members"], fifth]
    for viewer in (members[0][0], fifth[0]):  # four others each: still hidden
        patterns = protected_in_campaign(members, viewer, threshold=w["threshold"])
        for url, body in sweep.bodies(viewer).items():
            assert not leaks(body, patterns), url
    sixth = buy.member("2000.5")
    buy.join(small, *sixth, "2000.5")
    total = number_patterns([Decimal(8680)])  # 5679 + 1000,5 + 2000,5
    assert any(leaks(body, total) for body in sweep.bodies(members[0][0]).values())


def test_a_heat_network_of_three_companies_shows_the_member_no_figures(small_world, sweep):
    viewer = small_world["heat_member"]
    # The source's waste heat, the other user's heat, the network's heat use (333,3 + 456,7).
    patterns = number_patterns([Decimal("912.6"), Decimal("456.7"), Decimal(790)])
    pages = sweep.bodies(viewer)
    assert any(b"Kansrijk net" in body for body in pages.values())
    for url, body in pages.items():
        assert not leaks(body, patterns), url


def test_park_totals_move_only_by_the_daily_rule(small_world, sweep):
    w = small_world
    provider = w["provider"]
    day = fibre.today()
    publish_park_demand(day)
    before = number_patterns([Decimal("67.5")])  # 11,5 + 12,5 + 13,5 + 14,5 + 15,5
    first = sweep.bodies(provider)["/provider"]
    assert leaks(first, before), "the park total is published for five members"
    # One member doubles its demand: today's page stays as it was ...
    demand = db.session.scalar(sa.select(Demand).join(Demand.site).where(
        Site.organisation_id == w["park_members"][0][0].organisation_id))
    register_demand(demand.site, demand.product, actor=w["park_members"][0][0],
                    quantity=Decimal("111.5"), stage=demand.stage,
                    expected_version=demand.version)
    moved = number_patterns([Decimal("167.5"), Decimal(100)])  # the new total, the change

    def table(page: bytes) -> bytes:
        return re.search(rb"<table>.*</table>", page, re.DOTALL).group(0)

    assert table(sweep.bodies(provider)["/provider"]) == table(first)
    # ... and the next day's number may not move by one member: the day is hidden.
    publish_park_demand(day + timedelta(days=1))
    page = sweep.bodies(provider)["/provider"]
    assert not leaks(page, moved) and not leaks(page, before)
    # When every member changed, the number moves (by five members at once).
    for user, site in w["park_members"][1:]:
        own = site.demands[0]
        register_demand(site, own.product, actor=user, quantity=own.quantity + 10,
                        stage=own.stage, expected_version=own.version)
    publish_park_demand(day + timedelta(days=2))
    assert leaks(sweep.bodies(provider)["/provider"], number_patterns([Decimal("207.5")]))
    api_pages = sweep.bodies(None, token=w["token"])
    assert api_pages and not any(leaks(body, moved) for body in api_pages.values())
