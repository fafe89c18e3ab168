"""Demo energy data: PV on part of the roofs, electricity use for most sites (seeded)."""

from __future__ import annotations

import random

import sqlalchemy as sa

from matchmaker.energy.models import AssetKind, EnergyAsset
from matchmaker.extensions import db
from matchmaker.members.models import Site

# Yearly electricity use per m² of floor (kWh): offices use more than warehouses.
USE_PER_M2 = {"office": 60.0, "mixed": 40.0, "hall": 25.0}


def load_energy_demo(rng: random.Random, *, pv_kwp_per_m2: float, pv_yield: float,
                     producer_site_id: int | None = None) -> int:
    """Give the demo sites PV and electricity use; returns the number of assets.

    ``producer_site_id`` gets a large installation and little use, so that the demo member has
    matches to read."""
    count = 0
    for site in db.session.scalars(sa.select(Site).order_by(Site.id)):
        if site.id == producer_site_id:
            db.session.add_all([
                EnergyAsset(site_id=site.id, kind=AssetKind.PV, capacity_kw=250.0,
                            annual_kwh=250.0 * pv_yield, tilt_deg=15.0, azimuth_deg=180.0,
                            share_name=True),
                EnergyAsset(site_id=site.id, kind=AssetKind.CONSUMPTION, annual_kwh=40_000.0,
                            profile_category="g1", share_name=True),
            ])
            count += 2
            continue
        floor = site.floor_area_m2 or 500.0
        share = (site.office_area_m2 or 0.0) / floor if floor else 0.0
        kind = "office" if share > 0.5 else ("mixed" if share > 0.2 else "hall")
        if rng.random() < 0.85:
            db.session.add(EnergyAsset(
                site_id=site.id, kind=AssetKind.CONSUMPTION,
                annual_kwh=round(floor * USE_PER_M2[kind] * rng.uniform(0.6, 1.4), -2),
                profile_category={"office": "g1", "mixed": "g0", "hall": "g3"}[kind]
                if rng.random() < 0.8 else "g0",
                share_name=rng.random() < 0.5,
            ))
            count += 1
        if site.flat_roof_area_m2 and rng.random() < 0.35:
            kwp = round(site.flat_roof_area_m2 * pv_kwp_per_m2 * rng.uniform(0.5, 1.0), 1)
            db.session.add(EnergyAsset(
                site_id=site.id, kind=AssetKind.PV, capacity_kw=kwp, annual_kwh=kwp * pv_yield,
                tilt_deg=15.0, azimuth_deg=180.0, share_name=rng.random() < 0.5,
            ))
            count += 1
    db.session.flush()
    return count
