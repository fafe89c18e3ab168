"""The daily part of fibre demand checks: snapshots of fibre demand, the cells that all regions
cut the map into, admission of new regions and the day's publication under the disclosure rule.

This is the work the scheduler does once a day (``matchmaker snapshot-fibre``, or the day's
first page view when it has not run); pages only read what it stored (see
:mod:`matchmaker.fibre.progress`). The decisions are in :mod:`matchmaker.fibre.services`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from matchmaker.database import insert_ignore
from matchmaker.demand.models import Demand, Product, Stage
from matchmaker.extensions import db
from matchmaker.fibre.models import (
    FibreCheckRegion,
    FibrePublication,
    FibreRegion,
    FibreSnapshot,
    FibreSnapshotUnit,
)
from matchmaker.frames import query_frame
from matchmaker.members.models import Site
from matchmaker.models import utcnow
from matchmaker.privacy import history_is_safe, may_use
from matchmaker.register.models import AddressRecord

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
STAGES = (Stage.COMMITTED, Stage.INTEREST)  # the two published cells: signed, interest only


def today(now: datetime | None = None) -> date:
    """The Dutch calendar day (snapshots are per day in Assen, not in UTC)."""
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


# --- units: fibre demand per address ------------------------------------------------------------

UNIT_COLUMNS = ["unit_key", "organisation_id", "demand_id", "stage", "x", "y"]
_STAGE_RANK = {Stage.COMMITTED: 0, Stage.INTEREST: 1}


def current_units() -> pd.DataFrame:
    """Every address with fibre demand now: one row per address (see the services docstring)."""
    rows = db.session.execute(
        sa.select(Site.id, Site.bag_id, Site.organisation_id, Demand.id, Demand.stage,
                  sa.func.coalesce(AddressRecord.x, Site.x),
                  sa.func.coalesce(AddressRecord.y, Site.y))
        .join(Demand.site).join(Demand.product)
        .outerjoin(AddressRecord, AddressRecord.id == Site.bag_id)
        .where(Product.code == "fibre", Demand.stage != Stage.WITHDRAWN)
    ).all()
    frame = pd.DataFrame(rows, columns=["site_id", "bag_id", "organisation_id", "demand_id",
                                        "stage", "x", "y"])
    if frame.empty:
        return pd.DataFrame(columns=UNIT_COLUMNS)
    frame["unit_key"] = frame["bag_id"].where(frame["bag_id"].notna() & (frame["bag_id"] != ""),
                                              "site-" + frame["site_id"].astype(str))
    frame["rank"] = frame["stage"].map(_STAGE_RANK)
    frame = frame.sort_values(["unit_key", "rank", "organisation_id", "demand_id"])
    return frame.drop_duplicates("unit_key")[UNIT_COLUMNS].reset_index(drop=True)


def take_snapshot(day: date) -> FibreSnapshot:
    """The snapshot of ``day``; taken now from the live demand when there is none yet.

    Idempotent and safe when two requests race: the day is UNIQUE and inserted with
    ``ON CONFLICT DO NOTHING``, so the second one uses the first one's snapshot.
    """
    existing: FibreSnapshot | None = db.session.scalar(
        sa.select(FibreSnapshot).where(FibreSnapshot.day == day))
    if existing is not None:
        return existing
    if insert_ignore(FibreSnapshot.__table__, [{"day": day, "taken_at": utcnow()}], ["day"]):
        snapshot: FibreSnapshot | None = db.session.scalar(
            sa.select(FibreSnapshot).where(FibreSnapshot.day == day))
        assert snapshot is not None
        units = [
            {"snapshot_id": snapshot.id, "unit_key": str(u.unit_key),
             "organisation_id": int(u.organisation_id), "demand_id": int(u.demand_id),
             "stage": Stage(u.stage), "x": float(u.x), "y": float(u.y)}
            for u in current_units().itertuples()
        ]
        for start in range(0, len(units), 5000):
            db.session.execute(sa.insert(FibreSnapshotUnit), units[start:start + 5000])
        return snapshot
    snapshot = db.session.scalar(sa.select(FibreSnapshot).where(FibreSnapshot.day == day))
    assert isinstance(snapshot, FibreSnapshot)  # taken by a concurrent request that committed
    return snapshot


def snapshot_units(days: Iterable[date], *, within: Sequence[FibreRegion] | None = None
                   ) -> pd.DataFrame:
    """The units of the snapshots of ``days`` (a day without a snapshot has none); ``within``
    keeps those in the bounding box of these regions (a cheap first cut; test with
    :func:`inside` for the exact one)."""
    columns = ["day", *UNIT_COLUMNS]
    snapshots = dict(db.session.execute(
        sa.select(FibreSnapshot.id, FibreSnapshot.day).where(
            FibreSnapshot.day.in_(sorted(set(days)))))
                     .all()) if days else {}
    if not snapshots or (within is not None and not within):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    query = (
        sa.select(FibreSnapshotUnit.snapshot_id, FibreSnapshotUnit.unit_key,
                  FibreSnapshotUnit.organisation_id, FibreSnapshotUnit.demand_id,
                  sa.type_coerce(FibreSnapshotUnit.stage, sa.String), FibreSnapshotUnit.x,
                  FibreSnapshotUnit.y)
        .where(FibreSnapshotUnit.snapshot_id.in_(sorted(snapshots)))
    )
    if within is not None:
        query = query.where(
            FibreSnapshotUnit.x.between(min(r.minx for r in within), max(r.maxx for r in within)),
            FibreSnapshotUnit.y.between(min(r.miny for r in within), max(r.maxy for r in within)))
    frame = query_frame(query, ["snapshot_id", *UNIT_COLUMNS], dtypes={
        "snapshot_id": "int64", "unit_key": str, "organisation_id": "int64",
        "demand_id": "int64", "stage": str, "x": "float64", "y": "float64"})
    frame.insert(0, "day", frame.pop("snapshot_id").map(snapshots))
    return frame


# --- the partition and the disclosure rule over time --------------------------------------------


def inside(regions: Sequence[FibreRegion], x: Any, y: Any) -> np.ndarray:
    """Points × regions: whether each point lies in each region, boundary included.

    Units repeat their address every day and regions are small against the map, so each
    distinct point is tested once, and only against the regions whose bounding box holds it.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    result = np.zeros((len(x), len(regions)), dtype=bool)
    if not len(x) or not regions:
        return result
    points, back = np.unique(x + 1j * y, return_inverse=True)  # 1-D: fast
    back = back.reshape(-1)
    px, py = points.real, points.imag
    for j, region in enumerate(regions):
        near = np.flatnonzero((px >= region.minx) & (px <= region.maxx)
                              & (py >= region.miny) & (py <= region.maxy))
        if not len(near):
            continue
        geometry = region.geometry
        shapely.prepare(geometry)
        hit = np.zeros(len(points), dtype=bool)
        hit[near] = shapely.intersects_xy(geometry, px[near], py[near])
        result[:, j] = hit[back]
    return result


def admitted_regions() -> list[FibreRegion]:
    return list(db.session.scalars(
        sa.select(FibreRegion).where(FibreRegion.admitted_on.is_not(None)).order_by(FibreRegion.id)
    ))


def publications(region_ids: Iterable[int] | None = None, *, since: date | None = None,
                 until: date | None = None) -> pd.DataFrame:
    query = sa.select(FibrePublication.region_id, FibrePublication.day, FibrePublication.stage,
                      FibrePublication.published, FibrePublication.count)
    if region_ids is not None:
        query = query.where(FibrePublication.region_id.in_(list(region_ids)))
    if since is not None:
        query = query.where(FibrePublication.day >= since)
    if until is not None:
        query = query.where(FibrePublication.day <= until)
    return pd.DataFrame(db.session.execute(query).all(),
                        columns=["region_id", "day", "stage", "published", "count"])


def published_days(pubs: pd.DataFrame) -> dict[tuple[int, Stage], set[date]]:
    days: dict[tuple[int, Stage], set[date]] = defaultdict(set)
    for row in pubs[pubs["published"].astype(bool)].itertuples():
        days[(int(row.region_id), Stage(row.stage))].add(row.day)
    return days


@dataclass
class Cells:
    """Units of some days cut into cells by regions: ``cell`` per unit, ``regions`` per cell."""

    units: pd.DataFrame  # with columns day, organisation_id, stage, demand_id, cell
    members: list[tuple[bool, ...]]  # cell -> inside each region

    def __post_init__(self) -> None:
        self._by_cell = {int(c): frame for c, frame in self.units.groupby("cell", sort=False)} \
            if len(self.units) else {}

    def of(self, cell: int) -> pd.DataFrame:
        return self._by_cell.get(cell, self.units.iloc[0:0])

    def orgs(self, cell: int) -> list[int]:
        return sorted({int(o) for o in self.of(cell)["organisation_id"]})

    def states(self, cell: int, stage: Stage, days: Sequence[date], orgs: list[int],
               known: set[int] | None = None) -> np.ndarray:
        """Days × orgs: the addresses each member has in the cell for ``stage`` on each day
        (without the demands in ``known``)."""
        rows = self.of(cell)
        rows = rows[rows["stage"] == stage]
        if known:
            rows = rows[~rows["demand_id"].isin(known)]
        result = np.zeros((len(days), len(orgs)), dtype=np.int64)
        if not len(days) or not orgs or not len(rows):
            return result
        day_index = {d: i for i, d in enumerate(days)}
        org_index = {o: j for j, o in enumerate(orgs)}
        i = rows["day"].map(day_index).to_numpy()
        j = rows["organisation_id"].map(org_index).to_numpy()
        keep = ~(pd.isna(i) | pd.isna(j))
        np.add.at(result, (i[keep].astype(np.int64), j[keep].astype(np.int64)), 1)
        return result

    def state(self, cell: int, stage: Stage, day: date, orgs: list[int],
              known: set[int] | None = None) -> np.ndarray:
        result: np.ndarray = self.states(cell, stage, [day], orgs, known)[0]
        return result


def cut(units: pd.DataFrame, regions: Sequence[FibreRegion]) -> Cells:
    units = units.copy()
    if units.empty or not regions:
        units["cell"] = pd.Series(dtype=np.int64)
        return Cells(units, [])
    matrix = inside(regions, units["x"].to_numpy(float), units["y"].to_numpy(float))
    # One bytes key per row (np.unique along rows of a boolean matrix sorts slowly).
    packed = np.packbits(matrix, axis=1)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    units["cell"] = inverse.reshape(-1)
    return Cells(units, [tuple(bool(v) for v in matrix[i]) for i in first])


def cell_days(cells: Cells, index: int, region_ids: list[int],
              published: dict[tuple[int, Stage], set[date]], stage: Stage) -> set[date]:
    """Days a cell was used: any region around it was published for the stage."""
    return set().union(*(published.get((rid, stage), set())
                         for rid, member in zip(region_ids, cells.members[index], strict=True)
                         if member))


def admit(region: FibreRegion, day: date) -> bool:
    """Let ``region`` join the partition if cutting the cells with it keeps every day published
    so far safe for every new piece (each state and each difference of two states). A region
    is tried once a day (``tried_on``)."""
    region.tried_on = day
    regions = [*admitted_regions(), region]
    ids = [r.id for r in regions]
    published = published_days(publications([r.id for r in regions[:-1]]))
    all_days = set().union(*published.values()) if published else set()
    cells = cut(snapshot_units(all_days, within=[region]), regions)
    for index, member in enumerate(cells.members):
        if not member[-1]:
            continue  # a cell outside the new region is not cut by it
        orgs = cells.orgs(index)
        for stage in STAGES:
            days = sorted(cell_days(cells, index, ids, published, stage))
            if not history_is_safe(list(cells.states(index, stage, days, orgs))):
                return False
    region.admitted_on = day
    db.session.flush()
    return True


def publish_day(day: date) -> bool:
    """Decide, once, which region counts of ``day`` are published (see the services
    docstring); returns whether anything was decided."""
    regions = admitted_regions()
    if not regions:
        return False
    pubs = publications()
    done = {(int(r.region_id), Stage(r.stage)) for r in pubs.itertuples() if r.day == day}
    todo = [r for r in regions if any((r.id, s) not in done for s in STAGES)]
    if not todo:
        return False
    ids = [r.id for r in regions]
    published = published_days(pubs)
    for key in list(published):
        published[key].discard(day)
    all_days = set().union(*published.values()) if published else set()
    cells = cut(snapshot_units(all_days | {day}), regions)
    usable: dict[tuple[int, Stage], bool] = {}
    for index, member in enumerate(cells.members):
        if not any(member):
            continue
        orgs = cells.orgs(index)
        for stage in STAGES:
            before = sorted(cell_days(cells, index, ids, published, stage))
            states = cells.states(index, stage, [day, *before], orgs)
            usable[(index, stage)] = may_use(states[0], states[1:])
    today_units = cells.units[cells.units["day"] == day]
    rows = []
    for j, region in enumerate(regions):
        if region not in todo:
            continue
        in_region = [i for i, member in enumerate(cells.members) if member[j]]
        for stage in STAGES:
            ok = all(usable.get((i, stage), True) for i in in_region)
            count = int(((today_units["stage"] == stage)
                         & today_units["cell"].isin(in_region)).sum())
            rows.append({"region_id": region.id, "day": day, "stage": stage, "published": ok,
                         "count": count if ok else None})
    insert_ignore(FibrePublication.__table__, rows, ["region_id", "day", "stage"])
    return True


def pending(day: date) -> bool:
    """Whether ``day`` still has work: a region of a check not tried today, or an admitted
    region without the day's publication."""
    in_use = sa.select(FibreCheckRegion.region_id).where(
        FibreCheckRegion.region_id == FibreRegion.id).exists()
    untried = sa.select(FibreRegion.id).where(
        FibreRegion.admitted_on.is_(None), in_use,
        sa.or_(FibreRegion.tried_on.is_(None), FibreRegion.tried_on != day)).exists()
    published = sa.select(FibrePublication.region_id).where(
        FibrePublication.region_id == FibreRegion.id, FibrePublication.day == day).exists()
    unpublished = sa.select(FibreRegion.id).where(
        FibreRegion.admitted_on.is_not(None), ~published).exists()
    return bool(db.session.scalar(sa.select(sa.or_(untried, unpublished))))


def regions_to_try(day: date) -> list[FibreRegion]:
    """Regions of a check that are not admitted and were not tried on ``day``."""
    in_use = sa.select(FibreCheckRegion.region_id).where(
        FibreCheckRegion.region_id == FibreRegion.id).exists()
    return list(db.session.scalars(sa.select(FibreRegion).where(
        FibreRegion.admitted_on.is_(None), in_use,
        sa.or_(FibreRegion.tried_on.is_(None), FibreRegion.tried_on != day))
        .order_by(FibreRegion.id)))
