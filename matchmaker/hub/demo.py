"""Demo energy hub: the Stadsbedrijvenpark with a year of 15-minute metering for its larger
sites (seeded, generated like real meter data), contracts, expansion plans, flexible use and
consent, and a finished analysis.

The metered profiles are built from what the site's energy data says (yearly use, its BDEW
category, its solar panels) with what a smooth standard profile lacks: busy and quiet days,
machines switching per quarter hour, cooling compressors cycling, trucks charging at night,
clouds passing over the panels.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import numpy as np
import sqlalchemy as sa

from geo.crs import rd_to_wgs84
from geo.hub_profiles import (
    consumption_quarter_hours,
    local_clock,
    pv_quarter_hours,
    quarter_hours,
    take_and_feed,
)
from matchmaker.auth.models import User
from matchmaker.energy.grid import site_profiles
from matchmaker.energy.models import (
    AssetKind,
    Direction,
    EnergyAsset,
    ExpansionKind,
    ExpansionPlan,
    GridConnection,
)
from matchmaker.extensions import db
from matchmaker.hub import services
from matchmaker.hub.models import Hub, HubSource
from matchmaker.members.models import Site
from matchmaker.register.models import Area, AreaKind

DEMO_PARK = "Stadsbedrijvenpark"
#: Sites with at least this yearly use get metered quarter hours (the rest stay estimated).
METERED_FROM_KWH = 30_000.0
#: Transport capacities as connections come (3x25A is 17 kVA, 3x35A 24, 3x63A 43, 3x80A 55) and
#: as grid operators contract larger ones (kW).
STANDARD_KW = (6, 10, 17, 24, 43, 55, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000,
               1250, 1600, 2000)


def _standard(kw: float) -> float:
    return float(next((s for s in STANDARD_KW if s >= kw), round(kw, -2) + 100))


def metered_year(rng: np.random.Generator, *, annual_kwh: float, category: str,
                 kwp: float, lon: float, lat: float, yield_: float,
                 trucks: bool) -> tuple[np.ndarray, np.ndarray]:
    """Take and feed-in per reference quarter hour (kWh) of one site, like meter data."""
    idx = quarter_hours()
    clock = local_clock(idx)
    n_days = int(clock.day.max()) + 1
    base = consumption_quarter_hours(annual_kwh=annual_kwh, category=category)
    day = rng.lognormal(0.0, 0.12, n_days)[clock.day]  # busy and quiet days
    use = base * day * np.clip(rng.normal(1.0, 0.1, base.size), 0.3, None)
    working = (clock.weekday < 5) & (clock.hour >= 7) & (clock.hour < 17)
    if category in ("g0", "g1"):
        # Machines and kitchens switch on and off from one quarter hour to the next.
        machines = (rng.random(base.size) < 0.35) & working
        use += machines * base.mean() * rng.uniform(1.0, 2.5)
    if category == "g3":
        # Cooling compressors: on for about 40 of every 60 minutes, more in summer.
        cycle = (np.arange(base.size) + rng.integers(0, 4)) % 4 < 3
        summer = 1.0 + 0.35 * np.cos(2 * np.pi * (clock.day - 200) / 365)
        use = use * (0.55 + 0.6 * cycle) * summer
    if trucks:
        # Electric vans charging at the depot from the evening on, weekdays.
        evening = (clock.weekday < 5) & ((clock.hour >= 18) | (clock.hour < 1))
        use += evening * base.mean() * 3.0
    use *= annual_kwh / use.sum()
    pv = np.zeros(base.size)
    if kwp > 0:
        clear = pv_quarter_hours(lon=lon, lat=lat, kwp=kwp, annual_yield_kwh_per_kwp=yield_)
        cloudiness = np.convolve(rng.beta(2.2, 1.4, n_days + 2), np.ones(3) / 3, "valid")
        passing = np.clip(1 - (1 - cloudiness[clock.day]) * rng.random(base.size) * 1.6, 0.05, 1)
        pv = clear * passing
        pv *= kwp * yield_ / pv.sum()
    return take_and_feed(use, pv)


def load_hub_demo(*, member_site: Site, coordinator: User, seed: int) -> Hub | None:
    """The demo hub; the demo member's own site is in it without consent yet (the member gives
    it on its Energie page)."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    park = db.session.scalar(sa.select(Area).where(Area.kind == AreaKind.PARK,
                                                   Area.name == DEMO_PARK))
    if park is None:
        return None
    hub = services.create_hub(actor=coordinator, name=f"Energiehub {DEMO_PARK}",
                              source=HubSource.PARK, area_id=park.id)
    ids = [m.site_id for m in hub.members]
    sites = {s.id: s for s in db.session.scalars(sa.select(Site).where(Site.id.in_(ids)))}
    assets: dict[int, dict[AssetKind, EnergyAsset]] = {}
    for item in db.session.scalars(sa.select(EnergyAsset).where(EnergyAsset.site_id.in_(ids))):
        assets.setdefault(item.site_id, {})[item.kind] = item
    from flask import current_app

    yield_ = current_app.config["PV_YIELD_KWH_PER_KWP"]
    now = datetime.now(UTC)
    consenting = []
    for member in hub.members:
        if member.site_id == member_site.id or pick.random() < 0.12:
            continue  # the demo member decides itself; a few others have not answered yet
        member.consent_profile, member.consent_name = True, pick.random() < 0.5
        member.consent_at = now
        consenting.append(member.site_id)
    metered: list[int] = []
    for site_id in sorted(ids):
        use = assets.get(site_id, {}).get(AssetKind.CONSUMPTION)
        if site_id == member_site.id or use is None or (use.annual_kwh or 0) < METERED_FROM_KWH:
            continue
        pv = assets[site_id].get(AssetKind.PV)
        lon, lat = rd_to_wgs84([sites[site_id].x], [sites[site_id].y])
        take, feed = metered_year(
            rng, annual_kwh=float(use.annual_kwh or 0), category=use.profile_category,
            kwp=float(pv.capacity_kw or 0) if pv else 0.0, lon=float(lon[0]), lat=float(lat[0]),
            yield_=yield_, trucks=pick.random() < 0.2)
        grid = GridConnection(site_id=site_id, shiftable_share=0.0)
        grid.set_quarter_hours(take, feed)
        grid.metered_info = {
            "file": "meetdata-netbeheerder-2025.csv", "filled": 8,
            "uploaded_at": datetime(2026, 1, 15, tzinfo=UTC).isoformat(timespec="seconds"),
            "take_kwh": round(float(take.sum()), 1), "feed_kwh": round(float(feed.sum()), 1),
            "peak_take_kw": round(float(take.max() * 4), 1),
            "peak_feed_kw": round(float(feed.max() * 4), 1), "quarter_hours": 35040,
        }
        if use.profile_category == "g3" and pick.random() < 0.5:
            # Cold stores can pre-cool at noon, when the park's panels produce.
            grid.shiftable_share, grid.shift_start_hour, grid.shift_end_hour = 0.2, 10, 16
        db.session.add(grid)
        metered.append(site_id)
    db.session.flush()
    # Contracts a little above each site's own peak, as a congested grid hands them out.
    profiles = site_profiles(consenting)
    grids = {g.site_id: g for g in db.session.scalars(sa.select(GridConnection))}
    for row, site_id in enumerate(profiles.site_ids):
        grid = grids.get(site_id) or GridConnection(site_id=site_id, shiftable_share=0.0)
        db.session.add(grid)
        grid.contracted_take_kw = _standard(profiles.take_kwh[row].max() * 4
                                            * pick.uniform(1.1, 1.5))
        feed_peak = profiles.feed_kwh[row].max() * 4
        grid.contracted_feed_kw = _standard(feed_peak * 1.1) if feed_peak > 0 else 0.0
    plans = (
        (ExpansionKind.TRUCKS, Direction.TAKE, 240.0, 2027, "night", date(2024, 3, 15)),
        (ExpansionKind.HEAT_PUMP, Direction.TAKE, 80.0, 2026, "heat_pump", date(2025, 1, 10)),
        (ExpansionKind.PROCESS, Direction.TAKE, 150.0, 2027, "day", date(2023, 11, 1)),
        (ExpansionKind.SOLAR, Direction.FEED, 300.0, 2026, "solar", date(2024, 9, 1)),
        (ExpansionKind.SOLAR, Direction.FEED, 1200.0, 2027, "solar", date(2025, 2, 1)),
        (ExpansionKind.TRUCKS, Direction.TAKE, 600.0, 2028, "night", None),
    )
    candidates = sorted(set(metered) & set(consenting))
    for site_id, (kind, direction, kw, year, shape, since) in zip(
            pick.sample(candidates, min(len(plans), len(candidates))), plans, strict=False):
        db.session.add(ExpansionPlan(site_id=site_id, kind=kind, direction=direction, kw=kw,
                                     from_year=year, shape=shape, waiting_since=since))
    hub.curtail_hours, hub.max_distance_m = 50.0, 500.0
    db.session.flush()
    analysis = services.start_analysis(hub, actor=coordinator)
    services.compute_analysis(analysis)
    return hub
