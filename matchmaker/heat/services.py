"""Shared heat: heat data per site, candidate networks around heat sources, what would tip them.

The network analysis is :mod:`geo.heat`; this module gathers sources, sinks and potential
joiners from the database and records members' heat data.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.addresses import is_residential
from geo.crs import RD_NEW
from geo.heat import (
    DETOUR_FACTOR,
    TEMPERATURE_CLASSES,
    Tipping,
    assign_sites,
    candidate_networks,
    gas_to_heat_mwh,
    tipping_candidates,
)
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.demand.models import Demand, Product, Stage
from matchmaker.disclosure import shown_total
from matchmaker.energy.models import AssetKind, EnergyAsset
from matchmaker.energy.services import asset, get_or_create_asset, number_in_range
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.frames import point_frame
from matchmaker.members.models import Organisation, Site
from matchmaker.register.models import AddressRecord

#: Default gap between sites of one network: a short heat pipe between neighbours.
DEFAULT_GAP_M = 500.0
#: Heat a business address not yet registered might use, for "what would tip it": about
#: 10,000 m³ of gas a year (a small business premises) × 7.9 kWh of heat per m³ ≈ 80 MWh.
#: An assumption, shown next to the tipping list.
POTENTIAL_MWH_PER_ADDRESS = 80.0
MAX_MWH = 1_000_000.0


def heat_assets(site: Site) -> tuple[EnergyAsset | None, EnergyAsset | None]:
    return asset(site, AssetKind.HEAT_SOURCE), asset(site, AssetKind.HEAT_SINK)


def months_mask(months: list[int]) -> int | None:
    """Bit ``m - 1`` set for every month ``m`` (1-12); ``None`` means the whole year."""
    if not months or len(set(months)) == 12:
        return None
    return sum(1 << (m - 1) for m in set(months) if 1 <= m <= 12)


def months_of(mask: int | None) -> list[int]:
    return list(range(1, 13)) if mask is None else [m for m in range(1, 13) if mask >> (m - 1) & 1]


def save_heat(
    site: Site,
    *,
    actor: User,
    source_mwh: float | None,
    source_temperature_c: float | None,
    source_months: list[int],
    sink_mwh: float | None,
    sink_gas_m3: float | None,
    sink_temperature_class: str,
    share_name: bool,
) -> None:
    """Record waste heat the site can give and heat it needs (MWh/yr, or gas m³/yr)."""
    source_mwh = number_in_range(source_mwh, "source_mwh", 0, MAX_MWH)
    source_temperature_c = number_in_range(source_temperature_c, "source_temperature_c", 0, 200)
    sink_mwh = number_in_range(sink_mwh, "sink_mwh", 0, MAX_MWH)
    sink_gas_m3 = number_in_range(sink_gas_m3, "sink_gas_m3", 0, 1e9)
    if sink_temperature_class not in TEMPERATURE_CLASSES:
        raise ServiceError(N_("Choose low, medium or high."), field="sink_temperature_class")
    source, sink = heat_assets(site)
    if source_mwh:
        source = source or get_or_create_asset(site, AssetKind.HEAT_SOURCE)
        source.annual_mwh, source.temperature_c = source_mwh, source_temperature_c
        source.months_available = months_mask(source_months)
        source.share_name = share_name
    elif source is not None:
        db.session.delete(source)
    if sink_mwh is None and sink_gas_m3:
        sink_mwh = round(float(gas_to_heat_mwh(sink_gas_m3)), 1)
    if sink_mwh:
        sink = sink or get_or_create_asset(site, AssetKind.HEAT_SINK)
        sink.annual_mwh, sink.gas_m3 = sink_mwh, sink_gas_m3
        sink.temperature_c = TEMPERATURE_CLASSES[sink_temperature_class]
        sink.share_name = share_name
    elif sink is not None:
        db.session.delete(sink)
    db.session.flush()
    record(actor, "heat.update", site, source_mwh=source_mwh, sink_mwh=sink_mwh)


def temperature_class_of(celsius: float | None) -> str:
    if celsius is None:
        return "medium"
    return min(TEMPERATURE_CLASSES, key=lambda name: abs(TEMPERATURE_CLASSES[name] - celsius))


# --- the analysis ------------------------------------------------------------------------------

def heat_sources() -> gpd.GeoDataFrame:
    rows = db.session.execute(
        sa.select(EnergyAsset.site_id, Organisation.name, EnergyAsset.annual_mwh,
                  EnergyAsset.temperature_c, EnergyAsset.months_available, Site.x, Site.y)
        .join(Site, Site.id == EnergyAsset.site_id).join(Site.organisation)
        .where(EnergyAsset.kind == AssetKind.HEAT_SOURCE, EnergyAsset.annual_mwh > 0)
        .order_by(EnergyAsset.site_id)
    ).all()
    frame = point_frame(rows, ["site_id", "organisation", "mwh", "temperature_c", "mask", "x", "y"])
    frame["id"] = frame["site_id"].astype(str)
    frame["months"] = [len(months_of(None if pd.isna(m) else int(m))) for m in frame["mask"]]
    return frame.drop(columns="mask")


def heat_sinks() -> gpd.GeoDataFrame:
    """Registered heat use: a heat sink's MWh/yr, else the site's shared-heat demand."""
    assets = db.session.execute(
        sa.select(EnergyAsset.site_id, Organisation.name, EnergyAsset.annual_mwh,
                  EnergyAsset.temperature_c, Site.x, Site.y)
        .join(Site, Site.id == EnergyAsset.site_id).join(Site.organisation)
        .where(EnergyAsset.kind == AssetKind.HEAT_SINK, EnergyAsset.annual_mwh > 0)
    ).all()
    with_asset = {row[0] for row in assets}
    demand = db.session.execute(
        sa.select(Site.id, Organisation.name, Demand.quantity, sa.null(), Site.x, Site.y)
        .join(Demand.site).join(Site.organisation).join(Demand.product)
        .where(Product.code == "shared_heat", Demand.stage != Stage.WITHDRAWN)
    ).all()
    rows = list(assets) + [
        (r[0], r[1], float(r[2]), None, r[4], r[5]) for r in demand if r[0] not in with_asset
    ]
    rows.sort(key=lambda r: r[0])
    frame = point_frame(rows, ["site_id", "organisation", "mwh", "temperature_c", "x", "y"])
    frame["id"] = frame["site_id"].astype(str)
    frame["mwh"] = frame["mwh"].astype(float)
    frame["temperature_c"] = frame["temperature_c"].astype(float)
    return frame


def potential_joiners(near: gpd.GeoSeries, *, radius_m: float,
                      exclude_bag_ids: set[str]) -> gpd.GeoDataFrame:
    """Business addresses of the register within ``radius_m`` of ``near`` that are not members'
    sites, each with :data:`POTENTIAL_MWH_PER_ADDRESS`."""
    columns = ["id", "mwh", "address", "geometry"]
    if near.empty:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=RD_NEW)
    minx, miny, maxx, maxy = near.total_bounds
    rows = db.session.execute(
        sa.select(AddressRecord.id, AddressRecord.street, AddressRecord.house_number,
                  AddressRecord.addition, AddressRecord.use, AddressRecord.x, AddressRecord.y)
        .where(AddressRecord.x.between(minx - radius_m, maxx + radius_m),
               AddressRecord.y.between(miny - radius_m, maxy + radius_m))
    ).all()
    frame = pd.DataFrame(rows, columns=["bag_id", "street", "number", "addition", "use", "x",
                                        "y"])
    frame = frame[~is_residential(frame["use"]) & ~frame["bag_id"].isin(exclude_bag_ids)]
    points = point_frame(pd.DataFrame(
        {"id": "a" + frame["bag_id"], "mwh": POTENTIAL_MWH_PER_ADDRESS,
         "address": frame["street"] + " " + frame["number"].astype(str) + frame["addition"]
         .where(frame["addition"] == "", "-" + frame["addition"]),
         "x": frame["x"], "y": frame["y"]}))
    within = points.geometry.dwithin(near.union_all(), radius_m)
    return points[within.to_numpy()].reset_index(drop=True)


@dataclass
class HeatAnalysis:
    networks: gpd.GeoDataFrame  # one row per candidate network (geo.heat.candidate_networks)
    sources: gpd.GeoDataFrame  # with network_id
    sinks: gpd.GeoDataFrame  # with network_id and needs_heat_pump
    tipping: dict[int, Tipping]  # for networks below "sufficient"
    labels: dict[str, str]  # what to call a possible joiner: an address, or a member
    max_gap_m: float
    detour_factor: float


def analyse(*, max_gap_m: float = DEFAULT_GAP_M, detour_factor: float = DETOUR_FACTOR,
            with_tipping: bool = True) -> HeatAnalysis:
    sources, sinks = heat_sources(), heat_sinks()
    networks = candidate_networks(sources, sinks, max_gap_m=max_gap_m,
                                  detour_factor=detour_factor)
    assigned = assign_sites(sources, sinks, max_gap_m=max_gap_m)
    sources = sources.assign(network_id=assigned.sources["network_id"].to_numpy())
    sinks = sinks.assign(network_id=assigned.sinks["network_id"].to_numpy(),
                         needs_heat_pump=assigned.sinks["needs_heat_pump"].to_numpy())
    tipping: dict[int, Tipping] = {}
    labels: dict[str, str] = dict(zip(sinks["id"], sinks["organisation"], strict=True))
    if with_tipping and len(networks):
        member_bags = {bag for bag in db.session.scalars(sa.select(Site.bag_id).where(
            Site.bag_id.is_not(None))) if bag is not None}
        for network_id, network in networks.iterrows():
            if network["viability"] == "critical":
                points = network["site_points"]
                near = gpd.GeoSeries([points], crs=RD_NEW)
                potential = potential_joiners(near, radius_m=max_gap_m,
                                              exclude_bag_ids=member_bags)
                labels.update(zip(potential["id"], potential["address"], strict=True))
                tipping[int(network_id)] = tipping_candidates(
                    network, others=sinks[["id", "mwh", "geometry"]], potential=potential,
                    limit=10)
    return HeatAnalysis(networks, sources, sinks, tipping, labels, max_gap_m, detour_factor)


def networks_of(analysis: HeatAnalysis, organisation: Organisation) -> list[dict[str, Any]]:
    """The candidate networks the organisation's sites are in, with what each needs."""
    ids = {str(s.id) for s in organisation.sites}
    found: dict[int, dict[str, Any]] = {}
    for frame, role in ((analysis.sources, "source"), (analysis.sinks, "sink")):
        for row in frame[frame["id"].isin(ids) & frame["network_id"].notna()].itertuples():
            network_id = int(row.network_id)
            entry = found.setdefault(network_id, {
                "id": network_id, "network": analysis.networks.loc[network_id], "roles": [],
                "tipping": analysis.tipping.get(network_id),
            })
            entry["roles"].append((role, int(row.site_id)))
    for network_id, entry in found.items():
        entry["shown"] = _network_shown(analysis, network_id, organisation)
        if not entry["shown"]:
            entry["tipping"] = None
    return list(found.values())


def _network_shown(analysis: HeatAnalysis, network_id: int, organisation: Organisation) -> bool:
    """Whether a member may see a network's figures (heat use, trench, density, class, what
    it needs): only when the other companies in it form a safe group under the disclosure
    rule (:func:`matchmaker.disclosure.shown_total`), as every aggregate shown to a member."""
    sinks = analysis.sinks[analysis.sinks["network_id"] == network_id]
    sources = analysis.sources[analysis.sources["network_id"] == network_id]
    site_ids = [int(v) for v in (*sinks["site_id"], *sources["site_id"])]
    owner = dict(db.session.execute(sa.select(Site.id, Site.organisation_id)
                                    .where(Site.id.in_(site_ids))).all())
    volumes: dict[int, Decimal] = {}
    for frame in (sinks, sources):
        for site_id, mwh in zip(frame["site_id"], frame["mwh"], strict=True):
            org = owner.get(int(site_id))
            if org is not None:
                volumes[org] = volumes.get(org, Decimal(0)) + Decimal(str(float(mwh or 0)))
    return not shown_total(volumes, known={organisation.id}).suppressed


def unconnected_sinks(analysis: HeatAnalysis, organisation: Organisation) -> list[int]:
    ids = {str(s.id) for s in organisation.sites}
    rows = analysis.sinks[analysis.sinks["id"].isin(ids) & analysis.sinks["network_id"].isna()]
    return [int(v) for v in rows["site_id"]]


def drawable(geometries: gpd.GeoSeries) -> gpd.GeoSeries:
    """Trench sketches as a map or a GIS file should have them: a zero-length line (sites at
    one address) is the point it is."""
    flat = geometries.geom_type.isin(["LineString", "MultiLineString"]).to_numpy() \
        & (geometries.length.to_numpy() == 0)
    if not flat.any():
        return geometries
    result = geometries.copy()
    result[flat] = geometries[flat].centroid
    return result


def export_layers(analysis: HeatAnalysis) -> dict[str, gpd.GeoDataFrame]:
    """Everything the municipality needs in a GIS: the networks (numbered as on the page), the
    sources and users with the number of their network, and each critical network's list of
    possible joiners in the order they would be added."""
    sites = []
    for frame, role in ((analysis.sources, "source"), (analysis.sinks, "user")):
        sites.append(gpd.GeoDataFrame({
            "network": [None if pd.isna(v) else int(v) + 1 for v in frame["network_id"]],
            "role": role, "name": frame["organisation"].astype(str).to_numpy(),
            "mwh": frame["mwh"].astype(float).to_numpy(),
        }, geometry=frame.geometry.to_numpy(), crs=RD_NEW))
    joiners = []
    for network_id, tip in sorted(analysis.tipping.items()):
        c = tip.candidates
        if not len(c):
            continue
        joiners.append(gpd.GeoDataFrame({
            "network": int(network_id) + 1, "order": c.index.astype(int).to_numpy(),
            "name": [analysis.labels.get(str(i), str(i)) for i in c["id"]],
            "kind": c["kind"].astype(str).to_numpy(), "mwh": c["mwh"].astype(float).to_numpy(),
            "distance_m": c["distance_m"].astype(float).round(1).to_numpy(),
            "heat_density_mwh_per_m": c["heat_density_mwh_per_m"].astype(float).to_numpy(),
            "reaches_target": c["reaches_target"].astype(bool).to_numpy(),
        }, geometry=c.geometry.to_numpy(), crs=RD_NEW))
    empty = gpd.GeoDataFrame({"network": pd.Series(dtype="Int64")}, geometry=[], crs=RD_NEW)
    return {"networks": export_frame(analysis),
            "sites": pd.concat(sites, ignore_index=True) if sites else empty,
            "joiners": pd.concat(joiners, ignore_index=True) if joiners else empty}


def export_frame(analysis: HeatAnalysis) -> gpd.GeoDataFrame:
    """Networks for a GIS: the trench sketch with plain-typed attributes (lists as text),
    numbered as on the page (1, 2, ...)."""
    n = analysis.networks
    return gpd.GeoDataFrame({
        "network": n.index.astype(int) + 1,
        "site_ids": [",".join(map(str, ids)) for ids in n["site_ids"]],
        "n_sources": n["n_sources"].astype(int), "n_sinks": n["n_sinks"].astype(int),
        "source_mwh": n["source_mwh"].astype(float), "sink_mwh": n["sink_mwh"].astype(float),
        "trench_length_m": n["trench_length_m"].astype(float),
        "detour_factor": n["detour_factor"].astype(float),
        "heat_density_mwh_per_m": n["heat_density_mwh_per_m"].astype(float),
        "viability": n["viability"].astype(str), "coverage": n["coverage"].astype(float),
        "sinks_needing_heat_pump": n["sinks_needing_heat_pump"].astype(int),
    }, geometry=drawable(n.geometry).to_numpy(), crs=RD_NEW)


def site_points(analysis: HeatAnalysis) -> tuple[np.ndarray, np.ndarray]:
    both = pd.concat([analysis.sources.geometry, analysis.sinks.geometry])
    return both.x.to_numpy(), both.y.to_numpy()
