"""Demo fibre check: a 30 % check of the demo provider over the four parks, one passing and
one not, with a daily trend. Loaded by :func:`matchmaker.demo.load_demo`."""

from __future__ import annotations

import random
from decimal import Decimal

import shapely
import sqlalchemy as sa

from matchmaker.auth.models import Role, User
from matchmaker.demand.models import Demand, Stage
from matchmaker.demand.services import product_by_code, register_demand
from matchmaker.demo_names import COMPANY_FIRST, COMPANY_SECOND, DEMO_ACCOUNTS, PARKS, SEED
from matchmaker.extensions import db
from matchmaker.members.models import LegalForm, Site
from matchmaker.members.services import add_site, register_organisation
from matchmaker.models import utcnow
from matchmaker.register.models import AddressRecord, Area, AreaKind

FIBRE_DAYS = 14
FIBRE_PASSING_PARK = "Stadsbedrijvenpark"  # 66 companies join for fibre: passes 30 %
FIBRE_VISIBLE_PARK = "Messchenveld"  # 5 interested members sign: shown, far from 30 %
FIBRE_NEW_COMPANIES = 66
# New sign-ups per day on the passing park (at least 5 at a time, so every day can be shown).
FIBRE_BATCHES = (10, 0, 6, 0, 5, 7, 0, 6, 5, 0, 8, 6, 0, 13)
FIBRE_EXCLUSIONS = {
    "Stadsbedrijvenpark": (("vacant", 5), ("demolished", 2), ("connected", 3)),
    "Messchenveld": (("vacant", 2), ("connected", 1)),
}


def load_demo_fibre(known_organisations: int, *, seed: int = SEED) -> int:
    """A 30 % fibre check of the demo provider over the four parks, with a daily trend.

    Deterministic (its own random generator). The history is built day by day: each day some
    companies on the Stadsbedrijvenpark sign up (new members who joined for fibre) and the
    day's snapshot is taken, so the trend shows how the count grew; on one day five interested
    members on Messchenveld sign. A few sign-ups consent to the demo provider; some register
    addresses are excluded (vacant, demolished, already connected).
    """
    from datetime import timedelta

    from matchmaker.demand.services import grant_consent
    from matchmaker.fibre import services as fibre
    from matchmaker.fibre.models import Grouping

    rng = random.Random(seed + 5)
    provider = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS[Role.PROVIDER]))
    assert provider is not None
    fibre_product = product_by_code("fibre")
    areas = {a.name: a for a in db.session.scalars(sa.select(Area).where(
        Area.kind == AreaKind.PARK).order_by(Area.name))}
    now = utcnow()
    first_day = fibre.today(now) - timedelta(days=FIBRE_DAYS - 1)
    check = fibre.create_check(fibre.CheckSettings(
        title="Glasvezel bedrijventerreinen Assen 2027", provider=provider,
        deadline=now + timedelta(days=60), threshold_percent=Decimal(30),
        grouping=Grouping.PER_AREA, area_ids=[areas[p.name].id for p in PARKS],
    ), actor=provider)
    check.created_at = now - timedelta(days=FIBRE_DAYS - 1)

    used = {(s.postcode, s.house_number, s.addition) for s in db.session.scalars(sa.select(Site))}
    records = list(db.session.scalars(sa.select(AddressRecord).order_by(AddressRecord.id)))

    def free_in(park: str) -> list[AddressRecord]:
        polygon = areas[park].geometry
        return [r for r in records if (r.postcode, r.house_number, r.addition) not in used
                and not r.use.startswith("woon") and shapely.intersects_xy(polygon, r.x, r.y)]

    free = free_in(FIBRE_PASSING_PARK)
    rng.shuffle(free)
    newcomers = free[:FIBRE_NEW_COMPANIES]
    for park, reasons in FIBRE_EXCLUSIONS.items():
        candidates = [r for r in free_in(park) if r not in newcomers]
        rng.shuffle(candidates)
        for reason, count in reasons:
            for record_ in candidates[:count]:
                fibre.exclude_address(check, record_, reason=reason, note="", actor=provider)
            candidates = candidates[count:]

    interested = [
        d for d in db.session.scalars(sa.select(Demand).join(Demand.site).where(
            Demand.product_id == fibre_product.id, Demand.stage == Stage.INTEREST)
            .order_by(Demand.id))
        if shapely.intersects_xy(areas[FIBRE_VISIBLE_PARK].geometry, d.site.x, d.site.y)
    ]
    # Two interested members on Messchenveld consent to the demo provider from the start.
    for demand in interested[-2:]:
        grant_consent(demand, provider, actor=None)

    joined = 0
    for day_index, batch in enumerate(FIBRE_BATCHES):
        for record_ in newcomers[joined:joined + batch]:
            n = known_organisations + joined
            name = f"{rng.choice(COMPANY_FIRST)} {rng.choice(COMPANY_SECOND)} {record_.street}"
            org = register_organisation(
                name=name, kvk_number=f"05{610000 + n * 41:06d}", legal_form=LegalForm.BV,
                kring_id=None, actor=None, contact_name="Demo", contact_email=
                f"glasvezel{n}@demo.example",
            )
            db.session.flush()
            site = add_site(org, actor=None, postcode=record_.postcode,  # type: ignore[arg-type]
                            house_number=record_.house_number, addition=record_.addition)
            db.session.flush()
            demand = register_demand(site, fibre_product, actor=None, quantity=Decimal(1),
                                     stage=Stage.COMMITTED)
            if joined < 3:  # the first three sign-ups consent to the demo provider
                grant_consent(demand, provider, actor=None)
            joined += 1
        if day_index == 4:
            for demand in interested[:5]:
                demand.stage = Stage.COMMITTED
            db.session.flush()
        fibre.refresh(first_day + timedelta(days=day_index),
                      now=now - timedelta(days=FIBRE_DAYS - 1 - day_index))
    db.session.flush()
    return joined
