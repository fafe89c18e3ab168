"""The province demo generator, at a small scale: exact totals, the same rows for the same
seed, and data the app can serve (the provider's new fibre check, the open group buys)."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from matchmaker.auth.models import Role
from matchmaker.campaigns.models import Campaign, CampaignState, Participation
from matchmaker.demand.models import Demand, Product
from matchmaker.demo_province import load_province
from matchmaker.extensions import db
from matchmaker.fibre.models import FibreCheck
from matchmaker.members.models import Organisation, Site
from matchmaker.register.models import AddressRecord

SMALL = {"organisations": 120, "sites": 300, "demand": 700, "addresses": 500}


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def fingerprint() -> str:
    rows = db.session.execute(
        sa.select(Site.postcode, Site.house_number, Site.x, Site.y, Site.floor_area_m2,
                  Organisation.name, Product.code, Demand.quantity, Demand.stage)
        .join(Organisation, Organisation.id == Site.organisation_id)
        .join(Demand, Demand.site_id == Site.id).join(Product)
        .order_by(Site.postcode, Site.house_number, Product.code)).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_a_small_province_has_the_totals_asked_for_the_same_every_time(app, make, client, auth):
    make.user(Role.COORDINATOR, email="coordinator@demo.example")
    provider = make.user(Role.PROVIDER, email="aanbieder@demo.example")
    totals = load_province(targets=SMALL)
    assert {k: totals[k] for k in SMALL} == SMALL
    assert (count(Organisation), count(Site), count(Demand), count(AddressRecord)) == (
        120, 300, 700, 500)
    first = fingerprint()
    # Every product asked for; sites on register addresses in Drenthe (RD New box).
    codes = set(db.session.scalars(sa.select(Product.code).join(Demand).distinct()))
    assert codes == {"solar_roof", "insulation", "fibre", "shared_heat"}
    box = db.session.execute(sa.select(sa.func.min(Site.x), sa.func.max(Site.x),
                                       sa.func.min(Site.y), sa.func.max(Site.y))).one()
    assert 195_000 < box[0] and box[1] < 275_000 and 505_000 < box[2] and box[3] < 580_000
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Site).join(
        AddressRecord, AddressRecord.id == Site.bag_id)) == 300
    # Open group buys with registrations; the provider's province check serves its page.
    campaigns = db.session.scalars(sa.select(Campaign)).all()
    assert len(campaigns) == 3 and {c.state for c in campaigns} == {CampaignState.OPEN}
    assert count(Participation) > 0
    check = db.session.scalar(sa.select(FibreCheck))
    auth.login(provider)
    page = client.get(f"/fibre/checks/{check.id}")
    assert page.status_code == 200 and check.title in page.get_data(as_text=True)
    auth.logout()

    # The same seed builds the same rows.
    db.session.rollback()
    assert count(Organisation) == 0
    make.user(Role.COORDINATOR, email="coordinator@demo.example")
    make.user(Role.PROVIDER, email="aanbieder@demo.example")
    load_province(targets=SMALL)
    assert fingerprint() == first
