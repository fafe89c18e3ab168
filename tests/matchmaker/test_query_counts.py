"""Query discipline: the main page of each role reads a fixed number of queries, however much
data there is (issue #14: no per-row queries at province scale).

Each page is requested in a world of some size and again after the world has grown to three
times that size (more organisations, sites, demand, group buys with their participants, fibre
checks, energy data, users, parks); the number of SQL statements must not grow. A per-row query
(a lazy load in a loop, a total per row) shows up as a difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from matchmaker.api.services import issue_token
from matchmaker.auth.models import Role, User
from matchmaker.demand.models import Stage
from matchmaker.demand.services import grant_consent
from matchmaker.energy.models import AssetKind, EnergyAsset
from matchmaker.energy.services import compute_run, start_run
from matchmaker.extensions import db
from matchmaker.fibre import services as fibre
from matchmaker.models import utcnow
from matchmaker.register.models import AreaKind
from tests.matchmaker.test_campaign_support import Buy


@contextmanager
def counting() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


class World:
    """A park with group buys, fibre checks and energy data, grown step by step."""

    def __init__(self, make: Any) -> None:
        self.make = make
        self.buy = Buy(make, prefix="q")
        self.provider = self.buy.suppliers[0]
        self.admin = make.user(Role.ADMIN)
        self.member, self.site = self.buy.member("120")
        self.token = issue_token(self.provider, actor=None, name="counts")[1]
        self.campaigns: list[Any] = []
        self.checks: list[Any] = []
        self.runs: list[int] = []
        self.parks = 0
        self.round = 0

    def grow(self, n: int) -> None:
        """n more of everything: organisations with sites and demand (some consenting to the
        provider), parks, a group buy that every member joined, a fibre check, energy data, and
        for the demo member one more site with demand."""
        self.round += 1
        make = self.make
        kring = make.area(f"Kring {self.round}", AreaKind.KRING,
                          box(230000 + self.round, 550000, 240000, 560000))
        for i in range(n):
            self.parks += 1
            x0 = 240000 + 2000 * self.parks
            make.area(f"Park {self.parks}", AreaKind.PARK, box(x0, 556000, x0 + 1000, 557000))
        members = []
        for i in range(3 * n):
            user, site = self.buy.member(str(50 + i), flat_roof_area_m2=500.0 + i)
            user.organisation.kring = kring
            fibre_demand = make.demand(site, "fibre", 1, stage=Stage.COMMITTED if i % 2
                                       else Stage.INTEREST)
            if i % 3 == 0:
                grant_consent(fibre_demand, self.provider, actor=user)
            make.demand(site, "insulation", 200 + i)
            db.session.add(EnergyAsset(site_id=site.id, kind=AssetKind.CONSUMPTION,
                                       annual_kwh=30_000 + i, profile_category="g1"))
            members.append((user, site))
            make.user(Role.MEMBER, organisation=user.organisation)
        own = make.site(self.member.organisation, x=233150 + 7 * self.round, y=556150)
        make.demand(own, "solar_roof", 80)
        make.demand(own, "fibre", 1, stage=Stage.COMMITTED)
        db.session.add(EnergyAsset(site_id=own.id, kind=AssetKind.PV, capacity_kw=50,
                                   annual_kwh=50 * 875))
        campaign = self.buy.open(self.buy.campaign(title=f"Zon {self.round}"))
        for user, site in [(self.member, self.site), *members]:
            self.buy.join(campaign, user, site, "60")
        self.buy.join(campaign, self.member, own, "40")
        self.campaigns.append(campaign)
        self.checks.append(fibre.create_check(fibre.CheckSettings(
            title=f"Glas {self.round}", provider=self.provider,
            deadline=utcnow() + timedelta(days=30), threshold_percent=Decimal(30),
            area_ids=[self.buy.park.id]), actor=self.buy.coordinator))
        for i in range(n):
            make.address("9401 ZZ", 100 * self.round + i, x=233200 + 10 * i, y=556300)
        db.session.flush()
        run = start_run(actor=self.buy.coordinator, mode="annual", max_distance_m=2000)
        compute_run(run)
        self.runs.append(run.id)


#: (role, url) per main page; a callable gets the world.
PAGES: list[tuple[str, str | Callable[[World], str]]] = [
    ("member", "/dashboard"),
    ("member", "/campaigns"),
    ("member", lambda w: f"/campaigns/{w.campaigns[0].id}"),
    ("member", "/energy/matches"),
    ("member", "/heat"),
    ("member", "/fibre/consents"),
    ("member", lambda w: f"/sites/{w.site.id}/energy"),
    ("coordinator", "/coordinator/demand"),
    ("coordinator", "/coordinator/demand?product=fibre&stage=committed"),
    ("coordinator", "/coordinator/bundles?product=solar_roof"),
    ("coordinator", "/coordinator/campaigns"),
    ("coordinator", lambda w: f"/coordinator/campaigns/{w.campaigns[0].id}"),
    ("coordinator", "/coordinator/energy"),
    ("coordinator", lambda w: f"/coordinator/energy/runs/{w.runs[0]}"),
    ("coordinator", "/coordinator/heat"),
    ("provider", "/provider"),
    ("provider", "/supplier/campaigns"),
    ("provider", lambda w: f"/supplier/campaigns/{w.campaigns[0].id}"),
    ("provider", "/fibre/checks"),
    ("provider", lambda w: f"/fibre/checks/{w.checks[0].id}"),
    ("api", lambda w: f"/api/v1/checks/{w.checks[0].id}/progress"),
    ("api", "/api/v1/checks"),
    ("admin", "/admin/users"),
]


def _user(world: World, role: str) -> User:
    return {"member": world.member, "coordinator": world.buy.coordinator,
            "provider": world.provider, "admin": world.admin}[role]


def page_queries(client: Any, world: World, role: str, url: str) -> Counter[str]:
    """The statements one request of ``url`` runs (by their first 150 characters)."""
    headers = {"Authorization": f"Bearer {world.token}"} if role == "api" else {}
    client.get(url, headers=headers)  # warm: the day's fibre snapshot, caches, lazy imports
    with counting() as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    return Counter(" ".join(s.split())[:150] for s in statements)


def counts(client: Any, auth: Any, world: World) -> dict[str, Counter[str]]:
    result = {}
    for role, target in PAGES:
        url = target(world) if callable(target) else target
        if role != "api":
            auth.login(_user(world, role))
        result[f"{role} {url}"] = page_queries(client, world, role, url)
        if role != "api":
            auth.logout()
    return result


@pytest.mark.parametrize("start", [2])
def test_main_pages_do_not_query_per_row(client, auth, make, start):
    world = World(make)
    world.grow(start)
    fibre.refresh()
    small = counts(client, auth, world)
    world.grow(2 * start)
    fibre.refresh()
    large = counts(client, auth, world)
    # Keys hold the urls of the first world's objects, so both runs request the same pages.
    grown = {page: (small[page].total(), large[page].total(), list(large[page] - small[page])[:3])
             for page in small if large[page].total() > small[page].total()}
    assert not grown, f"queries grow with the data (small, 3× larger, which): {grown}"
