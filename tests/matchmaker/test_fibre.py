"""Fibre demand checks: denominators from the register, the disclosure rule against
differencing (overlapping areas, successive days, names known by consent), consent and the
audit log, threshold e-mail, snapshots, what-if and the pages."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from shapely.geometry import Polygon, box

from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import Role
from matchmaker.demand import services as demand_services
from matchmaker.demand.models import Stage
from matchmaker.extensions import db
from matchmaker.fibre import services
from matchmaker.fibre.models import FibreCheck, FibreSnapshot, Grouping
from matchmaker.mail.models import Outbox
from matchmaker.models import utcnow
from matchmaker.register.models import AreaKind

PARK = box(233000, 556000, 234000, 557000)
EAST = box(234000, 556000, 235000, 557000)  # shares the edge x = 234000 with PARK
DAY = date(2030, 3, 1)


def day(n: int) -> date:
    return DAY + timedelta(days=n)


class Fibre:
    """A park, two providers, and members with fibre demand placed where a test wants."""

    def __init__(self, make):
        self.make = make
        self.park = make.area("Glaspark", AreaKind.PARK, PARK)
        self.provider = make.user(Role.PROVIDER)
        self.provider.name = "Glas BV"
        self.other_provider = make.user(Role.PROVIDER)
        self.other_provider.name = "Vezel NV"
        self.coordinator = make.user(Role.COORDINATOR)

    def member(self, x: float = 233500, y: float = 556500, stage: Stage = Stage.COMMITTED,
               **site):
        user = self.make.user(Role.MEMBER)
        place = self.make.site(user.organisation, x=x, y=y, **site)
        demand = self.make.demand(place, "fibre", 1, stage=stage)
        return user, place, demand

    def members(self, n: int, *, x: float = 233500, y: float = 556500, **kw):
        return [self.member(x=x + 3 * i, y=y, **kw) for i in range(n)]

    def check(self, *, areas=None, geometry=None, provider=None, **kw) -> FibreCheck:
        settings = services.CheckSettings(
            title="Glasvezel", provider=provider or self.provider,
            deadline=utcnow() + timedelta(days=30),
            threshold_percent=kw.pop("threshold_percent", Decimal(30)),
            area_ids=[a.id for a in (areas if areas is not None else [self.park])],
            geometry=geometry, **kw)
        return services.create_check(settings, actor=self.coordinator)


@pytest.fixture
def fibre(make):
    return Fibre(make)


def rows(check, **kw):
    return {row.name or row.key: row for row in services.progress(check, **kw).areas}


def test_denominator_is_register_addresses_of_the_counted_uses_minus_exclusions(make, fibre):
    inside = make.address("9401 AA", 1, x=233500, y=556500, use="kantoorfunctie")
    make.address("9401 AA", 2, x=233600, y=556500, use="industriefunctie,kantoorfunctie")
    make.address("9401 AA", 3, x=233700, y=556500, use="woonfunctie")  # a home: not counted
    make.address("9401 AA", 4, x=233800, y=556500, use="woonfunctie,winkelfunctie")  # mixed: counted
    make.address("9401 AA", 5, x=234000, y=556500, use="winkelfunctie")  # on the edge: counted
    make.address("9401 AA", 6, x=234001, y=556500, use="winkelfunctie")  # just outside
    check = fibre.check()
    services.refresh(day(0))
    assert rows(check)["Glaspark"].addresses == 4

    services.exclude_address(check, inside, reason="vacant", note="", actor=fibre.provider)
    row = rows(check)["Glaspark"]
    assert (row.addresses, row.excluded) == (3, 1)
    assert row.needed == 1  # 30 % of 3 addresses, rounded up

    shops = fibre.check(counted_uses=["winkelfunctie"])
    assert rows(shops)["Glaspark"].addresses == 2  # numbers 4 and 5; the exclusion is per check
    outside = make.address("9401 AB", 1, x=236000, y=556500)
    with pytest.raises(services.ServiceError):
        services.exclude_address(check, outside, reason="vacant", note="", actor=fibre.provider)


def test_a_site_counts_at_its_bag_address_and_two_sites_there_count_once(make, fibre):
    record = make.address("9401 AA", 9, x=233500, y=556500, bag_id="0106010000000099")
    # The site itself was placed outside the park, but its BAG id puts the address inside.
    fibre.member(x=236000, y=556500, bag_id=record.id)
    fibre.member(x=236100, y=556500, bag_id=record.id, stage=Stage.INTEREST)
    fibre.member(x=236200, y=556500)  # no BAG id: counts where the site is (outside)
    units = services.current_units()
    assert len(units) == 2
    assert units.loc[units["unit_key"] == record.id, "stage"].item() == Stage.COMMITTED


def test_fewer_than_five_members_or_one_dominant_member_stay_hidden(make, fibre):
    fibre.members(4)
    check = fibre.check()
    services.refresh(day(0))
    assert rows(check)["Glaspark"].committed is None

    fibre.members(1)
    services.refresh(day(1))
    assert rows(check)["Glaspark"].committed == 5  # day 0 was never shown: nothing to subtract

    fibre.members(4)
    services.refresh(day(2))
    assert rows(check)["Glaspark"].committed is None  # 5 → 9 is four members

    fibre.members(1)
    services.refresh(day(3))
    assert rows(check)["Glaspark"].committed == 10  # five more than the day shown before

    big, _site, _demand = fibre.member()
    for i in range(40):  # one member with 41 addresses out of 51
        site = make.site(big.organisation, x=233600 + i, y=556600)
        make.demand(site, "fibre", 1)
    services.refresh(day(4))
    assert rows(check)["Glaspark"].committed is None


def test_overlapping_areas_cannot_be_subtracted(make, fibre):
    """A, B and A ∪ B: with 2 members in A ∩ B, A + B − (A ∪ B) would reveal them."""
    a = make.area("A", AreaKind.NEIGHBOURHOOD, box(233000, 556000, 233600, 557000))
    b = make.area("B", AreaKind.NEIGHBOURHOOD, box(233400, 556000, 234000, 557000))
    fibre.members(6, x=233100)  # A only
    fibre.members(2, x=233500)  # A ∩ B
    fibre.members(6, x=233800)  # B only
    check = fibre.check(areas=[a, b, fibre.park])  # the park is A ∪ B
    services.refresh(day(0))
    state = services.progress(check)
    published = [r.committed for r in state.areas + state.groups]
    assert published == [None] * len(published)

    fibre.members(3, x=233500)  # now 5 in A ∩ B: every cell is safe
    services.refresh(day(1))
    state = services.progress(check)
    assert [r.committed for r in state.areas] == [11, 11, 17]
    assert state.groups[0].committed == 17  # all together = A ∪ B, counted once


def test_a_new_area_that_would_split_a_published_number_stays_hidden(make, fibre):
    fibre.members(8, x=233100)
    fibre.members(2, x=233900)
    park_check = fibre.check()
    services.refresh(day(0))
    assert rows(park_check)["Glaspark"].committed == 10
    # A polygon around the two members in the east: park − polygon = those two, yesterday too.
    corner = Polygon([(233800, 556000), (234000, 556000), (234000, 557000), (233800, 557000)])
    drawn = fibre.check(geometry=corner, areas=[])
    services.refresh(day(1))
    (drawn_row,) = services.progress(drawn).areas
    assert not drawn_row.admitted and drawn_row.committed is None
    assert rows(park_check)["Glaspark"].committed == 10  # the park itself is still shown

    # Drawn over empty land next to the park it splits nothing: admitted and shown (0).
    empty = Polygon([(234200, 556000), (234800, 556000), (234800, 556500)])
    far = fibre.check(geometry=empty, areas=[])
    services.refresh(day(1))
    (far_row,) = services.progress(far).areas
    assert far_row.admitted and far_row.committed == 0


def test_successive_days_do_not_reveal_one_member(fibre):
    fibre.members(6)
    check = fibre.check()
    services.refresh(day(0))
    assert rows(check)["Glaspark"].committed == 6
    (_u, _s, demand), = fibre.members(1)
    services.refresh(day(1))
    trend = rows(check)["Glaspark"].trend
    assert [p.committed for p in trend] == [6, None]  # 6 → 7 would show who joined that day
    demand.stage = Stage.WITHDRAWN  # and back to 6: the same as a shown day, so shown
    db.session.flush()
    services.refresh(day(2))
    assert [p.committed for p in rows(check)["Glaspark"].trend] == [6, None, 6]
    fibre.members(5)
    services.refresh(day(3))
    assert [p.committed for p in rows(check)["Glaspark"].trend] == [6, None, 6, 11]
    # Every number once decided stays decided: refreshing a day again changes nothing.
    services.refresh(day(1))
    assert rows(check)["Glaspark"].trend[1].committed is None


def test_members_known_by_consent_cannot_be_subtracted_from_a_count(fibre):
    people = fibre.members(7)
    check = fibre.check()
    other = fibre.check(provider=fibre.other_provider)
    for _user, _site, demand in people[:3]:
        demand_services.grant_consent(demand, fibre.provider, actor=None)
    services.refresh(day(0))
    # The provider knows three by name; the other four would be "7 − 3": hidden for it.
    assert rows(check)["Glaspark"].committed is None
    assert rows(other)["Glaspark"].committed == 7
    listed = services.consented_addresses(check, actor=fibre.provider, via="web")
    assert {a.demand_id for a in listed} == {d.id for _u, _s, d in people[:3]}
    assert services.consented_addresses(other, actor=fibre.other_provider, via="web") == []


def test_exclusions_change_the_denominator_only(make, fibre):
    record = make.address("9401 AA", 1, x=233500, y=556500)
    fibre.members(6)
    fibre.member(bag_id=record.id)
    check = fibre.check()
    services.refresh(day(0))
    before = rows(check)["Glaspark"]
    services.exclude_address(check, record, reason="connected", note="", actor=fibre.provider)
    after = rows(check)["Glaspark"]
    assert after.committed == before.committed == 7
    assert after.addresses == before.addresses - 1


def test_what_if_shows_another_threshold_and_grouping_without_changing_the_check(make, fibre):
    east = make.area("Oostpark", AreaKind.PARK, EAST)
    for i in range(10):
        make.address("9401 AA", i + 1, x=233100 + 50 * i, y=556500)
        make.address("9402 AA", i + 1, x=234100 + 50 * i, y=556500)
    fibre.members(5, x=233100)
    fibre.members(5, x=234500)
    check = fibre.check(areas=[fibre.park, east], threshold_percent=Decimal(60))
    services.refresh(day(0))
    assert [r.passes for r in services.progress(check).areas] == [False, False]
    what_if = services.progress(check, threshold_percent=Decimal(50), grouping=Grouping.TOGETHER)
    assert [r.passes for r in what_if.areas] == [True, True]
    assert what_if.deciding[0].key == "all" and what_if.deciding[0].committed == 10
    db.session.refresh(check)
    assert check.threshold_percent == Decimal(60) and check.grouping == Grouping.PER_AREA


def test_threshold_reached_mails_the_provider_and_the_areas_members_once(make, fibre):
    for i in range(10):
        make.address("9401 AA", i + 1, x=233100 + 50 * i, y=556500)
    neighbour = make.user(Role.MEMBER)  # a member in the park without fibre demand
    make.site(neighbour.organisation, x=233300, y=556300)
    fibre.members(5)
    check = fibre.check()
    services.refresh(day(0))
    mails = db.session.scalars(sa.select(Outbox.recipient).where(
        Outbox.topic == f"fibre:{check.id}")).all()
    assert fibre.provider.email in mails and neighbour.email in mails
    assert len(mails) == len(set(mails)) == 7
    services.refresh(day(1))
    fibre.members(5)
    services.refresh(day(2))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Outbox).where(
        Outbox.topic == f"fibre:{check.id}")) == 7
    assert check.check_regions[0].passed_on == day(0)


def test_snapshot_command_takes_one_snapshot_a_day(app, fibre, runner):
    fibre.members(5)
    fibre.check()
    for _ in range(2):
        result = runner.invoke("snapshot-fibre")
        assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FibreSnapshot)) == 1
    fibre.members(5)
    services.refresh()  # the same day: the snapshot is not replaced
    (snapshot,) = db.session.scalars(sa.select(FibreSnapshot))
    assert len(services.snapshot_units([snapshot.day])) == 5


def test_check_page_map_data_and_trend_for_the_provider(client, auth, fibre, text_of):
    fibre.members(6)
    check = fibre.check()
    auth.login(fibre.provider)
    page = client.get(f"/fibre/checks/{check.id}")
    assert page.status_code == 200
    text = text_of(page)
    assert "Glaspark" in text and "trend-chart" in page.get_data(as_text=True)
    data = json.loads(client.get(f"/fibre/checks/{check.id}/progress.geojson").data)
    (feature,) = [f for f in data["features"] if f["properties"]["kind"] == "region"]
    assert feature["properties"]["committed"] == 6
    assert feature["properties"]["region_ids"] == [check.regions[0].id]
    lon, lat = feature["geometry"]["coordinates"][0][0]
    assert 6.4 < lon < 6.7 and 52.9 < lat < 53.1  # WGS84 (RFC 7946)
    csv_text = client.get(f"/fibre/checks/{check.id}/progress.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeffGebied-id;Gebied-id's;Soort;Naam;Dag;")
    assert ";6;" in csv_text


def test_a_provider_never_sees_another_providers_check(client, auth, fibre):
    check = fibre.check(provider=fibre.other_provider)
    auth.login(fibre.provider)
    for url in (f"/fibre/checks/{check.id}", f"/fibre/checks/{check.id}/addresses",
                f"/fibre/checks/{check.id}/progress.geojson", f"/fibre/checks/{check.id}/edit"):
        assert client.get(url).status_code == 404, url
    assert "Glasvezel" not in client.get("/fibre/checks").get_data(as_text=True)


def test_provider_defines_a_check_in_the_browser_form(client, auth, fibre):
    auth.login(fibre.provider)
    response = client.post("/fibre/checks/new", data={
        "title": "Glas 2031", "threshold_kind": "percent", "threshold_value": "35,5",
        "deadline": (date.today() + timedelta(days=40)).isoformat(), "grouping": "per_area",
        "area_ids": [str(fibre.park.id)], "provider_id": str(fibre.other_provider.id)})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    check = db.session.scalar(sa.select(FibreCheck).where(FibreCheck.title == "Glas 2031"))
    # A provider always defines checks for itself, whatever the form says.
    assert check.provider_id == fibre.provider.id
    assert check.threshold_percent == Decimal("35.5")


def test_members_grant_and_withdraw_consent_and_see_who_looked(client, auth, fibre, text_of):
    user, _site, demand = fibre.member()
    check = fibre.check()
    auth.login(user)
    response = client.post(f"/fibre/consents/{demand.id}/grant",
                           data={f"d{demand.id}-provider_id": str(fibre.provider.id)})
    assert response.status_code == 302
    assert demand.consent_providers
    services.consented_addresses(check, actor=fibre.provider, via="api")
    page = text_of(client.get("/fibre/consents"))
    assert "Glas BV" in page and "(api)" in page
    entries = db.session.scalars(sa.select(AuditLog.action).where(
        AuditLog.object_type == "demands", AuditLog.object_id == str(demand.id))).all()
    assert "consent.grant" in entries and "fibre.address_access" in entries

    response = client.post(f"/fibre/consents/{demand.id}/{fibre.provider.id}/withdraw")
    assert response.status_code == 302
    assert not demand.consent_providers
    assert services.consented_addresses(check, actor=fibre.provider, via="web") == []
    # Another member's demand is not yours.
    _other, _s, theirs = fibre.member()
    assert client.post(f"/fibre/consents/{theirs.id}/grant", data={
        f"d{theirs.id}-provider_id": str(fibre.provider.id)}).status_code == 404


def test_the_demand_form_checkbox_consents_to_the_current_providers(make, fibre):
    user, site, _demand = fibre.member()
    product = demand_services.product_by_code("solar_roof")
    demand = demand_services.register_demand(site, product, actor=user, quantity="10",
                                             consent_providers=True)
    assert {c.provider_id for c in demand_services.consents_of(demand)} == {
        fibre.provider.id, fibre.other_provider.id}
    later = make.user(Role.PROVIDER)
    demand_services.register_demand(site, product, actor=user, quantity="12",
                                    consent_providers=True, expected_version=demand.version)
    assert later.id not in {c.provider_id for c in demand_services.consents_of(demand)}
    demand_services.register_demand(site, product, actor=user, quantity="12",
                                    consent_providers=False, expected_version=demand.version)
    assert demand_services.consents_of(demand) == []


def test_the_member_dashboard_shows_the_same_progress(client, auth, fibre, text_of):
    people = fibre.members(6)
    fibre.check()
    services.refresh()
    auth.login(people[0][0])
    text = text_of(client.get("/dashboard"))
    assert "Glas BV" in text and "6" in text


def test_the_disclosure_rule_examples_hold():
    import doctest

    from matchmaker import privacy

    assert doctest.testmod(privacy).failed == 0


def test_the_exclusion_form_says_what_is_wrong_next_to_the_field(client, auth, make, fibre,
                                                                 text_of):
    """A refused exclusion re-renders the check with the message at the field, keeps what was
    typed, and writes nothing; a good one is stored."""
    make.address("9401 AA", 7, x=233500, y=556500)
    make.address("9401 AB", 1, x=236000, y=556500)  # outside the park
    check = fibre.check()
    fibre.provider.locale = "en"
    db.session.flush()
    auth.login(fibre.provider)
    url = f"/fibre/checks/{check.id}/exclusions"
    for postcode, number, message in (
            ("0123 AB", "7", "0123 AB"),  # an impossible postcode
            ("9401 AA", "8", "not in the register"),
            ("9401 AB", "1", "not in the areas of the check")):
        response = client.post(url, data={"postcode": postcode, "house_number": number,
                                          "reason": "vacant"})
        assert response.status_code in (400, 409, 422)
        assert message in text_of(response)
        assert f'value="{postcode}"' in response.get_data(as_text=True)
    assert check.exclusions == []
    response = client.post(url, data={"postcode": "9401aa", "house_number": "7",
                                      "reason": "vacant"})
    assert response.status_code == 302
    assert [e.address.house_number for e in check.exclusions] == [7]
