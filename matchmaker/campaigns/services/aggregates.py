"""Bundled volumes per area and per distance bundle, under the disclosure rule, for suppliers, maps and exports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.bundling import bundle_by_area, bundle_by_distance, summarize_bundles
from geo.crs import RD_NEW, rd_to_wgs84
from matchmaker.campaigns.models import (
    Campaign,
    Participation,
    ParticipationState,
)
from matchmaker.disclosure import Cell, shown_total
from matchmaker.extensions import db
from matchmaker.frames import point_frame
from matchmaker.members.models import Site


def _participation_frame(campaign: Campaign) -> gpd.GeoDataFrame:
    rows = db.session.execute(
        sa.select(Participation.id, Site.x, Site.y, Site.organisation_id, Participation.quantity,
                  sa.func.coalesce(Participation.quantity_min, Participation.quantity),
                  sa.func.coalesce(Participation.quantity_max, Participation.quantity))
        .join(Participation.site)
        .where(Participation.campaign_id == campaign.id,
               Participation.state == ParticipationState.REGISTERED)
        .order_by(Participation.id)
    ).all()
    return point_frame(rows, ["id", "x", "y", "organisation_id", "quantity", "quantity_min",
                              "quantity_max"], keep_xy=True).set_index("id")


def _areas_frame(campaign: Campaign) -> gpd.GeoDataFrame:
    """The campaign's areas keyed by id (a park and a kring may share a name)."""
    # Parks and other small areas before kringen: a site counts in the most specific area.
    order = {"park": 0, "neighbourhood": 1, "postcode4": 2, "kring": 3}
    areas = sorted(campaign.areas, key=lambda a: (order.get(a.kind.value, 9), a.name, a.id))
    rows: list[tuple[str, int | None, str, Any]] = [
        (str(a.id), a.id, a.name, a.geometry) for a in areas]
    if campaign.geometry is not None:
        rows.append(("drawn", None, "", campaign.geometry))  # named in the view
    return gpd.GeoDataFrame(
        {"key": [r[0] for r in rows], "area_id": [r[1] for r in rows],
         "name": [r[2] for r in rows]},
        geometry=[r[3] for r in rows], crs=RD_NEW,
    )


@dataclass
class AreaAggregate:
    name: str  # "" for the drawn polygon
    cell: Cell  # under the disclosure rule
    sites: int
    volume: Decimal
    volume_min: Decimal
    volume_max: Decimal
    organisations: int
    area_id: int | None = None  # None for the drawn polygon and the total
    geometry: shapely.Geometry | None = None
    # The range (everyone at their minimum / maximum) as a supplier may see it.
    range_cells: tuple[Cell, Cell] = (Cell(None, None, True), Cell(None, None, True))


def _per_member(volumes: pd.DataFrame, column: str = "quantity") -> dict[int, Decimal]:
    return {int(org): sum(group, Decimal(0))
            for org, group in volumes.groupby("organisation_id")[column]}


def area_aggregates(campaign: Campaign, *, known: Iterable[int] = ()
                    ) -> tuple[list[AreaAggregate], AreaAggregate]:
    """Registered volume per area of the campaign and in total (exact), each with the cell a
    supplier — or a member who knows the volumes of ``known`` (its own organisation) — may
    see under the disclosure rule (:func:`matchmaker.disclosure.shown_total`)."""
    known = set(known)

    def cell(rows: pd.DataFrame, column: str = "quantity") -> Cell:
        return shown_total(_per_member(rows, column), known=known)

    points = _participation_frame(campaign)
    areas = _areas_frame(campaign)
    labels = (bundle_by_area(points, areas, name_column="key") if len(areas)
              else pd.Series(dtype=object))

    def aggregate(name: str, rows: pd.DataFrame, area_id: int | None = None,
                  geometry: shapely.Geometry | None = None) -> AreaAggregate:
        return AreaAggregate(
            name=name, cell=cell(rows), sites=len(rows),
            volume=sum(rows["quantity"], Decimal(0)),
            volume_min=sum(rows["quantity_min"], Decimal(0)),
            volume_max=sum(rows["quantity_max"], Decimal(0)),
            organisations=int(rows["organisation_id"].nunique()),
            area_id=area_id, geometry=geometry,
            range_cells=(cell(rows, "quantity_min"), cell(rows, "quantity_max")),
        )

    result = [
        aggregate(row.name, points[(labels == row.key).to_numpy()],
                  None if pd.isna(row.area_id) else int(row.area_id), row.geometry)
        for row in areas.itertuples()
    ]
    total = aggregate("*", points)
    # Complementary suppression: the total minus the areas shown is the hidden areas together,
    # so the total is shown only when the hidden areas form a safe group themselves.
    hidden = [row.key for row, item in zip(areas.itertuples(), result, strict=True)
              if item.cell.suppressed and item.sites]
    if hidden and cell(points[labels.isin(hidden).to_numpy()]).suppressed:
        total.cell = Cell(None, None, True)
    if total.cell.suppressed:
        total.range_cells = (total.cell, total.cell)
    return result, total


@dataclass
class BundleRow:
    bundle_id: int
    number: int  # as on the page and in every file: 1, 2, ... (bundle_id is 0-based)
    sites: int
    organisations: int
    volume: Decimal
    span_m: float
    lon: float
    lat: float
    area: str
    disclosable: bool


def bundle_rows(campaign: Campaign, *, max_gap_m: float) -> list[BundleRow]:
    """Distance bundles (sites within ``max_gap_m`` of each other, chained) of the registered
    participations, with exact volumes and whether a supplier could be shown each."""
    points = _participation_frame(campaign)
    if points.empty:
        return []
    bundles = bundle_by_distance(points, max_gap_m=max_gap_m)
    summary = summarize_bundles(points, bundles, organisation="organisation_id")
    areas = _areas_frame(campaign)
    in_area = bundle_by_area(points, areas) if len(areas) else pd.Series(pd.NA, points.index)
    lon, lat = rd_to_wgs84(summary["centroid_x"].to_numpy(), summary["centroid_y"].to_numpy())
    rows = []
    for i, (bundle_id, item) in enumerate(summary.iterrows()):
        members = points[bundles == bundle_id]
        names = sorted({str(n) for n in in_area[bundles == bundle_id].dropna()})
        rows.append(BundleRow(
            bundle_id=int(bundle_id), number=i + 1, sites=int(item["n_sites"]),
            organisations=int(item["n_organisations"]),
            volume=sum(members["quantity"], Decimal(0)), span_m=round(float(item["span_m"]), 1),
            lon=round(float(lon[i]), 6), lat=round(float(lat[i]), 6), area=", ".join(names),
            disclosable=not shown_total(_per_member(members)).suppressed,
        ))
    return rows
