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
  ``matchmaker snapshot-fibre`` (the scheduler, after midnight) or, when it has not run yet, by
  the first page view or API call of the day; later changes show the next day. A snapshot is
  never replaced. The work of a day (snapshot, admissions, publication, e-mail, and the
  stored progress of :mod:`matchmaker.fibre.progress`) is done once; later views only read.
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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from geo.addresses import normalize_postcode, parse_house_number
from geo.errors import GeoError
from matchmaker.audit.models import AuditLog
from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.demand.models import Demand, Product, ProviderConsent, Stage
from matchmaker.demand.services import publish_park_demand
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.fibre.models import (
    ExclusionReason,
    FibreCheck,
    FibreCheckRegion,
    FibreExclusion,
    FibreRegion,
    FibreSnapshot,
    Grouping,
)
from matchmaker.fibre.progress import (  # noqa: F401 (the fibre API of views, API and tests)
    TREND_DAYS,
    AreaProgress,
    CheckProgress,
    Point,
    counted_addresses,
    needed_for,
    progress,
    progress_for,
)
from matchmaker.fibre.publication import (  # noqa: F401 (idem)
    LOCAL_TZ,
    STAGES,
    admit,
    admitted_regions,
    current_units,
    cut,
    inside,
    pending,
    publish_day,
    regions_to_try,
    snapshot_units,
    take_snapshot,
    today,
)
from matchmaker.mail.models import MailKind
from matchmaker.mail.services import external_url, queue_mail
from matchmaker.members.models import Organisation, Site
from matchmaker.members.services import find_address
from matchmaker.models import utcnow
from matchmaker.register.models import AddressRecord, Area
from matchmaker.register.services import chosen_areas

DEFAULT_PERCENT = Decimal(30)  # DESIGN.md: 30 % of the business addresses per park
BAG_USES = ("bijeenkomstfunctie", "celfunctie", "gezondheidszorgfunctie", "industriefunctie",
            "kantoorfunctie", "logiesfunctie", "onderwijsfunctie", "sportfunctie",
            "winkelfunctie", "overige gebruiksfunctie", "woonfunctie")


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


def _unsettle() -> None:
    """A check changed: today's areas and thresholds must be decided again (see refresh)."""
    db.session.execute(sa.update(FibreSnapshot).where(FibreSnapshot.day == today())
                       .values(settled_at=None))


def create_check(settings: CheckSettings, *, actor: User) -> FibreCheck:
    areas = _check_settings(settings, now=utcnow())
    check = FibreCheck(created_by=actor)
    _apply(check, settings, areas)
    db.session.add(check)
    db.session.flush()
    _unsettle()
    record(actor, "fibre.check_create", check, title=check.title,
           provider_id=check.provider_id)
    return check


def update_check(check: FibreCheck, settings: CheckSettings, *, actor: User) -> FibreCheck:
    areas = _check_settings(settings, now=utcnow())
    _apply(check, settings, areas)
    db.session.flush()
    _unsettle()
    record(actor, "fibre.check_update", check, title=check.title)
    return check


def can_see(check: FibreCheck, user: User) -> bool:
    """Providers see their own checks only; coordinators and admins see all."""
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        return True
    return user.role == Role.PROVIDER and check.provider_id == user.id


def checks_query(user: User) -> sa.Select[tuple[FibreCheck]]:
    """The checks ``user`` may see, newest deadline first (for lists and pages of them)."""
    query = (sa.select(FibreCheck).order_by(FibreCheck.deadline.desc(), FibreCheck.id.desc())
             .options(selectinload(FibreCheck.check_regions), selectinload(FibreCheck.provider)))
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


def exclusions_query(check: FibreCheck) -> sa.Select[tuple[FibreExclusion]]:
    """The check's exclusions in the order they were made (for pages of them)."""
    return (sa.select(FibreExclusion).where(FibreExclusion.check_id == check.id)
            .order_by(FibreExclusion.id))


def exclusion_count(check: FibreCheck) -> int:
    return db.session.scalar(sa.select(sa.func.count(FibreExclusion.id))
                             .where(FibreExclusion.check_id == check.id)) or 0


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


def refresh(day: date | None = None, *, now: datetime | None = None) -> FibreSnapshot:
    """Make ``day`` (default: today) ready: snapshot, admissions, publication, threshold
    e-mail, the day's published demand per park for providers
    (:func:`matchmaker.demand.services.publish_park_demand`) and the stored progress of every
    open check. Idempotent and done once: after it
    the day is *settled* and later calls read three small rows; ``matchmaker snapshot-fibre``
    (the scheduler) runs it after midnight, else the day's first page view or API call."""
    now = now or utcnow()
    day = day or today(now)
    snapshot = take_snapshot(day)
    if snapshot.settled_at is not None and not pending(day):
        return snapshot
    for region in regions_to_try(day):
        admit(region, day)
    publish_day(day)
    publish_park_demand(day)
    notify_thresholds(day, now=now)
    snapshot.settled_at = now
    db.session.flush()
    return snapshot


def prepare_progress(*, now: datetime | None = None) -> int:
    """Compute and store the progress of every open check (what pages then only read): the
    scheduler's snapshot command does this after :func:`refresh`, so that no view waits for
    it after a consent or an edit changed the inputs. Returns the number of checks."""
    now = now or utcnow()
    checks = list(db.session.scalars(sa.select(FibreCheck).where(FibreCheck.deadline >= now)
                                     .order_by(FibreCheck.id)))
    progress_for(checks, trend_days=1)
    db.session.flush()
    return len(checks)


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
    checks = list(db.session.scalars(sa.select(FibreCheck).where(FibreCheck.deadline >= now)
                                     .order_by(FibreCheck.id)))
    states = progress_for(checks, day=day)
    for check in checks:
        state = states[check.id]
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
    areas: list[str]  # the names of the check's regions the address lies in
    region_ids: list[int]


def consented_addresses(check: FibreCheck, *, actor: User, via: str) -> list[ConsentedAddress]:
    """Name and address of every member with fibre demand in the check's areas who consented
    to the check's provider. Every call is recorded in the audit log, one entry per demand,
    so each member can see who looked at their data and when."""
    result = _consented(check)
    _audit_access(check, result, actor=actor, via=via)
    return result


def consented_address_page(check: FibreCheck, *, actor: User, via: str, offset: int,
                           limit: int) -> tuple[list[ConsentedAddress], int]:
    """One page of :func:`consented_addresses` and the total; only the addresses on the page
    are recorded as seen."""
    everything = _consented(check)
    result = everything[offset:offset + limit]
    _audit_access(check, result, actor=actor, via=via)
    return result, len(everything)


def _audit_access(check: FibreCheck, result: list[ConsentedAddress], *, actor: User,
                  via: str) -> None:
    for item in result:
        record(actor, "fibre.address_access", ("demands", item.demand_id), check_id=check.id,
               via=via)
    record(actor, "fibre.address_list", check, via=via, count=len(result))


def _consented(check: FibreCheck) -> list[ConsentedAddress]:
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
                region_ids=[r.id for r, m in zip(regions, member, strict=True) if m],
            ))
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
    with the same published progress the provider sees (read only): the member's own sites,
    the regions whose bounding box holds one of them, and the stored progress."""
    now = now or utcnow()
    sites = list(organisation.sites)
    if not sites:
        return []
    near = sa.or_(*(sa.and_(FibreRegion.minx <= s.x, FibreRegion.maxx >= s.x,
                            FibreRegion.miny <= s.y, FibreRegion.maxy >= s.y) for s in sites))
    checks = list(db.session.scalars(
        sa.select(FibreCheck).join(FibreCheck.check_regions).join(FibreCheckRegion.region)
        .where(FibreCheck.deadline >= now, near).distinct()
        .order_by(FibreCheck.deadline, FibreCheck.id)
        .options(selectinload(FibreCheck.check_regions), selectinload(FibreCheck.provider))))
    touching = []
    for check in checks:
        matrix = inside(check.regions, np.array([s.x for s in sites], float),
                        np.array([s.y for s in sites], float))
        if matrix.any():
            touching.append((check, matrix))
    states = progress_for([c for c, _m in touching], trend_days=1)
    result = []
    for check, matrix in touching:
        state = states[check.id]
        for i, site in enumerate(sites):
            for j in np.flatnonzero(matrix[i]):
                result.append(MemberView(check, site, state.areas[int(j)], state.day))
                break
    return result
