"""Services for a site's grid connection, as energy hubs need it: the contracted transport
capacity, a year of quarter-hour take and feed-in (metered, else estimated), expansion plans and
how much use may shift.

Estimated profiles reuse the site's energy data (``EnergyAsset``): its electricity use on the
BDEW quarter hours (or its uploaded hourly meter data spread over the quarter hours) and its PV
(measured, or the clear-sky estimate), netted behind the meter. They are marked as estimates
everywhere they are shown.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import current_app

from geo.crs import rd_to_wgs84
from geo.errors import N_, ColumnError, GeoError
from geo.hub_profiles import (
    ALIASES,
    SHAPES,
    consumption_quarter_hours,
    hourly_to_quarter_hours,
    long_profiles,
    pv_quarter_hours,
    resolve_columns,
    take_and_feed,
    to_reference_year,
)
from geo.io import read_csv_text
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.energy.models import (
    QUARTER_HOURS_PER_YEAR,
    AssetKind,
    Direction,
    EnergyAsset,
    ExpansionKind,
    ExpansionPlan,
    GridConnection,
)
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.members.models import Site

#: The daily shape a kind of expansion usually has (the member may choose another).
DEFAULT_SHAPE = {
    ExpansionKind.TRUCKS: "night", ExpansionKind.HEAT_PUMP: "heat_pump",
    ExpansionKind.PROCESS: "day", ExpansionKind.SOLAR: "solar", ExpansionKind.OTHER: "continuous",
}
MAX_KW = 100_000.0


def connection(site: Site) -> GridConnection | None:
    return db.session.scalar(sa.select(GridConnection).where(GridConnection.site_id == site.id))


def _connection_for_update(site: Site) -> GridConnection:
    found = connection(site)
    if found is None:
        found = GridConnection(site_id=site.id, shiftable_share=0.0)
        db.session.add(found)
    return found


def _kw(value: float | None, field: str) -> float | None:
    if value is None:
        return None
    if not (math.isfinite(value) and 0 <= value <= MAX_KW):
        raise ServiceError(N_("Enter a number between %(low)s and %(high)s."), field=field,
                           low=0, high=int(MAX_KW))
    return float(value)


def save_contract(site: Site, *, actor: User, contracted_take_kw: float | None,
                  contracted_feed_kw: float | None, shiftable_percent: float | None,
                  shift_start_hour: int | None, shift_end_hour: int | None) -> GridConnection:
    """Record the contracted transport capacity and how much of each day's use may shift."""
    take = _kw(contracted_take_kw, "contracted_take_kw")
    feed = _kw(contracted_feed_kw, "contracted_feed_kw")
    share = 0.0 if shiftable_percent is None else float(shiftable_percent) / 100
    if not (math.isfinite(share) and 0 <= share <= 1):
        raise ServiceError(N_("Enter a share between 0 and 100 %."), field="shiftable_percent")
    if share > 0:
        if shift_start_hour is None or shift_end_hour is None:
            raise ServiceError(N_("Give the window in which the use may take place."),
                               field="shift_start_hour")
        if not (0 <= shift_start_hour < shift_end_hour <= 24):
            raise ServiceError(N_("The window starts before it ends, between 0 and 24 h."),
                               field="shift_end_hour")
    else:
        shift_start_hour = shift_end_hour = None
    grid = _connection_for_update(site)
    grid.contracted_take_kw, grid.contracted_feed_kw = take, feed
    grid.shiftable_share = share
    grid.shift_start_hour, grid.shift_end_hour = shift_start_hour, shift_end_hour
    db.session.flush()
    record(actor, "grid.contract", site, contracted_take_kw=take, contracted_feed_kw=feed,
           shiftable_share=share)
    return grid


def parse_quarter_hours(data: bytes, *, filename: str
                        ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A year of quarter-hour take (and feed-in) from a CSV, laid on the reference year.

    Columns ``timestamp`` and ``take_kwh`` (Dutch names ``tijdstip``, ``afname_kwh``) and
    optionally ``feed_kwh`` (``invoeding_kwh``); times in ISO 8601, with a UTC offset or as
    Dutch clock time. Raises :class:`GeoError` naming the lines; nothing is stored then.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "meter.csv"
        path.write_bytes(data)
        frame = read_csv_text(path)
    columns = resolve_columns(frame.columns, name=filename, required=("timestamp", "take_kwh"))
    feed_column = next((c for c in ALIASES["feed_kwh"] if c in frame.columns), None)
    table = pd.DataFrame({
        "timestamp": frame[columns["timestamp"]], "site_id": "site",
        "take_kwh": frame[columns["take_kwh"]],
        "feed_kwh": frame[feed_column] if feed_column else "0",
    })
    profiles = long_profiles(table, site_ids=["site"], name=filename, allow_local=True,
                             decimal_comma=bool(frame.attrs.get("decimal_comma")))
    if profiles.n_steps < 364 * 96:
        raise ColumnError(N_("%(name)s: covers %(days)s days; a hub needs a whole year of "
                             "quarter hours."), name=filename,
                          days=round(profiles.n_steps / 96, 1))
    laid, filled = to_reference_year(profiles.index, np.vstack([profiles.take_kwh[0],
                                                                profiles.feed_kwh[0]]),
                                     name=filename)
    info = {
        "file": filename[:200],
        "uploaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "first": profiles.index[0].isoformat(), "quarter_hours": profiles.n_steps,
        "filled": filled, "take_kwh": round(float(laid[0].sum()), 1),
        "feed_kwh": round(float(laid[1].sum()), 1),
        "peak_take_kw": round(float(laid[0].max() * 4), 1),
        "peak_feed_kw": round(float(laid[1].max() * 4), 1),
    }
    return laid[0], laid[1], info


def upload_quarter_hours(site: Site, *, actor: User, data: bytes,
                         filename: str) -> GridConnection:
    """Store a year of metered take and feed-in per quarter hour for ``site``."""
    take, feed, info = parse_quarter_hours(data, filename=filename)
    grid = _connection_for_update(site)
    grid.set_quarter_hours(take, feed)
    grid.metered_info = info
    db.session.flush()
    record(actor, "grid.quarter_hours", site, file=filename[:200])
    return grid


def remove_quarter_hours(site: Site, *, actor: User) -> None:
    grid = connection(site)
    if grid is None or not grid.metered:
        return
    grid.set_quarter_hours(None, None)
    grid.metered_info = None
    db.session.flush()
    record(actor, "grid.quarter_hours_remove", site)


def quarter_hour_template() -> str:
    """An example of the quarter-hour file members upload (Dutch spreadsheet)."""
    out = io.StringIO()
    out.write("tijdstip;afname_kwh;invoeding_kwh\n")
    for minute, take, feed in ((0, "3,25", "0"), (15, "3,10", "0"), (30, "2,95", "0,40")):
        out.write(f"2025-01-01 00:{minute:02d};{take};{feed}\n")
    return out.getvalue()


# --- expansion plans ---------------------------------------------------------------------------


def plans(site: Site) -> list[ExpansionPlan]:
    return list(db.session.scalars(sa.select(ExpansionPlan).where(
        ExpansionPlan.site_id == site.id).order_by(ExpansionPlan.from_year, ExpansionPlan.id)))


def add_plan(site: Site, *, actor: User, kind: str, direction: str, kw: float | None,
             from_year: int | None, shape: str | None, waiting_since: date | None,
             note: str = "") -> ExpansionPlan:
    """Add an expansion: ``kw`` of extra take or feed-in from ``from_year`` on."""
    try:
        plan_kind, plan_direction = ExpansionKind(kind), Direction(direction)
    except ValueError as exc:
        raise ServiceError(N_("Choose a kind from the list."), field="kind") from exc
    # Only "other" can go either way: solar feeds in, the rest takes.
    if plan_kind != ExpansionKind.OTHER:
        plan_direction = Direction.FEED if plan_kind == ExpansionKind.SOLAR else Direction.TAKE
    value = _kw(kw, "kw")
    if not value:
        raise ServiceError(N_("Enter the extra power in kW."), field="kw")
    this_year = datetime.now(UTC).year
    if from_year is None or not this_year - 1 <= from_year <= this_year + 15:
        raise ServiceError(N_("Enter a year from %(low)s to %(high)s."), field="from_year",
                           low=this_year - 1, high=this_year + 15)
    chosen = shape or DEFAULT_SHAPE[plan_kind]
    if chosen not in SHAPES:
        raise ServiceError(N_("Choose a daily shape from the list."), field="shape")
    if waiting_since is not None and not date(2000, 1, 1) <= waiting_since <= date.today():
        raise ServiceError(N_("The date you applied lies in the past."), field="waiting_since")
    plan = ExpansionPlan(site_id=site.id, kind=plan_kind, direction=plan_direction, kw=value,
                         from_year=from_year, shape=chosen, waiting_since=waiting_since,
                         note=note.strip()[:200])
    db.session.add(plan)
    db.session.flush()
    record(actor, "grid.plan_add", site, kind=plan_kind.value, kw=value, from_year=from_year)
    return plan


def delete_plan(site: Site, plan_id: int, *, actor: User) -> None:
    plan = db.session.scalar(sa.select(ExpansionPlan).where(
        ExpansionPlan.id == plan_id, ExpansionPlan.site_id == site.id))
    if plan is None:
        raise ServiceError(N_("This plan does not exist (any more)."))
    db.session.delete(plan)
    db.session.flush()
    record(actor, "grid.plan_delete", site, kind=plan.kind.value, kw=plan.kw)


# --- profiles for hubs -------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteProfiles:
    """Quarter-hour take and feed-in (kWh) of sites on the reference year, with their source
    (``measured``, ``estimated``; sites without any energy data are left out)."""

    site_ids: list[int]
    take_kwh: np.ndarray  # sites x 35,040
    feed_kwh: np.ndarray
    source: list[str]
    without_data: list[int]


def site_profiles(site_ids: list[int]) -> SiteProfiles:
    """Metered quarter hours where a site has them, else the estimate from its energy data."""
    ids = sorted(set(site_ids))
    grids = {g.site_id: g for g in db.session.scalars(
        sa.select(GridConnection).where(GridConnection.site_id.in_(ids)))} if ids else {}
    assets: dict[int, dict[AssetKind, EnergyAsset]] = {}
    for item in db.session.scalars(sa.select(EnergyAsset).where(
            EnergyAsset.site_id.in_(ids),
            EnergyAsset.kind.in_([AssetKind.PV, AssetKind.CONSUMPTION]))) if ids else []:
        assets.setdefault(item.site_id, {})[item.kind] = item
    where = {row.id: (row.x, row.y) for row in db.session.execute(
        sa.select(Site.id, Site.x, Site.y).where(Site.id.in_(ids)))} if ids else {}
    yield_ = current_app.config["PV_YIELD_KWH_PER_KWP"]
    kept, takes, feeds, sources, missing = [], [], [], [], []
    for site_id in ids:
        grid = grids.get(site_id)
        metered = grid.quarter_hours() if grid is not None else None
        if metered is not None:
            take, feed = metered
            sources.append("measured")
        elif site_id in assets:
            take, feed = _estimate(assets[site_id], where[site_id], yield_)
            sources.append("estimated")
        else:
            missing.append(site_id)
            continue
        kept.append(site_id)
        takes.append(take)
        feeds.append(feed)
    empty = np.zeros((0, QUARTER_HOURS_PER_YEAR))
    return SiteProfiles(kept, np.vstack(takes) if takes else empty,
                        np.vstack(feeds) if feeds else empty, sources, missing)


def _estimate(items: dict[AssetKind, EnergyAsset], xy: tuple[float, float],
              yield_: float) -> tuple[np.ndarray, np.ndarray]:
    use = np.zeros(QUARTER_HOURS_PER_YEAR)
    pv = np.zeros(QUARTER_HOURS_PER_YEAR)
    feed_limit = None
    if (item := items.get(AssetKind.CONSUMPTION)) is not None:
        if item.hourly is not None:
            use = hourly_to_quarter_hours(item.hourly)
        elif item.annual_kwh:
            use = consumption_quarter_hours(annual_kwh=item.annual_kwh,
                                            category=item.profile_category)
    if (item := items.get(AssetKind.PV)) is not None:
        feed_limit = item.feed_in_limit_kw or None
        if item.hourly is not None:
            pv = hourly_to_quarter_hours(item.hourly)
        elif item.capacity_kw:
            lon, lat = rd_to_wgs84([xy[0]], [xy[1]])
            pv = pv_quarter_hours(lon=float(lon[0]), lat=float(lat[0]), kwp=item.capacity_kw,
                                  annual_yield_kwh_per_kwp=yield_, tilt=item.tilt_deg or 15.0,
                                  azimuth=item.azimuth_deg or 180.0)
    return take_and_feed(use, pv, feed_limit_kw=feed_limit)


def profile_summary(site: Site) -> dict[str, object] | None:
    """What the hub analysis would use for ``site``: source, yearly kWh and own peaks."""
    try:
        profiles = site_profiles([site.id])
    except GeoError:  # pragma: no cover - stored data was validated on the way in
        return None
    if not profiles.site_ids:
        return None
    take, feed = profiles.take_kwh[0], profiles.feed_kwh[0]
    return {"source": profiles.source[0], "take_kwh": float(take.sum()),
            "feed_kwh": float(feed.sum()), "peak_take_kw": float(take.max() * 4),
            "peak_feed_kw": float(feed.max() * 4)}
