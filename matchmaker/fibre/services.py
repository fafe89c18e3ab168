"""Fibre demand checks: definitions, denominators, daily snapshots, publication under the
disclosure rule, progress, what-if, consented address lists and threshold e-mail.

How numbers reach a provider (the decisions, see also README "Fibre demand checks"):

- **Sites and addresses.** A member's fibre demand counts for one *address*: the site's BAG id
  when it has one (two sites with one BAG id are one address), else the site itself. It lies
  where the register puts that BAG id, else where the site is. It counts in every area that
  covers that point, boundary included (as ``geo.bundling.bundle_by_area``; areas of a check
  may overlap, so each area is tested on its own). The stage of an address is its most
  advanced demand (committed before interest); withdrawn demand does not count.
- **Numerators ignore denominator choices.** Which uses count and which addresses are
  excluded only change the denominator; otherwise excluding one address and watching the
  count drop would reveal whether that address signed up.
- **Daily snapshots.** The numbers shown are those of the day's snapshot (Dutch date), taken by
  the first page view or API call of the day, or by ``matchmaker snapshot-fibre`` (cron);
  later changes show the next day. A snapshot is never replaced.
- **Publication.** Every day each region's count per stage (committed; interested but not
  signed) is published or not under :mod:`matchmaker.privacy`: on the cells of all regions of
  all checks, against every day the cell was published before. That decision is stored and
  never revisited. A new region (a drawn polygon, or a park used for the first time) joins
  only when cutting the existing cells with it keeps every earlier published day safe;
  otherwise it stays hidden and is tried again every day.
- **Consent.** Members who consented to a check's provider are known to that provider by
  name; the rule is applied once more, per provider, to the members that are *not* known
  (so the named list cannot be subtracted from a count to reveal the rest).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.addresses import is_residential, normalize_postcode, parse_house_number
from geo.errors import GeoError
from matchmaker.audit.models import AuditLog
from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.database import insert_ignore
from matchmaker.demand.models import Demand, Product, ProviderConsent, Stage
from matchmaker.demand.services import publish_park_demand
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.fibre.models import (
    ExclusionReason,
    FibreCheck,
    FibreCheckRegion,
    FibreExclusion,
    FibrePublication,
    FibreRegion,
    FibreSnapshot,
    FibreSnapshotUnit,
    Grouping,
)
from matchmaker.mail.models import MailKind
from matchmaker.mail.services import external_url, queue_mail
from matchmaker.members.models import Organisation, Site
from matchmaker.members.services import find_address
from matchmaker.models import utcnow
from matchmaker.privacy import history_is_safe, may_use, usable_days
from matchmaker.register.models import AddressRecord, Area
from matchmaker.register.services import chosen_areas

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
STAGES = (Stage.COMMITTED, Stage.INTEREST)  # the two published cells: signed, interest only
DEFAULT_PERCENT = Decimal(30)  # DESIGN.md: 30 % of the business addresses per park
TREND_DAYS = 90
BAG_USES = ("bijeenkomstfunctie", "celfunctie", "gezondheidszorgfunctie", "industriefunctie",
            "kantoorfunctie", "logiesfunctie", "onderwijsfunctie", "sportfunctie",
            "winkelfunctie", "overige gebruiksfunctie", "woonfunctie")


def today(now: datetime | None = None) -> date:
    """The Dutch calendar day (snapshots are per day in Assen, not in UTC)."""
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


# --- checks -------------------------------------------------------------------------------------


@dataclass
class CheckSettings:
    title: str
    provider: User | None
    deadline: datetime
    threshold_percent: Decimal | None = None
    threshold_count: int | None = None
    counted_uses: list[str] = field(default_factory=list)  # empty: every non-residential use
    grouping: Grouping = Grouping.PER_AREA
    area_ids: list[int] = field(default_factory=list)
    geometry: shapely.Geometry | None = None  # a drawn polygon, RD New


def _check_settings(settings: CheckSettings, *, now: datetime) -> list[Area]:
    if not settings.title.strip():
        raise ServiceError(N_("Enter a title."), field="title")
    if settings.provider is None or settings.provider.role != Role.PROVIDER:
        raise ServiceError(N_("Choose a provider."), field="provider_id")
    if settings.deadline <= now:
        raise ServiceError(N_("The deadline must be in the future."), field="deadline")
    percent, count = settings.threshold_percent, settings.threshold_count
    if (percent is None) == (count is None):
        raise ServiceError(N_("Set the threshold as a percentage or as a number of addresses."),
                           field="threshold_value")
    if percent is not None and (not percent.is_finite() or not 0 < percent <= 100
                                or percent != percent.quantize(Decimal("0.01"))):
        raise ServiceError(N_("Enter a percentage above 0 and at most 100, with at most two "
                              "decimals."), field="threshold_value")
    if count is not None and not 1 <= count <= 1_000_000:
        raise ServiceError(N_("Enter a number of addresses from 1."), field="threshold_value")
    unknown = [u for u in settings.counted_uses if u not in BAG_USES]
    if unknown:
        raise ServiceError(N_("Choose uses from the list."), field="counted_uses")
    return chosen_areas(settings.area_ids, drawn=settings.geometry is not None)


def region_for(geometry: shapely.Geometry, *, name: str, area: Area | None) -> FibreRegion:
    """The region with exactly this polygon (shared by checks), or a new, not yet admitted one."""
    wkb = shapely.to_wkb(geometry)
    query = sa.select(FibreRegion).where(FibreRegion.geometry_wkb == wkb)
    query = query.where(FibreRegion.area_id == area.id if area else FibreRegion.area_id.is_(None))
    region = db.session.scalars(query.order_by(FibreRegion.id)).first()
    if region is None:
        region = FibreRegion(name=name, area=area)
        region.geometry = geometry
        db.session.add(region)
        db.session.flush()
    return region


def _apply(check: FibreCheck, settings: CheckSettings, areas: list[Area]) -> None:
    check.title = settings.title.strip()
    check.provider = settings.provider  # type: ignore[assignment]
    check.deadline = settings.deadline
    check.threshold_percent = settings.threshold_percent
    check.threshold_count = settings.threshold_count
    check.counted_uses = ",".join(u for u in BAG_USES if u in settings.counted_uses)
    check.grouping = settings.grouping
    regions = [region_for(a.geometry, name=a.name, area=a) for a in areas]
    if settings.geometry is not None:
        regions.append(region_for(settings.geometry, name="", area=None))
    old = {cr.region_id: cr for cr in check.check_regions}
    check.check_regions = [
        old.get(r.id) or FibreCheckRegion(region=r)
        for r in dict.fromkeys(regions)
    ]
    for position, cr in enumerate(check.check_regions):
        cr.position = position


def create_check(settings: CheckSettings, *, actor: User) -> FibreCheck:
    areas = _check_settings(settings, now=utcnow())
    check = FibreCheck(created_by=actor)
    _apply(check, settings, areas)
    db.session.add(check)
    db.session.flush()
    record(actor, "fibre.check_create", check, title=check.title,
           provider_id=check.provider_id)
    return check


def update_check(check: FibreCheck, settings: CheckSettings, *, actor: User) -> FibreCheck:
    areas = _check_settings(settings, now=utcnow())
    _apply(check, settings, areas)
    db.session.flush()
    record(actor, "fibre.check_update", check, title=check.title)
    return check


def can_see(check: FibreCheck, user: User) -> bool:
    """Providers see their own checks only; coordinators and admins see all."""
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        return True
    return user.role == Role.PROVIDER and check.provider_id == user.id


def checks_query(user: User) -> sa.Select[tuple[FibreCheck]]:
    """The checks ``user`` may see, newest deadline first (for lists and pages of them)."""
    query = sa.select(FibreCheck).order_by(FibreCheck.deadline.desc(), FibreCheck.id.desc())
    if user.role == Role.PROVIDER:
        return query.where(FibreCheck.provider_id == user.id)
    if user.role not in (Role.COORDINATOR, Role.ADMIN):
        return query.where(sa.false())
    return query


def checks_for(user: User) -> list[FibreCheck]:
    return list(db.session.scalars(checks_query(user)))


def providers() -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.role == Role.PROVIDER, User.active.is_(True))
        .order_by(User.name, User.email)
    ))


def provider_label(user: User) -> str:
    return user.name or user.email


# --- exclusions ---------------------------------------------------------------------------------


def add_exclusion(check: FibreCheck, *, postcode: str, house_number: str,
                  reason: ExclusionReason | str, note: str, actor: User) -> FibreExclusion:
    """Leave a register address out of the check's denominator: it must be in the register
    and lie in the check's areas."""
    reason = ExclusionReason(reason)
    try:
        code = normalize_postcode(postcode)
    except GeoError as err:
        raise ServiceError(err.msgid, field="postcode", **err.params) from err
    try:
        number, addition = parse_house_number(house_number)
    except GeoError as err:
        raise ServiceError(err.msgid, field="house_number", **err.params) from err
    address = find_address(code, number, addition).record
    if address is None:
        raise ServiceError(N_("This address is not in the register (or the addition is "
                              "missing)."), field="house_number")
    return exclude_address(check, address, reason=reason, note=note, actor=actor)


def exclude_address(check: FibreCheck, address: AddressRecord, *,
                    reason: ExclusionReason | str, note: str, actor: User) -> FibreExclusion:
    """Leave ``address`` out of the check's denominator (it must lie in the check's areas)."""
    reason = ExclusionReason(reason)
    if not any(shapely.intersects_xy(r.geometry, address.x, address.y) for r in check.regions):
        raise ServiceError(N_("This address is not in the areas of the check."),
                           field="postcode")
    if any(e.address_id == address.id for e in check.exclusions):
        raise ServiceError(N_("This address is excluded already."), field="postcode")
    if reason == ExclusionReason.OTHER and not note.strip():
        raise ServiceError(N_("Say why the address does not count."), field="note")
    exclusion = FibreExclusion(check=check, address=address, reason=reason,
                               note=note.strip()[:300], created_by=actor)
    db.session.add(exclusion)
    db.session.flush()
    record(actor, "fibre.exclude", check, address_id=address.id, reason=reason.value)
    return exclusion


def remove_exclusion(exclusion: FibreExclusion, *, actor: User) -> None:
    check = exclusion.check
    record(actor, "fibre.include", check, address_id=exclusion.address_id)
    check.exclusions.remove(exclusion)
    db.session.flush()


# --- units: fibre demand per address ------------------------------------------------------------

UNIT_COLUMNS = ["unit_key", "organisation_id", "demand_id", "stage", "x", "y"]
_STAGE_RANK = {Stage.COMMITTED: 0, Stage.INTEREST: 1}


def current_units() -> pd.DataFrame:
    """Every address with fibre demand now: one row per address (see the module docstring)."""
    rows = db.session.execute(
        sa.select(Site.id, Site.bag_id, Site.organisation_id, Demand.id, Demand.stage,
                  sa.func.coalesce(AddressRecord.x, Site.x), sa.func.coalesce(AddressRecord.y, Site.y))
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
        if units:
            db.session.execute(sa.insert(FibreSnapshotUnit), units)
        return snapshot
    snapshot = db.session.scalar(sa.select(FibreSnapshot).where(FibreSnapshot.day == day))
    assert isinstance(snapshot, FibreSnapshot)  # taken by a concurrent request that committed
    return snapshot


def snapshot_units(days: Iterable[date]) -> pd.DataFrame:
    days = sorted(set(days))
    columns = ["day", *UNIT_COLUMNS]
    if not days:
        return pd.DataFrame(columns=columns)
    rows = db.session.execute(
        sa.select(FibreSnapshot.day, FibreSnapshotUnit.unit_key,
                  FibreSnapshotUnit.organisation_id, FibreSnapshotUnit.demand_id,
                  FibreSnapshotUnit.stage, FibreSnapshotUnit.x, FibreSnapshotUnit.y)
        .join(FibreSnapshot, FibreSnapshot.id == FibreSnapshotUnit.snapshot_id)
        .where(FibreSnapshot.day.in_(days))
    ).all()
    return pd.DataFrame(rows, columns=columns)


# --- the partition and the disclosure rule over time --------------------------------------------


def inside(regions: Sequence[FibreRegion], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points × regions: whether each point lies in each region, boundary included."""
    result = np.zeros((len(x), len(regions)), dtype=bool)
    for j, region in enumerate(regions):
        geometry = region.geometry
        shapely.prepare(geometry)
        result[:, j] = shapely.intersects_xy(geometry, x, y)
    return result


def admitted_regions() -> list[FibreRegion]:
    return list(db.session.scalars(
        sa.select(FibreRegion).where(FibreRegion.admitted_on.is_not(None)).order_by(FibreRegion.id)
    ))


def _publications(region_ids: Iterable[int] | None = None) -> pd.DataFrame:
    query = sa.select(FibrePublication.region_id, FibrePublication.day, FibrePublication.stage,
                      FibrePublication.published, FibrePublication.count)
    if region_ids is not None:
        query = query.where(FibrePublication.region_id.in_(list(region_ids)))
    return pd.DataFrame(db.session.execute(query).all(),
                        columns=["region_id", "day", "stage", "published", "count"])


def _published_days(pubs: pd.DataFrame) -> dict[tuple[int, Stage], set[date]]:
    days: dict[tuple[int, Stage], set[date]] = defaultdict(set)
    for row in pubs[pubs["published"].astype(bool)].itertuples():
        days[(int(row.region_id), Stage(row.stage))].add(row.day)
    return days


@dataclass
class Cells:
    """Units of some days cut into cells by regions: ``cell`` per unit, ``regions`` per cell."""

    units: pd.DataFrame  # with columns day, organisation_id, stage, demand_id, cell
    members: list[tuple[bool, ...]]  # cell -> inside each region

    def state(self, cell: int, stage: Stage, day: date, orgs: list[int],
              known: set[int] | None = None) -> np.ndarray:
        rows = self.units[(self.units["cell"] == cell) & (self.units["stage"] == stage)
                          & (self.units["day"] == day)]
        if known:
            rows = rows[~rows["demand_id"].isin(known)]
        counts = rows.groupby("organisation_id").size()
        return np.array([int(counts.get(o, 0)) for o in orgs], dtype=np.int64)


def cut(units: pd.DataFrame, regions: Sequence[FibreRegion]) -> Cells:
    units = units.copy()
    if units.empty or not regions:
        units["cell"] = pd.Series(dtype=np.int64)
        return Cells(units, [])
    matrix = inside(regions, units["x"].to_numpy(float), units["y"].to_numpy(float))
    keys, inverse = np.unique(matrix, axis=0, return_inverse=True)
    units["cell"] = inverse.reshape(-1)
    return Cells(units, [tuple(bool(v) for v in key) for key in keys])


def _cell_days(cells: Cells, index: int, region_ids: list[int],
               published: dict[tuple[int, Stage], set[date]], stage: Stage) -> set[date]:
    """Days a cell was used: any region around it was published for the stage."""
    return set().union(*(published.get((rid, stage), set())
                         for rid, member in zip(region_ids, cells.members[index], strict=True)
                         if member))


def _orgs(cells: Cells, index: int) -> list[int]:
    return sorted({int(o) for o in cells.units.loc[cells.units["cell"] == index,
                                                   "organisation_id"]})


def admit(region: FibreRegion, day: date) -> bool:
    """Let ``region`` join the partition if cutting the cells with it keeps every day published
    so far safe for every new piece (each state and each difference of two states)."""
    regions = [*admitted_regions(), region]
    ids = [r.id for r in regions]
    published = _published_days(_publications([r.id for r in regions[:-1]]))
    all_days = set().union(*published.values()) if published else set()
    cells = cut(snapshot_units(all_days), regions)
    for index, member in enumerate(cells.members):
        if not any(member):
            continue
        orgs = _orgs(cells, index)
        for stage in STAGES:
            days = _cell_days(cells, index, ids, published, stage)
            states = [cells.state(index, stage, d, orgs) for d in sorted(days)]
            if not history_is_safe(states):
                return False
    region.admitted_on = day
    db.session.flush()
    return True


def publish_day(day: date) -> None:
    """Decide, once, which region counts of ``day`` are published (see module docstring)."""
    regions = admitted_regions()
    if not regions:
        return
    pubs = _publications()
    done = {(int(r.region_id), Stage(r.stage)) for r in pubs.itertuples() if r.day == day}
    todo = [r for r in regions if any((r.id, s) not in done for s in STAGES)]
    if not todo:
        return
    ids = [r.id for r in regions]
    published = _published_days(pubs)
    for key in list(published):
        published[key].discard(day)
    all_days = set().union(*published.values()) if published else set()
    cells = cut(snapshot_units(all_days | {day}), regions)
    usable: dict[tuple[int, Stage], bool] = {}
    for index, member in enumerate(cells.members):
        if not any(member):
            continue
        orgs = _orgs(cells, index)
        for stage in STAGES:
            before = sorted(_cell_days(cells, index, ids, published, stage))
            state = cells.state(index, stage, day, orgs)
            used = np.array([cells.state(index, stage, d, orgs) for d in before],
                            dtype=np.int64).reshape(-1, len(orgs))
            usable[(index, stage)] = may_use(state, used)
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


def refresh(day: date | None = None, *, now: datetime | None = None) -> FibreSnapshot:
    """Make ``day`` (default: today) ready: snapshot, admissions, publication, threshold
    e-mail, and the day's published demand per park for providers
    (:func:`matchmaker.demand.services.publish_park_demand`). Idempotent; the day's first page
    view or ``matchmaker snapshot-fibre`` runs it."""
    now = now or utcnow()
    day = day or today(now)
    snapshot = take_snapshot(day)
    for region in db.session.scalars(sa.select(FibreRegion).where(
            FibreRegion.admitted_on.is_(None)).order_by(FibreRegion.id)):
        if db.session.scalar(sa.select(FibreCheckRegion.check_id).where(
                FibreCheckRegion.region_id == region.id).limit(1)) is not None:
            admit(region, day)
    publish_day(day)
    publish_park_demand(day)
    notify_thresholds(day, now=now)
    return snapshot


# --- progress -----------------------------------------------------------------------------------


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
    geometry: shapely.Geometry
    addresses: int  # the denominator: counted register addresses minus exclusions
    excluded: int
    committed: int | None  # None: hidden under the disclosure rule
    interest: int | None
    needed: int | None  # threshold in addresses
    admitted: bool
    trend: list[Point] = field(default_factory=list)
    passed_on: date | None = None

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


def counted_addresses(check: FibreCheck, regions: Sequence[FibreRegion]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per region: addresses counted (uses, minus exclusions) and excluded, as arrays of
    masks over the register addresses near the regions (rows) × regions (columns)."""
    if not regions:
        return np.zeros((0, 0), bool), np.zeros((0, 0), bool)
    minx = min(r.minx for r in regions)
    miny = min(r.miny for r in regions)
    maxx = max(r.maxx for r in regions)
    maxy = max(r.maxy for r in regions)
    rows = db.session.execute(
        sa.select(AddressRecord.id, AddressRecord.use, AddressRecord.x, AddressRecord.y)
        .where(AddressRecord.x.between(minx, maxx), AddressRecord.y.between(miny, maxy))
    ).all()
    frame = pd.DataFrame(rows, columns=["id", "use", "x", "y"])
    matrix = inside(regions, frame["x"].to_numpy(float), frame["y"].to_numpy(float))
    if check.uses:
        wanted = set(check.uses)
        counts = frame["use"].fillna("").map(
            lambda text: bool(wanted & {u.strip() for u in str(text).split(",")})).to_numpy(bool)
    else:
        counts = ~is_residential(frame["use"]).to_numpy(bool)
    excluded_ids = {e.address_id for e in check.exclusions}
    excluded = frame["id"].isin(excluded_ids).to_numpy(bool)
    counted = matrix & (counts & ~excluded)[:, None]
    return counted, matrix & (counts & excluded)[:, None]


def _known_demands(provider_id: int) -> set[int]:
    return set(db.session.scalars(sa.select(ProviderConsent.demand_id).where(
        ProviderConsent.provider_id == provider_id)))


def _visible(regions: list[FibreRegion], pubs: pd.DataFrame, known: set[int]
             ) -> dict[tuple[int, Stage], dict[date, int]]:
    """Per (region, stage): day -> count, for the days the provider may see it.

    The days published for everyone, narrowed per cell by the rule applied to the members
    the provider does not know by name (those who did not consent to it).
    """
    shown: dict[tuple[int, Stage], dict[date, int]] = defaultdict(dict)
    for row in pubs[pubs["published"].astype(bool)].itertuples():
        shown[(int(row.region_id), Stage(row.stage))][row.day] = int(row.count)
    if not known or not regions:
        return shown
    all_regions = admitted_regions()
    ids = [r.id for r in all_regions]
    published = _published_days(_publications())
    all_days = set().union(*published.values()) if published else set()
    cells = cut(snapshot_units(all_days), all_regions)
    wanted = {r.id for r in regions}
    for index, member in enumerate(cells.members):
        around = [rid for rid, m in zip(ids, member, strict=True) if m]
        if not wanted & set(around):
            continue
        in_cell = cells.units[cells.units["cell"] == index]
        if not in_cell["demand_id"].isin(known).any():
            continue  # nobody known here: the rule for everyone is the same rule
        orgs = _orgs(cells, index)
        for stage in STAGES:
            days = sorted(_cell_days(cells, index, ids, published, stage))
            states = [cells.state(index, stage, d, orgs, known) for d in days]
            for d, ok in zip(days, usable_days(states), strict=True):
                if not ok:
                    for rid in around:
                        shown[(rid, stage)].pop(d, None)
    return shown


def _union_counts(regions: list[FibreRegion], days: Iterable[date]
                  ) -> dict[tuple[date, Stage], int]:
    units = snapshot_units(days)
    if units.empty:
        return {}
    mask = inside(regions, units["x"].to_numpy(float), units["y"].to_numpy(float)).any(axis=1)
    counts = units[mask].groupby(["day", "stage"]).size()
    return {(d, Stage(s)): int(n) for (d, s), n in counts.items()}


def progress(check: FibreCheck, *, threshold_percent: Decimal | None = None,
             threshold_count: int | None = None, grouping: Grouping | None = None,
             groups: list[list[int]] | None = None, day: date | None = None,
             trend_days: int = TREND_DAYS) -> CheckProgress:
    """Published progress of ``check`` (read only). The keyword options are the what-if:
    another threshold, another grouping, or groups of region ids taken together; the check
    itself does not change."""
    if threshold_percent is None and threshold_count is None:
        threshold_percent, threshold_count = check.threshold_percent, check.threshold_count
    grouping = grouping or check.grouping
    regions = check.regions
    admitted = [r for r in regions if r.admitted_on is not None]
    pubs = _publications([r.id for r in admitted])
    last = day or (pubs["day"].max() if not pubs.empty else None)
    if pd.isna(last):
        last = None
    shown = _visible(admitted, pubs, _known_demands(check.provider_id))
    counted, excluded = counted_addresses(check, regions)
    start = (last - timedelta(days=trend_days - 1)) if last else None
    trend_days_list = sorted({d for d in pubs["day"] if start and start <= d <= last})
    passed = {cr.region_id: cr.passed_on for cr in check.check_regions}

    def row(key: str, name: str, members: list[FibreRegion], columns: list[int],
            counts: dict[tuple[date, Stage], int | None]) -> AreaProgress:
        addresses = int(counted[:, columns].any(axis=1).sum()) if len(counted) else 0
        trend = [Point(d, counts.get((d, Stage.COMMITTED)), counts.get((d, Stage.INTEREST)))
                 for d in trend_days_list]
        return AreaProgress(
            key=key, name=name, region_ids=[r.id for r in members],
            geometry=shapely.union_all([r.geometry for r in members]),
            addresses=addresses,
            excluded=int(excluded[:, columns].any(axis=1).sum()) if len(excluded) else 0,
            committed=counts.get((last, Stage.COMMITTED)) if last else None,
            interest=counts.get((last, Stage.INTEREST)) if last else None,
            needed=needed_for(addresses, percent=threshold_percent, count=threshold_count),
            admitted=all(r.admitted_on is not None for r in members), trend=trend,
        )

    areas = []
    for j, region in enumerate(regions):
        counts: dict[tuple[date, Stage], int | None] = {}
        for stage in STAGES:
            for d, n in shown.get((region.id, stage), {}).items():
                counts[(d, stage)] = n
        item = row(str(region.id), region.name, [region], [j], counts)
        item.passed_on = passed.get(region.id)
        areas.append(item)

    if groups is None:
        groups = [[r.id for r in regions]] if grouping == Grouping.TOGETHER or len(regions) > 1 \
            else []
    result_groups = []
    position = {r.id: j for j, r in enumerate(regions)}
    for group in groups:
        members = [r for r in regions if r.id in set(group)]
        if not members:
            continue
        columns = [position[r.id] for r in members]
        shown_days = {(d, stage) for d in trend_days_list for stage in STAGES
                      if all(d in shown.get((r.id, stage), {}) for r in members)}
        union = _union_counts(members, {d for d, _s in shown_days})
        counts = {key: union.get(key, 0) for key in shown_days}
        key = "all" if len(members) == len(regions) else "+".join(str(r.id) for r in members)
        item = row(key, "", members, columns, counts)
        if key == "all":
            item.passed_on = check.passed_on
        result_groups.append(item)
    return CheckProgress(check=check, day=last, areas=areas, groups=result_groups,
                         threshold_percent=threshold_percent, threshold_count=threshold_count,
                         grouping=grouping)


# --- threshold reached --------------------------------------------------------------------------


def member_users_in(regions: Sequence[FibreRegion]) -> list[User]:
    """Active member accounts of organisations with a site in the regions."""
    sites = db.session.execute(sa.select(Site.organisation_id, Site.x, Site.y)).all()
    if not sites:
        return []
    frame = pd.DataFrame(sites, columns=["organisation_id", "x", "y"])
    mask = inside(regions, frame["x"].to_numpy(float), frame["y"].to_numpy(float)).any(axis=1)
    orgs = sorted({int(o) for o in frame.loc[mask, "organisation_id"]})
    if not orgs:
        return []
    return list(db.session.scalars(sa.select(User).where(
        User.organisation_id.in_(orgs), User.role == Role.MEMBER, User.active.is_(True))
        .order_by(User.id)))


def notify_thresholds(day: date, *, now: datetime) -> int:
    """E-mail the provider and the members of every area that passed on ``day``, once per
    check and area (the day is stored; the outbox's dedupe key guards against repeats)."""
    sent = 0
    checks = db.session.scalars(sa.select(FibreCheck).where(FibreCheck.deadline >= now))
    for check in checks:
        state = progress(check, day=day)
        targets: list[tuple[AreaProgress, FibreCheckRegion | None]]
        if check.grouping == Grouping.TOGETHER:
            targets = [(row, None) for row in state.groups if row.key == "all"]
        else:
            by_id = {cr.region_id: cr for cr in check.check_regions}
            targets = [(row, by_id[row.region_ids[0]]) for row in state.areas]
        for row, link in targets:
            already = check.passed_on if link is None else link.passed_on
            if already is not None or not row.passes:
                continue
            if link is None:
                check.passed_on = day
            else:
                link.passed_on = day
            regions = [r for r in check.regions if r.id in row.region_ids]
            sent += _mail_threshold(check, row, regions)
            record(None, "fibre.threshold_reached", check, area=row.key,
                   committed=row.committed, needed=row.needed)
    db.session.flush()
    return sent


def _mail_threshold(check: FibreCheck, row: AreaProgress, regions: list[FibreRegion]) -> int:
    count = 0
    names = ", ".join(r.name for r in regions if r.name)
    for user in [check.provider, *member_users_in(regions)]:
        is_provider = user.id == check.provider_id
        link = (external_url("fibre.check", check_id=check.id) if is_provider
                else external_url("members.dashboard"))
        count += queue_mail(
            user.email, kind=MailKind.THRESHOLD,
            dedupe_key=f"fibre-threshold:{check.id}:{row.key}:{user.id}",
            template="fibre_threshold", subject=N_("Fibre threshold reached: %(title)s"),
            locale=user.locale, topic=f"fibre:{check.id}", title=check.title, row=row,
            area=names, provider=provider_label(check.provider), link=link,
            for_provider=is_provider,
        )
    return count


# --- consented addresses (address level) --------------------------------------------------------


@dataclass
class ConsentedAddress:
    demand_id: int
    organisation: str
    site_id: int
    bag_id: str
    street: str
    house_number: int
    addition: str
    postcode: str
    city: str
    stage: Stage
    areas: list[str]


def consented_addresses(check: FibreCheck, *, actor: User, via: str) -> list[ConsentedAddress]:
    """Name and address of every member with fibre demand in the check's areas who consented
    to the check's provider. Every call is recorded in the audit log, one entry per demand,
    so each member can see who looked at their data and when."""
    rows = db.session.execute(
        sa.select(Demand, Site, Organisation.name,
                  sa.func.coalesce(AddressRecord.x, Site.x), sa.func.coalesce(AddressRecord.y, Site.y))
        .join(Demand.site).join(Site.organisation).join(Demand.product)
        .join(ProviderConsent, sa.and_(ProviderConsent.demand_id == Demand.id,
                                       ProviderConsent.provider_id == check.provider_id))
        .outerjoin(AddressRecord, AddressRecord.id == Site.bag_id)
        .where(Product.code == "fibre", Demand.stage != Stage.WITHDRAWN)
        .order_by(Organisation.name, Site.postcode, Site.house_number, Demand.id)
    ).all()
    regions = check.regions
    result = []
    if rows:
        xs = np.array([r[3] for r in rows], float)
        ys = np.array([r[4] for r in rows], float)
        matrix = inside(regions, xs, ys)
        for (demand, site, name, _x, _y), member in zip(rows, matrix, strict=True):
            if not member.any():
                continue
            result.append(ConsentedAddress(
                demand_id=demand.id, organisation=name, site_id=site.id,
                bag_id=site.bag_id or "", street=site.street, house_number=site.house_number,
                addition=site.addition, postcode=site.postcode, city=site.city,
                stage=demand.stage,
                areas=[r.name for r, m in zip(regions, member, strict=True) if m],
            ))
    for item in result:
        record(actor, "fibre.address_access", ("demands", item.demand_id), check_id=check.id,
               via=via)
    record(actor, "fibre.address_list", check, via=via, count=len(result))
    return result


def data_access_log(organisation: Organisation, limit: int = 200) -> list[tuple[AuditLog, User | None]]:
    """Audit entries about the organisation's demand: who saw its name and address (and
    when consent was given or withdrawn)."""
    demand_ids = [str(i) for i in db.session.scalars(
        sa.select(Demand.id).join(Demand.site).where(Site.organisation_id == organisation.id))]
    if not demand_ids:
        return []
    rows = db.session.execute(
        sa.select(AuditLog, User).outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.object_type == "demands", AuditLog.object_id.in_(demand_ids),
               AuditLog.action.in_(("fibre.address_access", "consent.grant",
                                    "consent.withdraw")))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)
    ).all()
    return [(entry, user) for entry, user in rows]


# --- members ------------------------------------------------------------------------------------


@dataclass
class MemberView:
    check: FibreCheck
    site: Site
    row: AreaProgress
    day: date | None


def member_progress(organisation: Organisation, *, now: datetime | None = None
                    ) -> list[MemberView]:
    """For the dashboard: each open check with an area around one of the member's sites,
    with the same published progress the provider sees (read only)."""
    now = now or utcnow()
    sites = list(organisation.sites)
    if not sites:
        return []
    result = []
    for check in db.session.scalars(sa.select(FibreCheck).where(FibreCheck.deadline >= now)
                                    .order_by(FibreCheck.deadline)):
        regions = check.regions
        matrix = inside(regions, np.array([s.x for s in sites], float),
                        np.array([s.y for s in sites], float))
        if not matrix.any():
            continue
        state = progress(check, trend_days=1)
        for i, site in enumerate(sites):
            for j in np.flatnonzero(matrix[i]):
                result.append(MemberView(check, site, state.areas[int(j)], state.day))
                break
    return result
