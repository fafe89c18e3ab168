"""Sites as producers and consumers: their PV and use as profiles per time step.

Shared by the runs (:mod:`matchmaker.energy.services`) and the members' what-ifs computed with
them (:mod:`matchmaker.energy.explain`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import sqlalchemy as sa
from flask import current_app

from geo.crs import rd_to_wgs84
from geo.profiles import consumption_profile, pv_profile, step_weights
from matchmaker.energy.models import AssetKind, EnergyAsset
from matchmaker.extensions import db
from matchmaker.frames import point_frame
from matchmaker.members.models import Organisation, Site


@dataclass
class SiteEnergy:
    """Producers and consumers for one mode, with their profiles (kWh per step occurrence)."""

    sites: gpd.GeoDataFrame  # one row per site with energy: id, site_id, organisation_id, ...
    pv: np.ndarray  # sites x steps
    use: np.ndarray  # sites x steps
    weights: np.ndarray

    def producers(self) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        surplus = np.clip(self.pv - self.use, 0, None)
        rows = surplus.max(axis=1) > 0
        return self.sites[rows].reset_index(drop=True), surplus[rows]

    def consumers(self) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        deficit = np.clip(self.use - self.pv, 0, None)
        rows = deficit.max(axis=1) > 0
        return self.sites[rows].reset_index(drop=True), deficit[rows]


def site_energy(mode: str) -> SiteEnergy:
    """Every site with PV or electricity use, with hourly-based profiles aggregated to ``mode``.

    Per site and step, PV first serves the site's own use: the surplus is what a neighbour can
    take, the deficit what a neighbour can supply.
    """
    assets = list(db.session.scalars(
        sa.select(EnergyAsset).where(EnergyAsset.kind.in_([AssetKind.PV, AssetKind.CONSUMPTION]))
    ))
    by_site: dict[int, dict[AssetKind, EnergyAsset]] = {}
    for item in assets:
        by_site.setdefault(item.site_id, {})[item.kind] = item
    site_ids = sorted(by_site)
    rows = db.session.execute(
        sa.select(Site.id, Site.organisation_id, Organisation.name, Site.x, Site.y)
        .join(Site.organisation).where(Site.id.in_(site_ids)).order_by(Site.id)
    ).all() if site_ids else []
    sites = point_frame(rows, ["site_id", "organisation_id", "organisation", "x", "y"],
                        keep_xy=True)
    sites["id"] = sites["site_id"].astype(str)
    n_steps = len(step_weights(mode))
    pv = np.zeros((len(sites), n_steps))
    use = np.zeros((len(sites), n_steps))
    feed_in = np.full(len(sites), np.nan)
    share = np.zeros(len(sites), dtype=bool)
    if len(sites):
        lon, lat = rd_to_wgs84(sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy())
        yield_ = current_app.config["PV_YIELD_KWH_PER_KWP"]
        for i, site_id in enumerate(sites["site_id"]):
            items = by_site[int(site_id)]
            if (solar := items.get(AssetKind.PV)) is not None:
                pv[i] = solar.hourly_profile(mode) if solar.hourly is not None else pv_profile(
                    lon=lon[i], lat=lat[i], kwp=solar.capacity_kw or 0.0,
                    annual_yield_kwh_per_kwp=yield_, tilt=solar.tilt_deg or 15.0,
                    azimuth=solar.azimuth_deg or 180.0, mode=mode).values
                feed_in[i] = solar.feed_in_limit_kw if solar.feed_in_limit_kw else np.nan
                share[i] |= solar.share_name
            if (consumption := items.get(AssetKind.CONSUMPTION)) is not None:
                use[i] = consumption.hourly_profile(mode) if consumption.hourly is not None else (
                    consumption_profile(annual_kwh=consumption.annual_kwh or 0.0,
                                        category=consumption.profile_category, mode=mode).values)
                share[i] |= consumption.share_name
    sites["feed_in_kw"] = feed_in
    sites["share_name"] = share
    return SiteEnergy(sites, pv, use, step_weights(mode))


def hour_of_step(mode: str) -> np.ndarray:
    """The local clock hour of each step of ``mode``."""
    if mode == "typical_day":
        return np.tile(np.arange(24), 12)
    if mode == "hourly":
        from geo.profiles import hourly_index

        hours: np.ndarray = hourly_index().hour.to_numpy()
        return hours
    return np.zeros(1, dtype=int)
