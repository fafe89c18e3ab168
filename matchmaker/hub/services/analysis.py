"""The analysis of a hub, computed as a job: the quarter-hour profiles of the consenting sites
(:func:`matchmaker.energy.grid.site_profiles`), the numbers of :mod:`geo.hub` and
:mod:`geo.hub_lp`, stored on :class:`~matchmaker.hub.models.HubAnalysis` for the page and the
dossier."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import current_app

from geo.crs import RD_NEW, rd_to_wgs84
from geo.errors import N_, GeoError
from geo.hub import (
    DEFAULT_CURTAIL_HOURS,
    analyse,
    capacity_for_curtailment,
    duration_curve,
    fit_plans,
    matched_within_distance,
    order_plans,
)
from geo.hub_lp import battery_curve, lowest_reachable_kw, shift_use, size_battery
from geo.hub_profiles import HubProfiles, expansion_shape, quarter_hours
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.energy.grid import site_profiles
from matchmaker.energy.models import Direction, ExpansionPlan, GridConnection, RunStatus
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.hub.models import Hub, HubAnalysis, HubSite
from matchmaker.hub.services.hubs import require_staff
from matchmaker.members.models import Organisation, Site

#: Points of the load-duration curve kept for the chart (the full curve is in the profile).
CURVE_POINTS = 240
#: The battery curve: targets from the group peak down in these steps (share of the peak).
BATTERY_STEPS = tuple(round(0.05 * k, 2) for k in range(1, 11))
#: Where each stage of an analysis starts and ends on the progress bar.
STAGES = {"profiles": (0.0, 0.35), "analysis": (0.35, 0.45), "battery": (0.45, 0.6),
          "shifting": (0.6, 0.65), "matching": (0.65, 0.95), "saving": (0.95, 1.0)}

# --- the analysis ------------------------------------------------------------------------------


def start_analysis(hub: Hub, *, actor: User) -> HubAnalysis:
    require_staff(actor)
    if not any(m.consent_profile for m in hub.members):
        raise ServiceError(N_("No site in this hub has given consent yet; ask the members on "
                              "their Energy page."))
    analysis = HubAnalysis(hub_id=hub.id, created_by_id=actor.id, parameters={
        "curtail_hours": hub.curtail_hours, "target_take_kw": hub.target_take_kw,
        "battery_efficiency": hub.battery_efficiency, "plan_order": hub.plan_order.value,
        "max_distance_m": hub.max_distance_m,
        "pv_yield_kwh_per_kwp": current_app.config["PV_YIELD_KWH_PER_KWP"],
    })
    db.session.add(analysis)
    db.session.flush()
    record(actor, "hub.analyse", hub, analysis_id=analysis.id)
    return analysis


def latest_analysis(hub: Hub, *, done: bool = False) -> HubAnalysis | None:
    query = sa.select(HubAnalysis).where(HubAnalysis.hub_id == hub.id)
    if done:
        query = query.where(HubAnalysis.status == RunStatus.DONE)
    return db.session.scalar(query.order_by(HubAnalysis.id.desc()).limit(1))


class _ProgressCommits:
    """Commits the job's progress (at most once a second per stage) so the page can poll it."""

    def __init__(self, analysis: HubAnalysis) -> None:
        self.analysis, self.last = analysis, -math.inf

    def __call__(self, stage: str, progress: float) -> None:
        now = time.monotonic()
        if stage == self.analysis.stage and now - self.last < 1.0:
            return
        self.analysis.stage, self.analysis.progress, self.last = stage, progress, now
        db.session.commit()  # a job is an edge


def execute_analysis(analysis_id: int) -> None:
    """The job: computes the analysis, committing progress; a failure is recorded on it."""
    analysis = db.session.get(HubAnalysis, analysis_id)
    if analysis is None or analysis.status not in (RunStatus.QUEUED, RunStatus.FAILED):
        return
    analysis.status, analysis.started_at, analysis.error = (RunStatus.RUNNING,
                                                            datetime.now(UTC), "")
    try:
        compute_analysis(analysis, _ProgressCommits(analysis))
    except Exception as err:  # recorded on the analysis; the log has the traceback
        if not isinstance(err, GeoError | ServiceError):
            current_app.logger.exception("hub analysis %s failed", analysis_id)
        db.session.rollback()
        failed = db.session.get(HubAnalysis, analysis_id)
        assert failed is not None  # it was there a moment ago, in this job's own transaction
        failed.status = RunStatus.FAILED
        failed.error = (str(err) if isinstance(err, GeoError | ServiceError)
                        else f"{type(err).__name__}: {err}")[:500]
        failed.finished_at = datetime.now(UTC)
    db.session.commit()


def _contracts(site_ids: list[int], take: np.ndarray, feed: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Contracted take and feed-in per site: the contract the member entered; else the size of
    its connection (kVA as kW); else its own peak. The source is kept per site."""
    grids = {g.site_id: g for g in db.session.scalars(
        sa.select(GridConnection).where(GridConnection.site_id.in_(site_ids)))}
    kva = dict(db.session.execute(sa.select(Site.id, Site.grid_kva).where(
        Site.id.in_(site_ids))).all())
    take_kw = np.zeros(len(site_ids))
    feed_kw = np.zeros(len(site_ids))
    sources = []
    for row, site_id in enumerate(site_ids):
        grid = grids.get(site_id)
        own_take, own_feed = float(take[row].max() * 4), float(feed[row].max() * 4)
        if grid is not None and grid.contracted_take_kw is not None:
            take_kw[row] = float(grid.contracted_take_kw)
            feed_kw[row] = (grid.contracted_feed_kw if grid.contracted_feed_kw is not None
                            else own_feed)
            sources.append("contract")
        elif (connection := kva.get(site_id)) is not None and connection > 0:
            take_kw[row] = float(connection)
            feed_kw[row] = float(connection) if own_feed > 0 else 0.0
            sources.append("connection")
        else:
            take_kw[row], feed_kw[row] = own_take, own_feed
            sources.append("own_peak")
    return take_kw, feed_kw, sources


def compute_analysis(analysis: HubAnalysis,
                     progress: Callable[[str, float], None] | None = None) -> None:
    """Everything the hub page and the dossier show, stored on ``analysis`` (flushes only)."""
    def report(stage: str, share: float) -> None:
        if progress is not None:
            start, end = STAGES[stage]
            progress(stage, start + (end - start) * share)

    hub = analysis.hub
    params = analysis.parameters
    report("profiles", 0.0)
    consented = [m.site_id for m in hub.members if m.consent_profile]
    profiles = site_profiles(consented)
    if not profiles.site_ids:
        raise ServiceError(N_("No consenting site has energy data yet."))
    ids = profiles.site_ids
    index = quarter_hours()
    take_kw, feed_kw, contract_source = _contracts(ids, profiles.take_kwh, profiles.feed_kwh)
    report("analysis", 0.0)
    hours = sorted({*DEFAULT_CURTAIL_HOURS, float(params["curtail_hours"])})
    result = analyse(HubProfiles(np.array([str(i) for i in ids], dtype=object), index,
                                 profiles.take_kwh, profiles.feed_kwh),
                     contracted_take_kw=take_kw, contracted_feed_kw=feed_kw,
                     curtail_hours=hours)
    net = result.net_kw
    plan_rows, plans_kw = _plans(ids, net, result.sum_contracted_take_kw,
                                 result.sum_contracted_feed_kw, params)
    with_plans = net + plans_kw
    curtail = float(params["curtail_hours"])
    report("battery", 0.0)
    efficiency = float(params["battery_efficiency"])
    peak = result.group_peak_take_kw
    suggested = params.get("target_take_kw") is None
    target = round(0.9 * peak, 1) if suggested else float(params["target_take_kw"])
    battery = size_battery(net, target_take_kw=target, efficiency=efficiency)
    lowest = lowest_reachable_kw(net, efficiency=efficiency) if peak > 0 else 0.0
    targets = [peak * (1 - step) for step in BATTERY_STEPS if peak * (1 - step) > lowest]
    curve = battery_curve(net, targets, efficiency=efficiency) if targets else pd.DataFrame()
    report("shifting", 0.0)
    shift = _shift(ids, profiles.take_kwh, net, index)
    matching = None
    if params.get("max_distance_m"):
        report("matching", 0.0)
        matching = _matching(ids, profiles, float(params["max_distance_m"]),
                             lambda share: report("matching", share))
    report("saving", 0.0)
    participants = result.participants.assign(
        site_id=ids, number=np.arange(1, len(ids) + 1), source=profiles.source,
        contract_source=contract_source)
    analysis.result = {
        "members": len(hub.members), "left_out_consent": len(hub.members) - len(consented),
        "left_out_data": len(profiles.without_data), "sites": len(ids),
        "measured": profiles.source.count("measured"),
        "estimated": profiles.source.count("estimated"),
        "group_peak_take_kw": peak, "group_peak_take_at": result.group_peak_take_at.isoformat(),
        "group_peak_feed_kw": result.group_peak_feed_kw,
        "group_peak_feed_at": (result.group_peak_feed_at.isoformat()
                               if result.group_peak_feed_at is not None else None),
        "sum_contracted_take_kw": result.sum_contracted_take_kw,
        "sum_contracted_feed_kw": result.sum_contracted_feed_kw,
        "sum_own_peak_take_kw": result.sum_own_peak_take_kw,
        "sum_own_peak_feed_kw": result.sum_own_peak_feed_kw,
        "simultaneity_take": result.simultaneity_take,
        "simultaneity_feed": result.simultaneity_feed,
        "freed_take_kw": result.freed_take_kw, "freed_feed_kw": result.freed_feed_kw,
        "exchanged_kwh": result.exchanged_kwh, "total_take_kwh": result.total_take_kwh,
        "total_feed_kwh": result.total_feed_kwh,
        "curtail_hours": curtail,
        "curtailment": _records(result.curtailment),
        "duration": _curve(net), "duration_with_plans": _curve(with_plans),
        "with_plans": {
            "peak_take_kw": max(float(with_plans.max()), 0.0),
            "peak_feed_kw": max(-float(with_plans.min()), 0.0),
            "capacity_take_kw": float(capacity_for_curtailment(with_plans, curtail)[0]),
            "capacity_feed_kw": float(capacity_for_curtailment(-with_plans, curtail)[0]),
        },
        "plans": plan_rows,
        "battery": {"target_take_kw": target, "suggested": suggested,
                    "feasible": battery.feasible, "kwh": battery.kwh, "kw": battery.kw,
                    "efficiency": efficiency},
        "battery_curve": _records(curve), "lowest_reachable_kw": lowest,
        "shift": shift, "matching": matching,
        "participants": _records(participants),
    }
    analysis.group_take = HubAnalysis.pack(result.take_kwh)
    analysis.group_feed = HubAnalysis.pack(result.feed_kwh)
    analysis.plans_kw = HubAnalysis.pack(plans_kw)
    analysis.status, analysis.progress, analysis.stage = RunStatus.DONE, 1.0, "done"
    analysis.finished_at = datetime.now(UTC)
    db.session.flush()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, pd.Timestamp | date):
            return value.isoformat()
        return value

    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _curve(load_kw: np.ndarray) -> dict[str, list[float]]:
    """The load-duration curve at CURVE_POINTS ranks (hours from the top), the peak first."""
    curve = duration_curve(load_kw)
    ranks = np.unique(np.r_[0, np.round(np.geomspace(1, curve.size, CURVE_POINTS)) - 1]
                      .astype(int))
    return {"hours": [round(float(r) / 4, 2) for r in ranks],
            "kw": [round(float(curve[r]), 2) for r in ranks]}


def _plans(ids: list[int], net: np.ndarray, capacity_take: float, capacity_feed: float,
           params: dict[str, Any]) -> tuple[list[dict[str, Any]], np.ndarray]:
    rows = list(db.session.scalars(sa.select(ExpansionPlan).where(
        ExpansionPlan.site_id.in_(ids)).order_by(ExpansionPlan.id)))
    if not rows:
        return [], np.zeros_like(net)
    index = quarter_hours()
    where = {r.id: (r.x, r.y) for r in db.session.execute(
        sa.select(Site.id, Site.x, Site.y).where(Site.id.in_(ids)))}
    table = pd.DataFrame({
        "plan_id": [p.id for p in rows], "site_id": [p.site_id for p in rows],
        "kind": [p.kind.value for p in rows], "direction": [p.direction.value for p in rows],
        "kw": [p.kw for p in rows], "from_year": [p.from_year for p in rows],
        "shape": [p.shape for p in rows],
        "waiting_since": pd.to_datetime([p.waiting_since for p in rows]),
    })
    ordered = order_plans(table, by=params["plan_order"])
    extra = []
    for plan in ordered.itertuples():
        lon, lat = rd_to_wgs84([where[plan.site_id][0]], [where[plan.site_id][1]])
        extra.append(plan.kw * expansion_shape(plan.shape, index, lon=float(lon[0]),
                                               lat=float(lat[0])))
    matrix = np.vstack(extra)
    fitted = fit_plans(net, ordered, matrix, capacity_take_kw=capacity_take,
                       capacity_feed_kw=capacity_feed,
                       curtail_hours=float(params["curtail_hours"]))
    sign = np.where(ordered["direction"].to_numpy() == Direction.TAKE.value, 1.0, -1.0)
    fitted["waiting_since"] = [None if pd.isna(w) else w.date().isoformat()
                               for w in fitted["waiting_since"]]
    return _records(fitted), (sign[:, None] * matrix).sum(axis=0)


def _shift(ids: list[int], take: np.ndarray, net: np.ndarray,
           index: pd.DatetimeIndex) -> dict[str, Any] | None:
    grids = {g.site_id: g for g in db.session.scalars(sa.select(GridConnection).where(
        GridConnection.site_id.in_(ids), GridConnection.shiftable_share > 0))}
    rows = [row for row, site_id in enumerate(ids) if site_id in grids]
    if not rows:
        return None
    chosen = [grids[ids[r]] for r in rows]
    shift = shift_use(net, take[rows], index, share=[g.shiftable_share for g in chosen],
                      window_start_h=[float(g.shift_start_hour or 0) for g in chosen],
                      window_end_h=[float(g.shift_end_hour or 24) for g in chosen])
    return {"sites": len(rows), "moved_kwh": shift.moved_kwh,
            "peak_take_before_kw": shift.peak_take_before_kw,
            "peak_take_after_kw": shift.peak_take_after_kw,
            "peak_feed_before_kw": shift.peak_feed_before_kw,
            "peak_feed_after_kw": shift.peak_feed_after_kw}


def _matching(ids: list[int], profiles: Any, max_distance_m: float,
              progress: Callable[[float], None]) -> dict[str, float]:
    where = dict(db.session.execute(sa.select(Site.id, Site.x).where(Site.id.in_(ids))).all())
    ys = dict(db.session.execute(sa.select(Site.id, Site.y).where(Site.id.in_(ids))).all())
    sites = gpd.GeoDataFrame({"id": [str(i) for i in ids]}, crs=RD_NEW, geometry=gpd.points_from_xy(
        [where[i] for i in ids], [ys[i] for i in ids]))
    matched = matched_within_distance(sites, profiles.take_kwh, profiles.feed_kwh,
                                      max_distance_m=max_distance_m, progress=progress)
    return {"max_distance_m": max_distance_m, "matched_kwh": matched}


def consent_changed(analysis: HubAnalysis) -> bool:
    """Whether a participant of ``analysis`` has withdrawn its consent since (then its numbers
    must not go out in a dossier: analyse again)."""
    used = {p["site_id"] for p in (analysis.result or {}).get("participants", [])}
    if not used:
        return False
    allowed = set(db.session.scalars(sa.select(HubSite.site_id).where(
        HubSite.hub_id == analysis.hub_id, HubSite.consent_profile.is_(True))))
    return not used <= allowed


def participant_names(analysis: HubAnalysis, *, named_only: bool) -> dict[int, str | None]:
    """Organisation names per participating site; with ``named_only`` only where the
    organisation consented to be named (else None)."""
    used = [p["site_id"] for p in (analysis.result or {}).get("participants", [])]
    query = (sa.select(HubSite.site_id, Organisation.name, HubSite.consent_name)
             .join(Site, Site.id == HubSite.site_id)
             .join(Organisation, Organisation.id == Site.organisation_id)
             .where(HubSite.hub_id == analysis.hub_id, HubSite.site_id.in_(used)))
    return {site_id: (name if consent or not named_only else None)
            for site_id, name, consent in db.session.execute(query)}
