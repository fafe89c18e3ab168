"""Stored and cached aggregates are exact: every change of the rows they come from, by any
path (the ORM, a bulk statement, a cascade), makes the next page compute them again."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from shapely.geometry import box

from matchmaker.auth.models import Role
from matchmaker.caching import version_of
from matchmaker.database import write_intent
from matchmaker.demand import services as demand_services
from matchmaker.demand.models import Demand
from matchmaker.extensions import db
from matchmaker.fibre import services as fibre_services
from matchmaker.fibre.models import FibreProgressCache, FibreProviderCache
from matchmaker.members.models import Site
from matchmaker.register.models import AreaKind

from .test_fibre import Fibre


def test_demand_totals_follow_every_change(client, auth, make, text_of):
    org = make.organisation("Zon BV")
    sites = [make.site(org, x=233000 + 10 * i, y=556000) for i in range(3)]
    demands = [make.demand(s, "solar_roof", 100) for s in sites]
    auth.login(make.user(Role.COORDINATOR))

    def totals() -> str:
        page = text_of(client.get("/coordinator/demand?product=solar_roof"))
        return page[page.index("kWp") - 8:page.index("kWp") + 60]

    assert "300 kWp" in totals() and "3 panden" in totals()
    before = version_of("demand")
    demands[0].quantity = 150  # the ORM
    db.session.flush()
    assert version_of("demand") != before
    assert "350 kWp" in totals()
    db.session.execute(sa.update(Demand).where(Demand.id == demands[1].id)
                       .values(quantity=50))  # a bulk statement
    assert "300 kWp" in totals()
    db.session.execute(sa.delete(Site).where(Site.id == sites[2].id))  # cascades to its demand
    assert "200 kWp" in totals() and "2 panden" in totals()

    # The table's page, rendered once per version, follows too (a row's quantity, a name).
    def table() -> str:
        html = client.get("/coordinator/demand?product=solar_roof").get_data(as_text=True)
        return html[html.index("<tbody>"):html.index("</tbody>")]

    assert table().count("<tr>") == 2 and "150\xa0kWp" in table()
    demands[0].quantity = 120
    org.name = "Zon en Wind BV"
    db.session.flush()
    assert "120\xa0kWp" in table() and "150\xa0kWp" not in table()
    assert "Zon en Wind BV" in table()


def test_the_kept_overview_is_everyones_but_its_frame_is_the_users_own(client, auth, make):
    """The overview's content is rendered once per version, language and query string and
    shown to every staff member; the menu and messages around it stay each user's own, a new
    area is an option at once, and a filter that does not validate is refused every time."""
    make.demand(make.site(make.organisation("Zon BV"), x=233000, y=556000), "solar_roof", 100)
    admin, coordinator = make.user(Role.ADMIN), make.user(Role.COORDINATOR)

    def page(user, query: str = "") -> str:
        auth.login(user)
        html = client.get(f"/coordinator/demand{query}").get_data(as_text=True)
        auth.logout()
        return html

    as_admin, as_coordinator = page(admin), page(coordinator)
    assert "/admin/users" in as_admin and "/admin/users" not in as_coordinator
    content = as_admin[as_admin.index('<div class="page-head">'):as_admin.index("</main>")]
    assert content in as_coordinator and "Zon BV" in content

    make.area("Nieuw Park", AreaKind.PARK, box(232000, 555000, 234000, 557000))
    assert ">Nieuw Park</option>" in page(coordinator)
    auth.login(coordinator)
    for _ in range(2):
        assert client.get("/coordinator/demand?area_id=999999").status_code == 400
    client.post("/language", data={"lang": "en"})
    assert "All demand" in client.get("/coordinator/demand").get_data(as_text=True)


def test_a_total_seen_in_a_rolled_back_transaction_is_never_shown_later(client, auth, make,
                                                                         text_of):
    """A request that changed demand and was rolled back leaves its version behind; the next
    change gets another version, so the totals it cached are not taken for the new state."""
    site = make.site(make.organisation("Zon BV"))
    demand = make.demand(site, "solar_roof", 100)
    auth.login(make.user(Role.COORDINATOR))
    db.session.commit()  # a savepoint: the test's own transaction is rolled back at the end
    versions = set()
    for quantity in (70, 80):
        nested = db.session.begin_nested()
        demand.quantity = quantity
        db.session.flush()
        versions.add(version_of("demand"))
        assert f"{quantity} kWp" in text_of(client.get("/coordinator/demand?product=solar_roof"))
        nested.rollback()
    assert len(versions) == 2  # the same number of changes, two different versions
    demand.quantity = 90
    db.session.flush()
    assert "90 kWp" in text_of(client.get("/coordinator/demand?product=solar_roof"))


def test_a_consent_given_after_the_progress_was_stored_counts_at_once(make):
    fibre = Fibre(make)
    people = fibre.members(7)
    check = fibre.check()
    fibre_services.refresh(date(2030, 3, 1))
    with write_intent():  # as the scheduler's command runs it
        fibre_services.prepare_progress()
    assert fibre_services.progress(check).areas[0].committed == 7
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FibreProviderCache)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FibreProgressCache)) == 1

    for _user, _site, demand in people[:3]:
        demand_services.grant_consent(demand, fibre.provider, actor=None)
    # Three known by name: "7 − 3" would reveal four members; hidden for this provider now.
    assert fibre_services.progress(check).areas[0].committed is None
    for _user, _site, demand in people[:3]:
        demand_services.withdraw_consent(demand, fibre.provider, actor=None)
    assert fibre_services.progress(check).areas[0].committed == 7
