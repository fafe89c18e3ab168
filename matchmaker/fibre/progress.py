"""What a provider (and a member) sees of a fibre check: progress per area from the stored
daily publication, computed once and read many times.

A page view reads a handful of small rows: the publications of the check's regions in the
trend window, and two stored results that only change with the day or with the inputs they
were computed from:

- per check (:class:`FibreProgressCache`): the addresses each area counts by use (the
  register, before exclusions) and the count of every group of areas on every published
  day. Keyed by the check's regions, their admission and its uses, and by the day: a new day
  adds that day's group counts to the ones kept (incremental; a day never changes).
- per provider (:class:`FibreProviderCache`): the days the rule hides for this provider
  because it knows some members by consent (services docstring, "Consent"). Keyed by the
  version of the consents (a database trigger moves it on every change, whatever path made
  it: :mod:`matchmaker.caching`) and by the latest publication, so a consent given or
  withdrawn takes effect at the next view.

Exclusions are applied when reading (a few addresses), so they show at once. The scheduler
(``matchmaker snapshot-fibre``) fills both right after the day's publication; a view that
finds a stale one computes it and stores it (the page then waits once).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from geo.addresses import is_residential
from matchmaker.caching import version_of
from matchmaker.database import wants_write
from matchmaker.demand.models import ProviderConsent, Stage
from matchmaker.extensions import db
from matchmaker.fibre.models import (
    FibreCheck,
    FibreProgressCache,
    FibreProviderCache,
    FibrePublication,
    FibreRegion,
    Grouping,
)
from matchmaker.fibre.publication import (
    STAGES,
    admitted_regions,
    cell_days,
    cut,
    inside,
    publications,
    published_days,
    snapshot_units,
)
from matchmaker.frames import query_frame
from matchmaker.models import utcnow
from matchmaker.privacy import usable_days
from matchmaker.register.models import AddressRecord

TREND_DAYS = 90


@dataclass
class Point:
    day: date
    committed: int | None  # None: hidden on that day
    interest: int | None


@dataclass
class AreaProgress:
    key: str  # region id, or "all" / a group of region ids
    name: str  # "" for a drawn polygon
    region_ids: list[int]
    addresses: int  # the denominator: counted register addresses minus exclusions
    excluded: int
    committed: int | None  # None: hidden under the disclosure rule
    interest: int | None
    needed: int | None  # threshold in addresses
    admitted: bool
    trend: list[Point] = field(default_factory=list)
    passed_on: date | None = None
    regions: list[FibreRegion] = field(default_factory=list, repr=False, compare=False)

    @cached_property
    def geometry(self) -> shapely.Geometry:
        """The area (the union of its regions, RD New); built only when a map asks."""
        if len(self.regions) == 1:
            return self.regions[0].geometry
        return shapely.union_all([r.geometry for r in self.regions])

    @property
    def hidden(self) -> bool:
        return self.committed is None

    @property
    def percent(self) -> Decimal | None:
        if self.committed is None or not self.addresses:
            return None
        return (Decimal(100) * self.committed / self.addresses).quantize(Decimal("0.1"))

    @property
    def interested(self) -> int | None:
        """Every address with demand, signed or not (only when both parts are shown)."""
        if self.committed is None or self.interest is None:
            return None
        return self.committed + self.interest

    @property
    def still_needed(self) -> int | None:
        if self.committed is None or self.needed is None:
            return None
        return max(self.needed - self.committed, 0)

    @property
    def passes(self) -> bool | None:
        if self.committed is None or self.needed is None:
            return None
        return self.committed >= self.needed


@dataclass
class CheckProgress:
    check: FibreCheck
    day: date | None  # the snapshot day the numbers are from
    areas: list[AreaProgress]
    groups: list[AreaProgress]  # all areas together, or the what-if grouping
    threshold_percent: Decimal | None
    threshold_count: int | None
    grouping: Grouping

    @property
    def deciding(self) -> list[AreaProgress]:
        """The rows the decision is made on: per area, or the group of all areas."""
        return self.groups if self.grouping == Grouping.TOGETHER else self.areas


def needed_for(addresses: int, *, percent: Decimal | None, count: int | None) -> int | None:
    """The threshold in addresses: a percentage of the addresses, rounded up (30 % of 101 is
    31, not 30.3), or the fixed number. No addresses and a percentage: no threshold."""
    if count is not None:
        return count
    if percent is None or addresses <= 0:
        return None
    return int((percent * addresses / 100).to_integral_value(ROUND_CEILING))


# --- denominators -------------------------------------------------------------------------------


def counted_by_use(uses: Sequence[str], values: pd.Series) -> np.ndarray:
    """Whether each register use counts for a check with ``uses`` (none: every use that is
    not only a home)."""
    result: np.ndarray
    if uses:
        pattern = r"(?:^|,)\s*(?:" + "|".join(re.escape(u) for u in uses) + r")\s*(?:,|$)"
        result = values.fillna("").astype(str).str.contains(pattern, regex=True).to_numpy(bool)
    else:
        result = ~is_residential(values).to_numpy(bool)
    return result


def counted_addresses(check: FibreCheck, regions: Sequence[FibreRegion]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per region: addresses counted (uses, minus exclusions) and excluded, as arrays of
    masks over the register addresses near the regions (rows) × regions (columns)."""
    if not regions:
        return np.zeros((0, 0), bool), np.zeros((0, 0), bool)
    rows = db.session.execute(
        sa.select(AddressRecord.id, AddressRecord.use, AddressRecord.x, AddressRecord.y)
        .where(AddressRecord.x.between(min(r.minx for r in regions), max(r.maxx for r in regions)),
               AddressRecord.y.between(min(r.miny for r in regions), max(r.maxy for r in regions)))
    ).all()
    frame = pd.DataFrame(rows, columns=["id", "use", "x", "y"])
    matrix = inside(regions, frame["x"].to_numpy(float), frame["y"].to_numpy(float))
    counts = counted_by_use(check.uses, frame["use"])
    excluded = frame["id"].isin({e.address_id for e in check.exclusions}).to_numpy(bool)
    return matrix & (counts & ~excluded)[:, None], matrix & (counts & excluded)[:, None]


def _excluded_matrix(check: FibreCheck, regions: Sequence[FibreRegion]) -> np.ndarray:
    """Exclusions × regions: the excluded addresses that would count, where they lie."""
    items = [e.address for e in check.exclusions]
    if not items or not regions:
        return np.zeros((0, len(regions)), bool)
    counts = counted_by_use(check.uses, pd.Series([a.use for a in items], dtype=object))
    matrix = inside(regions, [a.x for a in items], [a.y for a in items])
    result: np.ndarray = matrix & counts[:, None]
    return result


# --- the stored results -------------------------------------------------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _check_basis(check: FibreCheck) -> str:
    return _digest([[[r.id, r.admitted_on is not None] for r in check.regions],
                    check.counted_uses])


def _union_counts(regions: Sequence[FibreRegion], days: Iterable[date]
                  ) -> dict[tuple[date, Stage], int]:
    """Addresses with demand in any of ``regions`` per day and stage, from the snapshots."""
    units = snapshot_units(days, within=regions)
    if units.empty:
        return {}
    mask = inside(regions, units["x"].to_numpy(float), units["y"].to_numpy(float)).any(axis=1)
    counts = units[mask].groupby(["day", "stage"]).size()
    return {(d, Stage(s)): int(n) for (d, s), n in counts.items()}


def _group_days(region_ids: Sequence[int], pubs: pd.DataFrame) -> set[date]:
    """Days on which every region of a group was published for some stage: the only days a
    group's count can be shown."""
    published = pubs[pubs["published"].astype(bool)]
    if not len(region_ids) or published.empty:
        return set()
    per_day = published[published["region_id"].isin(region_ids)].groupby("day")["region_id"] \
        .nunique()
    return {d for d, n in per_day.items() if n == len(set(region_ids))}


def _compute_check(check: FibreCheck, last: date | None, pubs: pd.DataFrame,
                   old: dict[str, Any] | None) -> dict[str, Any]:
    """The denominators by use per area and "all", and the count of all areas together on each
    published day of the trend window (reusing the days ``old`` already holds)."""
    regions = check.regions
    frame = query_frame(
        sa.select(AddressRecord.use, AddressRecord.x, AddressRecord.y)
        .where(AddressRecord.x.between(min(r.minx for r in regions), max(r.maxx for r in regions)),
               AddressRecord.y.between(min(r.miny for r in regions), max(r.maxy for r in regions))),
        ["use", "x", "y"], dtypes={"use": object, "x": "float64", "y": "float64"},
    ) if regions else pd.DataFrame({"use": [], "x": [], "y": []})
    matrix = inside(regions, frame["x"].to_numpy(float), frame["y"].to_numpy(float)) \
        & counted_by_use(check.uses, frame["use"])[:, None]
    addresses = {str(r.id): int(matrix[:, j].sum()) for j, r in enumerate(regions)}
    addresses["all"] = int(matrix.any(axis=1).sum()) if len(regions) else 0
    union: dict[str, list[int]] = dict((old or {}).get("union", {}))
    if last is not None:
        start = last - timedelta(days=TREND_DAYS - 1)
        days = {d for d in _group_days([r.id for r in regions], pubs) if start <= d <= last}
        missing = {d for d in days if d.isoformat() not in union}
        counts = _union_counts(regions, missing) if missing else {}
        for d in missing:
            union[d.isoformat()] = [counts.get((d, stage), 0) for stage in STAGES]
        union = {k: v for k, v in union.items() if start.isoformat() <= k <= last.isoformat()}
    return {"addresses": addresses, "union": union}


def _narrowing(known: set[int]) -> list[tuple[int, Stage, date]]:
    """(region, stage, day) that a provider who knows the demands ``known`` by name may not
    see: the rule applied once more to the members it does not know, per cell, over every
    published day (what was shown to everyone stays the limit)."""
    if not known:
        return []
    regions = admitted_regions()
    ids = [r.id for r in regions]
    published = published_days(publications(ids))
    all_days = set().union(*published.values()) if published else set()
    cells = cut(snapshot_units(all_days), regions)
    hidden: set[tuple[int, Stage, date]] = set()
    units = cells.units
    for index in sorted({int(c) for c in units.loc[units["demand_id"].isin(known), "cell"]}):
        around = [rid for rid, m in zip(ids, cells.members[index], strict=True) if m]
        if not around:
            continue
        orgs = cells.orgs(index)
        for stage in STAGES:
            days = sorted(cell_days(cells, index, ids, published, stage))
            states = cells.states(index, stage, days, orgs, known)
            for d, ok in zip(days, usable_days(list(states)), strict=True):
                if not ok:
                    hidden.update((rid, stage, d) for rid in around)
    return sorted(hidden)


def _upsert(model: Any, values: dict[str, Any], key: str) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model.__table__).values(values)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[key], set_={k: v for k, v in values.items() if k != key}))


def _may_store() -> bool:
    """Store a computed result when the transaction may write (on SQLite only a request that
    declared it writes, so a read transaction is never upgraded)."""
    return wants_write() or db.session.get_bind().dialect.name != "sqlite"


# --- reading ------------------------------------------------------------------------------------


@dataclass
class _Inputs:
    """Everything progress needs for a set of checks, read in a fixed number of queries."""

    last: dict[int, date | None]  # check id -> its latest published day
    pubs: pd.DataFrame
    hidden: dict[int, set[tuple[int, Stage, date]]]  # provider id -> narrowing
    caches: dict[int, dict[str, Any]]  # check id -> stored data


def _load(checks: Sequence[FibreCheck], *, day: date | None, trend_days: int) -> _Inputs:
    if not checks:
        return _Inputs({}, publications([]), {}, {})
    # Regions and exclusions of every check in two queries (fills what is not loaded yet).
    db.session.scalars(sa.select(FibreCheck).where(FibreCheck.id.in_([c.id for c in checks]))
                       .options(selectinload(FibreCheck.check_regions),
                                selectinload(FibreCheck.exclusions))).all()
    admitted = {c.id: [r.id for r in c.regions if r.admitted_on is not None] for c in checks}
    region_ids = sorted({rid for ids in admitted.values() for rid in ids})
    latest = dict(db.session.execute(
        sa.select(FibrePublication.region_id, sa.func.max(FibrePublication.day))
        .where(FibrePublication.region_id.in_(region_ids))
        .group_by(FibrePublication.region_id)).all()) if region_ids else {}
    newest = {c.id: max((latest[r] for r in admitted[c.id] if r in latest), default=None)
              for c in checks}
    last = {c.id: day or newest[c.id] for c in checks}
    ends = [d for d in last.values() if d is not None]
    pubs = publications(region_ids, since=min(ends) - timedelta(days=trend_days - 1),
                        until=max(ends)) if ends else publications([])

    stored = {row.check_id: row for row in db.session.scalars(
        sa.select(FibreProgressCache).where(FibreProgressCache.check_id.in_(
            [c.id for c in checks])))}
    caches = {}
    for check in checks:
        row = stored.get(check.id)
        basis = _check_basis(check)
        end = last[check.id]
        if row is not None and row.basis == basis and row.day == end:
            caches[check.id] = row.data
            continue
        window = publications(admitted[check.id], since=end - timedelta(days=TREND_DAYS - 1),
                              until=end) if end is not None else publications([])
        data = _compute_check(check, end, window,
                              row.data if row is not None and row.basis == basis else None)
        caches[check.id] = data
        if _may_store() and end == newest[check.id]:
            _upsert(FibreProgressCache, {"check_id": check.id, "basis": basis, "day": end,
                                         "computed_at": utcnow(), "data": data}, "check_id")
    return _Inputs(last, pubs, _hidden({c.provider_id for c in checks}), caches)


def _hidden(provider_ids: set[int]) -> dict[int, set[tuple[int, Stage, date]]]:
    """The narrowing per provider, stored; valid while no consent changed (the ``consents``
    change counter, moved by a trigger on every change: :mod:`matchmaker.caching`), no day
    was published and no region admitted since."""
    basis = _digest([version_of("consents"),
                     db.session.scalar(sa.select(sa.func.max(FibrePublication.day))),
                     list(db.session.scalars(sa.select(FibreRegion.id).where(
                         FibreRegion.admitted_on.is_not(None)).order_by(FibreRegion.id)))])
    stored = {row.provider_id: row for row in db.session.scalars(
        sa.select(FibreProviderCache).where(FibreProviderCache.provider_id.in_(
            sorted(provider_ids))))}
    result = {}
    for provider_id in provider_ids:
        row = stored.get(provider_id)
        if row is not None and row.basis == basis:
            hidden = row.hidden
        else:
            known = set(db.session.scalars(sa.select(ProviderConsent.demand_id).where(
                ProviderConsent.provider_id == provider_id)))
            hidden = [[rid, stage.value, d.isoformat()] for rid, stage, d in _narrowing(known)]
            if _may_store():
                _upsert(FibreProviderCache, {"provider_id": provider_id, "basis": basis,
                                             "computed_at": utcnow(), "hidden": hidden},
                        "provider_id")
        result[provider_id] = {(int(rid), Stage(stage), date.fromisoformat(d))
                               for rid, stage, d in hidden}
    return result


def _assemble(check: FibreCheck, inputs: _Inputs, *, threshold_percent: Decimal | None,
              threshold_count: int | None, grouping: Grouping,
              groups: list[list[int]] | None, trend_days: int) -> CheckProgress:
    regions = check.regions
    last = inputs.last[check.id]
    data = inputs.caches[check.id]
    hidden = inputs.hidden[check.provider_id]
    ids = [r.id for r in regions]
    pubs = inputs.pubs[inputs.pubs["region_id"].isin(ids)]
    shown: dict[tuple[int, Stage], dict[date, int]] = defaultdict(dict)
    for pub in pubs[pubs["published"].astype(bool)].itertuples():
        where = (int(pub.region_id), Stage(pub.stage))
        if (where[0], where[1], pub.day) not in hidden:
            shown[where][pub.day] = int(pub.count)
    start = (last - timedelta(days=trend_days - 1)) if last else None
    trend_days_list = sorted({d for d in pubs["day"] if start and start <= d <= last})
    excluded = _excluded_matrix(check, regions)
    passed = {cr.region_id: cr.passed_on for cr in check.check_regions}

    def row(key: str, name: str, members: list[FibreRegion], columns: list[int],
            raw: int, counts: dict[tuple[date, Stage], int | None]) -> AreaProgress:
        dropped = int(excluded[:, columns].any(axis=1).sum()) if len(excluded) else 0
        addresses = raw - dropped
        trend = [Point(d, counts.get((d, Stage.COMMITTED)), counts.get((d, Stage.INTEREST)))
                 for d in trend_days_list]
        return AreaProgress(
            key=key, name=name, region_ids=[r.id for r in members], addresses=addresses,
            excluded=dropped,
            committed=counts.get((last, Stage.COMMITTED)) if last else None,
            interest=counts.get((last, Stage.INTEREST)) if last else None,
            needed=needed_for(addresses, percent=threshold_percent, count=threshold_count),
            admitted=all(r.admitted_on is not None for r in members), trend=trend,
            regions=members)

    areas = []
    for j, region in enumerate(regions):
        counts: dict[tuple[date, Stage], int | None] = {}
        for stage in STAGES:
            for d, n in shown.get((region.id, stage), {}).items():
                counts[(d, stage)] = n
        item = row(str(region.id), region.name, [region], [j],
                   data["addresses"].get(str(region.id), 0), counts)
        item.passed_on = passed.get(region.id)
        areas.append(item)

    if groups is None:
        groups = [ids] if grouping == Grouping.TOGETHER or len(regions) > 1 else []
    result_groups = []
    position = {rid: j for j, rid in enumerate(ids)}
    for group in groups:
        members = [r for r in regions if r.id in set(group)]
        if not members:
            continue
        columns = [position[r.id] for r in members]
        shown_days = {(d, stage) for d in trend_days_list for stage in STAGES
                      if all(d in shown.get((r.id, stage), {}) for r in members)}
        everything = len(members) == len(regions)
        if everything:
            union = {(date.fromisoformat(d), stage): values[i]
                     for d, values in data["union"].items() for i, stage in enumerate(STAGES)}
            missing = {d for d, _s in shown_days if (d, Stage.COMMITTED) not in union}
            if missing:  # an older day than the stored window (an explicit day)
                union.update(_union_counts(members, missing))
            raw = data["addresses"]["all"]
        else:
            union = _union_counts(members, {d for d, _s in shown_days})
            counted, dropped = counted_addresses(check, members)
            raw = int((counted | dropped).any(axis=1).sum())
        counts = {key: union.get(key, 0) for key in shown_days}
        key = "all" if everything else "+".join(str(r.id) for r in members)
        item = row(key, "", members, columns, raw, counts)
        if key == "all":
            item.passed_on = check.passed_on
        result_groups.append(item)
    return CheckProgress(check=check, day=last, areas=areas, groups=result_groups,
                         threshold_percent=threshold_percent, threshold_count=threshold_count,
                         grouping=grouping)


def progress_for(checks: Sequence[FibreCheck], *, day: date | None = None,
                 trend_days: int = TREND_DAYS) -> dict[int, CheckProgress]:
    """Published progress of several checks at once (a list page, a dashboard), in a fixed
    number of queries."""
    inputs = _load(checks, day=day, trend_days=trend_days)
    return {check.id: _assemble(check, inputs, threshold_percent=check.threshold_percent,
                                threshold_count=check.threshold_count, grouping=check.grouping,
                                groups=None, trend_days=trend_days)
            for check in checks}


def progress(check: FibreCheck, *, threshold_percent: Decimal | None = None,
             threshold_count: int | None = None, grouping: Grouping | None = None,
             groups: list[list[int]] | None = None, day: date | None = None,
             trend_days: int = TREND_DAYS) -> CheckProgress:
    """Published progress of ``check`` (read only). The keyword options are the what-if:
    another threshold, another grouping, or groups of region ids taken together; the check
    itself does not change."""
    if threshold_percent is None and threshold_count is None:
        threshold_percent, threshold_count = check.threshold_percent, check.threshold_count
    inputs = _load([check], day=day, trend_days=trend_days)
    return _assemble(check, inputs, threshold_percent=threshold_percent,
                     threshold_count=threshold_count, grouping=grouping or check.grouping,
                     groups=groups, trend_days=trend_days)
