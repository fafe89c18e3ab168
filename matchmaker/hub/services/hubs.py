"""Energy hubs: choosing the sites (a park, a kring, the distance bundle around a site, a
drawn area, or site by site), the hub's parameters, and each organisation's consent per hub."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from geo.bundling import bundle_by_distance
from geo.crs import RD_NEW
from geo.errors import N_
from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.errors import NotAllowed, ServiceError
from matchmaker.extensions import db
from matchmaker.hub.models import Hub, HubSite, HubSource, PlanOrder
from matchmaker.members.models import Site
from matchmaker.register.models import Area, AreaKind

MAX_SITES = 2000


def require_staff(actor: User) -> None:
    if actor.role not in (Role.COORDINATOR, Role.ADMIN):
        raise NotAllowed(N_("Only a coordinator can do this."))


# --- choosing the sites ------------------------------------------------------------------------


def sites_in(geometry: shapely.Geometry) -> list[int]:
    """Ids of the sites inside ``geometry`` (RD New; the boundary counts as inside)."""
    minx, miny, maxx, maxy = geometry.bounds
    rows = db.session.execute(sa.select(Site.id, Site.x, Site.y).where(
        Site.x.between(minx, maxx), Site.y.between(miny, maxy)).order_by(Site.id)).all()
    if not rows:
        return []
    ids, x, y = (np.array(column) for column in zip(*rows, strict=True))
    inside = shapely.intersects_xy(geometry, x.astype(float), y.astype(float))
    return [int(i) for i in ids[inside]]


def bundle_around(seed: Site, max_gap_m: float) -> tuple[list[int], shapely.Geometry]:
    """The sites chained to ``seed`` by steps of at most ``max_gap_m`` (single linkage over all
    sites), and their hull (buffered a little, so that a bundle of one or two is an area)."""
    if not (math.isfinite(max_gap_m) and 0 < max_gap_m <= 5000):
        raise ServiceError(N_("Enter a distance between 1 and 5000 metres."), field="max_gap_m")
    rows = db.session.execute(sa.select(Site.id, Site.x, Site.y).order_by(Site.id)).all()
    frame = pd.DataFrame(rows, columns=["id", "x", "y"])
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.x, frame.y), crs=RD_NEW)
    labels = bundle_by_distance(points, max_gap_m=max_gap_m)
    mine = labels.to_numpy() == labels[frame.index[frame["id"] == seed.id][0]]
    hull = shapely.MultiPoint(np.column_stack([frame.x[mine], frame.y[mine]])).convex_hull
    return [int(i) for i in frame.id[mine]], hull.buffer(25.0)


def find_site(postcode: str, house_number: int | None) -> Site:
    from geo.addresses import normalize_postcode

    try:
        code = normalize_postcode(postcode)
    except ValueError as exc:
        raise ServiceError(N_("Enter a postcode like 9406 XB."), field="postcode") from exc
    site: Site | None = db.session.scalar(sa.select(Site).where(
        Site.postcode == code, Site.house_number == house_number).order_by(Site.id).limit(1))
    if site is None:
        raise ServiceError(N_("No member's site has this address."), field="postcode")
    return site


def create_hub(*, actor: User, name: str, source: HubSource, area_id: int | None = None,
               geometry: shapely.Geometry | None = None, seed: Site | None = None,
               max_gap_m: float | None = None) -> Hub:
    """A new hub with the sites of a park or kring, a distance bundle, a drawn area, or none
    (sites are then added one by one)."""
    require_staff(actor)
    if not name.strip():
        raise ServiceError(N_("Enter a name."), field="name")
    hub = Hub(name=name.strip()[:200], source=source, created_by_id=actor.id)
    if source in (HubSource.PARK, HubSource.KRING):
        kind = AreaKind.PARK if source == HubSource.PARK else AreaKind.KRING
        area = db.session.get(Area, area_id) if area_id else None
        if area is None or area.kind != kind:
            raise ServiceError(N_("Choose an area from the list."), field="area_id")
        hub.area_id = area.id
        site_ids = sites_in(area.geometry)
    elif source == HubSource.BUNDLE:
        if seed is None:
            raise ServiceError(N_("Enter the address of a site in the bundle."), field="postcode")
        site_ids, hull = bundle_around(seed, float(max_gap_m or 0))
        hub.geometry_wkb = shapely.to_wkb(hull)
    elif source == HubSource.AREA:
        if geometry is None:
            raise ServiceError(N_("Draw the area on the map."), field="polygon")
        hub.geometry_wkb = shapely.to_wkb(geometry)
        site_ids = sites_in(geometry)
    else:
        site_ids = []
    if len(site_ids) > MAX_SITES:
        raise ServiceError(N_("This would put %(count)s sites in one hub; at most %(max)s."),
                           field="name", count=len(site_ids), max=MAX_SITES)
    hub.members = [HubSite(site_id=i) for i in site_ids]
    db.session.add(hub)
    db.session.flush()
    record(actor, "hub.create", hub, name=hub.name, source=source.value, sites=len(site_ids))
    return hub


def add_site(hub: Hub, site: Site, *, actor: User) -> None:
    require_staff(actor)
    if any(m.site_id == site.id for m in hub.members):
        raise ServiceError(N_("This site is in the hub already."), field="postcode")
    if len(hub.members) >= MAX_SITES:
        raise ServiceError(N_("A hub holds at most %(max)s sites."), field="postcode",
                           max=MAX_SITES)
    hub.members.append(HubSite(site_id=site.id))
    db.session.flush()
    record(actor, "hub.add_site", hub, site_id=site.id)


def remove_site(hub: Hub, site_id: int, *, actor: User) -> None:
    require_staff(actor)
    member = next((m for m in hub.members if m.site_id == site_id), None)
    if member is None:
        raise ServiceError(N_("This site is not in the hub."))
    hub.members.remove(member)
    db.session.flush()
    record(actor, "hub.remove_site", hub, site_id=site_id)


def update_parameters(hub: Hub, *, actor: User, curtail_hours: float,
                      target_take_kw: float | None, battery_efficiency_percent: float,
                      plan_order: str, max_distance_m: float | None) -> None:
    require_staff(actor)
    if not (math.isfinite(curtail_hours) and 0 <= curtail_hours <= 8760):
        raise ServiceError(N_("Enter 0 to 8760 hours."), field="curtail_hours")
    if target_take_kw is not None and not (math.isfinite(target_take_kw)
                                           and 0 <= target_take_kw <= 1e7):
        raise ServiceError(N_("Enter a target of 0 kW or more."), field="target_take_kw")
    if not (math.isfinite(battery_efficiency_percent) and 50 <= battery_efficiency_percent <= 100):
        raise ServiceError(N_("Enter an efficiency between 50 and 100 %."),
                           field="battery_efficiency_percent")
    if max_distance_m is not None and not (math.isfinite(max_distance_m)
                                           and 0 < max_distance_m <= 20_000):
        raise ServiceError(N_("Enter a distance between 1 and 20000 metres."),
                           field="max_distance_m")
    try:
        order = PlanOrder(plan_order)
    except ValueError as exc:
        raise ServiceError(N_("Choose an order from the list."), field="plan_order") from exc
    hub.curtail_hours, hub.target_take_kw = float(curtail_hours), target_take_kw
    hub.battery_efficiency = battery_efficiency_percent / 100
    hub.plan_order, hub.max_distance_m = order, max_distance_m
    db.session.flush()
    record(actor, "hub.parameters", hub, curtail_hours=curtail_hours,
           target_take_kw=target_take_kw)


def hubs() -> list[tuple[Hub, int, int]]:
    """Every hub, newest first, with its number of sites and of sites with consent (counted in
    SQL: a hub may hold hundreds of sites)."""
    counts = (sa.select(HubSite.hub_id, sa.func.count().label("sites"),
                        sa.func.sum(sa.case((HubSite.consent_profile.is_(True), 1), else_=0))
                        .label("consented"))
              .group_by(HubSite.hub_id).subquery())
    rows = db.session.execute(
        sa.select(Hub, sa.func.coalesce(counts.c.sites, 0),
                  sa.func.coalesce(counts.c.consented, 0))
        .outerjoin(counts, counts.c.hub_id == Hub.id).order_by(Hub.id.desc())).all()
    return [(hub, int(sites), int(consented)) for hub, sites, consented in rows]


def member_rows(hub: Hub) -> list[tuple[HubSite, Site]]:
    """The hub's sites with their organisations (one query)."""
    sites = {s.id: s for s in db.session.scalars(
        sa.select(Site).options(selectinload(Site.organisation))
        .where(Site.id.in_([m.site_id for m in hub.members])))}
    return [(m, sites[m.site_id]) for m in hub.members]


# --- consent (members) ---------------------------------------------------------------------


def site_hubs(site: Site) -> list[HubSite]:
    """The hubs a site is in, with its consent."""
    return list(db.session.scalars(sa.select(HubSite).options(selectinload(HubSite.hub))
                                   .where(HubSite.site_id == site.id).order_by(HubSite.hub_id)))


def set_consent(site: Site, hub_id: int, *, actor: User, profile: bool, name: bool) -> HubSite:
    """The organisation's consent to use the site's profile in a hub, and to be named to the
    grid operator (naming needs the profile consent)."""
    member = db.session.get(HubSite, (hub_id, site.id))
    if member is None or actor.organisation_id != site.organisation_id:
        raise ServiceError(N_("This site is not in that hub."))
    member.consent_profile, member.consent_name = profile, profile and name
    member.consent_at = datetime.now(UTC)
    db.session.flush()
    record(actor, "hub.consent", member.hub, site_id=site.id, profile=profile,
           name=member.consent_name)
    return member
