"""Energy data per site and matching runs: who could supply whom, how much, when.

The solving is :func:`geo.matching.match_energy`; this module turns sites into producers and
consumers with profiles, runs it as a job, stores the result and explains it to members.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from geo.crs import rd_to_wgs84
from geo.errors import N_, GeoError
from geo.io import read_csv_text
from geo.matching import marginal_gain, match_energy
from geo.profiles import (
    CATEGORIES,
    consumption_profile,
    measured_profile,
    pv_profile,
    step_weights,
)
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.energy.models import (
    AssetKind,
    EnergyAsset,
    Match,
    MatchRun,
    ProfileSource,
    RunStatus,
)
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.frames import point_frame
from matchmaker.members.models import Organisation, Site

MODES = ("annual", "typical_day", "hourly")
#: Default search radius for partners: a few streets on a business park.
DEFAULT_DISTANCE_M = 2000.0
MAX_DISTANCE_M = 20_000.0
#: "What would an extra 10 kWp add", "what would shifting 10 % of use to the day add".
EXTRA_KWP = 10.0
SHIFT_SHARE = 0.10
DAYTIME_HOURS = range(10, 16)  # 10:00-16:00 local: where PV surplus is


def asset(site: Site, kind: AssetKind) -> EnergyAsset | None:
    return db.session.scalar(
        sa.select(EnergyAsset).where(EnergyAsset.site_id == site.id, EnergyAsset.kind == kind)
    )


def get_or_create_asset(site: Site, kind: AssetKind) -> EnergyAsset:
    found = asset(site, kind)
    if found is None:
        found = EnergyAsset(site_id=site.id, kind=kind, source=ProfileSource.ESTIMATED)
        db.session.add(found)
    return found


def number_in_range(value: float | None, field: str, low: float, high: float) -> float | None:
    """``value`` as a float when it is finite and within ``[low, high]``; ``None`` stays."""
    if value is None:
        return None
    if not (math.isfinite(value) and low <= value <= high):
        raise ServiceError(N_("Enter a number between %(low)s and %(high)s."), field=field,
                           low=int(low), high=int(high))
    return float(value)


def save_electricity(
    site: Site,
    *,
    actor: User,
    pv_kwp: float | None,
    pv_planned: bool,
    tilt_deg: float | None,
    azimuth_deg: float | None,
    feed_in_limit_kw: float | None,
    annual_use_kwh: float | None,
    profile_category: str,
    share_name: bool,
) -> None:
    """Record the site's PV (installed, or planned from the flat roof) and electricity use."""
    pv_kwp = number_in_range(pv_kwp, "pv_kwp", 0, 100_000)
    annual_use_kwh = number_in_range(annual_use_kwh, "annual_use_kwh", 0, 1e9)
    feed_in_limit_kw = number_in_range(feed_in_limit_kw, "feed_in_limit_kw", 0, 100_000)
    if tilt_deg is not None and not 0 <= tilt_deg <= 90:
        raise ServiceError(N_("The tilt is between 0° (flat) and 90° (vertical)."),
                           field="tilt_deg")
    if azimuth_deg is not None and not 0 <= azimuth_deg <= 360:
        raise ServiceError(N_("The orientation is between 0° and 360° (180° is south)."),
                           field="azimuth_deg")
    if profile_category not in CATEGORIES:
        raise ServiceError(N_("Choose a usage profile from the list."), field="profile_category")
    if pv_planned and pv_kwp is None:
        if not site.flat_roof_area_m2:
            raise ServiceError(
                N_("Enter the flat roof area of the site first, or the kWp of the installation."),
                field="pv_kwp",
            )
        pv_kwp = round(site.flat_roof_area_m2 * current_app.config["PV_KWP_PER_M2"], 1)
    if pv_kwp:
        pv = get_or_create_asset(site, AssetKind.PV)
        pv.capacity_kw, pv.planned = pv_kwp, pv_planned
        pv.tilt_deg, pv.azimuth_deg, pv.feed_in_limit_kw = tilt_deg, azimuth_deg, feed_in_limit_kw
        if pv.source == ProfileSource.ESTIMATED:
            pv.annual_kwh = pv_kwp * current_app.config["PV_YIELD_KWH_PER_KWP"]
        pv.share_name = share_name
    elif (planned := asset(site, AssetKind.PV)) is not None:
        db.session.delete(planned)
    if annual_use_kwh:
        use = get_or_create_asset(site, AssetKind.CONSUMPTION)
        if use.source == ProfileSource.ESTIMATED:
            use.annual_kwh = annual_use_kwh
        use.profile_category = profile_category
        use.share_name = share_name
    elif (estimated := asset(site, AssetKind.CONSUMPTION)) is not None and (
            estimated.source == ProfileSource.ESTIMATED):
        db.session.delete(estimated)
    db.session.flush()
    record(actor, "energy.update", site, pv_kwp=pv_kwp, annual_use_kwh=annual_use_kwh)


def upload_meter_data(site: Site, *, actor: User, kind: AssetKind, data: bytes,
                      filename: str) -> EnergyAsset:
    """Store metered kWh (CSV of 15-minute or hourly values) as the site's measured profile.

    The file needs a ``timestamp`` column (start of each interval) and a ``kwh`` column; Dutch
    spreadsheets (semicolons, decimal commas) are fine. Raises :class:`GeoError` with the line
    or the reason when the data cannot be used; nothing is stored then.
    """
    if kind not in (AssetKind.PV, AssetKind.CONSUMPTION):
        raise ServiceError(N_("Meter data is for PV production or electricity use."))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "meter.csv"
        path.write_bytes(data)
        frame = read_csv_text(path)
    frame.columns = [c.strip().lower() for c in frame.columns]
    for column in ("timestamp", "kwh"):
        if column not in frame.columns:
            raise GeoError(N_("%(file)s: the meter data needs the columns timestamp and kwh."),
                           file=filename)
    frame["kwh"] = pd.to_numeric(frame["kwh"].str.replace(",", ".", regex=False),
                                 errors="coerce")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], errors="coerce", format="mixed")
    if frame["timestamp"].isna().any():
        line = int(np.flatnonzero(frame["timestamp"].isna().to_numpy())[0]) + 2
        raise GeoError(N_("%(file)s: line %(line)s has no readable timestamp."),
                       file=filename, line=line)
    profile = measured_profile(frame, mode="hourly", name=filename)
    target = get_or_create_asset(site, kind)
    target.hourly = profile.values
    target.annual_kwh = float(profile.annual_kwh)
    target.source = ProfileSource.MEASURED
    target.measured_info = {
        "file": filename[:200], "uploaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "filled_hours": profile.filled_hours, "gaps": len(profile.gaps),
    }
    if kind == AssetKind.PV and target.capacity_kw is None:
        target.capacity_kw = round(float(profile.annual_kwh) /
                                   current_app.config["PV_YIELD_KWH_PER_KWP"], 1)
    db.session.flush()
    record(actor, "energy.meter_upload", target, kind=str(kind), file=filename[:200])
    return target


def remove_meter_data(site: Site, *, actor: User, kind: AssetKind) -> None:
    target = asset(site, kind)
    if target is None or target.source != ProfileSource.MEASURED:
        return
    target.hourly = None
    target.measured_info = None
    target.source = ProfileSource.ESTIMATED
    if kind == AssetKind.PV and target.capacity_kw:
        target.annual_kwh = target.capacity_kw * current_app.config["PV_YIELD_KWH_PER_KWP"]
    db.session.flush()
    record(actor, "energy.meter_remove", target, kind=str(kind))


# --- building the matching problem -------------------------------------------------------------

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


# --- runs --------------------------------------------------------------------------------------

def start_run(*, actor: User, mode: str, max_distance_m: float) -> MatchRun:
    if mode not in MODES:
        raise ServiceError(N_("Choose annual, typical day or hourly."), field="mode")
    if not (math.isfinite(max_distance_m) and 0 < max_distance_m <= MAX_DISTANCE_M):
        raise ServiceError(N_("Enter a distance between 1 and %(max)s metres."),
                           field="max_distance_m", max=int(MAX_DISTANCE_M))
    run = MatchRun(created_by_id=actor.id, mode=mode, max_distance_m=float(max_distance_m),
                   parameters={
                       "pv_yield_kwh_per_kwp": current_app.config["PV_YIELD_KWH_PER_KWP"],
                       "co2_kg_per_kwh": current_app.config["ELECTRICITY_CO2_KG_PER_KWH"],
                   })
    db.session.add(run)
    db.session.flush()
    record(actor, "match_run.start", run, mode=mode, max_distance_m=max_distance_m)
    return run


#: Where each stage of a run starts and ends on the progress bar (0 to 1).
RUN_STAGES = {"profiles": (0.0, 0.1), "solving": (0.1, 0.8), "certifying": (0.8, 0.9),
              "saving": (0.9, 1.0)}


class _ProgressCommits:
    """Commits a job's progress so the page polling it sees it, at most once per ``every_s``
    seconds within a stage (a new stage always commits)."""

    def __init__(self, run: MatchRun, every_s: float = 1.0) -> None:
        self.run, self.every_s, self.last = run, every_s, -math.inf

    def __call__(self, stage: str, progress: float) -> None:
        now = time.monotonic()
        if stage == self.run.stage and now - self.last < self.every_s:
            return
        self.run.stage, self.run.progress, self.last = stage, progress, now
        db.session.commit()  # a job is an edge: its progress must be visible while it runs


def compute_run(run: MatchRun, progress: Callable[[str, float], None] | None = None) -> None:
    """Build the problem, solve it with its certificate and store the matches (flushes only).

    Every step is proven optimal by the exact duality certificate while it is solved; with
    ``MATCH_CROSS_CHECK_STEPS`` > 0 that many sampled steps are also solved again with HiGHS
    (a new random sample per run, its seed stored). ``progress(stage, fraction)`` is told the
    stage (a key of :data:`RUN_STAGES`) and how far the whole run is (0 to 1), step by step
    while solving and cross-checking.
    """
    def report(stage: str, share: float) -> None:
        if progress is not None:
            start, end = RUN_STAGES[stage]
            progress(stage, start + (end - start) * share)

    report("profiles", 0.0)
    energy = site_energy(run.mode)
    producers, surplus = energy.producers()
    consumers, deficit = energy.consumers()
    profiles = run.mode != "annual"
    result = match_energy(
        producers[["id", "feed_in_kw", "geometry"]].assign(surplus_kwh=surplus.sum(axis=1)),
        consumers[["id", "geometry"]].assign(demand_kwh=deficit.sum(axis=1)),
        max_distance_m=run.max_distance_m, mode=run.mode,
        producer_profile=surplus if profiles else None,
        consumer_profile=deficit if profiles else None,
        weights=energy.weights if profiles else None,
        cross_check_steps=int(current_app.config.get("MATCH_CROSS_CHECK_STEPS", 0)),
        progress=report,
    )
    report("saving", 0.0)
    _store(run, result)
    run.status, run.progress, run.stage = RunStatus.DONE, 1.0, "done"
    run.finished_at = datetime.now(UTC)
    db.session.flush()


def execute_run(run_id: int) -> None:
    """The job: runs :func:`compute_run`, committing progress; a failure is recorded on the run."""
    run = db.session.get(MatchRun, run_id)
    if run is None or run.status not in (RunStatus.QUEUED, RunStatus.FAILED):
        return
    run.status, run.started_at, run.error = RunStatus.RUNNING, datetime.now(UTC), ""
    try:
        compute_run(run, _ProgressCommits(run))
    except Exception as err:  # the run records any failure; the log has the traceback
        if not isinstance(err, GeoError):
            current_app.logger.exception("match run %s failed", run_id)
        db.session.rollback()
        run = db.session.get(MatchRun, run_id)
        assert run is not None
        run.status = RunStatus.FAILED
        run.error = (str(err) if isinstance(err, GeoError) else f"{type(err).__name__}: {err}")[:500]
        run.finished_at = datetime.now(UTC)
    db.session.commit()


def _store(run: MatchRun, result: Any) -> None:
    flows = result.flows
    by_hour: dict[tuple[str, str], list[float]] = {}
    if result.step_flows is not None and len(result.step_flows):
        steps = result.step_flows
        hour_of_step = _hour_of_step(run.mode)
        per_year = steps["kwh"].to_numpy() * result.problem.weights[steps["step"].to_numpy()]
        table = pd.DataFrame({"producer_id": steps["producer_id"],
                              "consumer_id": steps["consumer_id"],
                              "hour": hour_of_step[steps["step"].to_numpy()], "kwh": per_year})
        grouped = table.groupby(["producer_id", "consumer_id", "hour"])["kwh"].sum()
        for (p, c), series in grouped.groupby(level=[0, 1]):
            values = np.zeros(24)
            values[series.index.get_level_values("hour").to_numpy()] = series.to_numpy()
            by_hour[(p, c)] = [round(float(v), 3) for v in values]
    for row in flows.itertuples():
        run.matches.append(Match(
            producer_site_id=int(row.producer_id), consumer_site_id=int(row.consumer_id),
            kwh=float(row.kwh), distance_m=float(row.distance_m),
            hours=float(row.hours) if "hours" in flows.columns and pd.notna(row.hours) else None,
            by_hour=by_hour.get((row.producer_id, row.consumer_id)),
        ))
    totals = result.totals
    run.n_producers = len(result.problem.producer_ids)
    run.n_consumers = len(result.problem.consumer_ids)
    run.matched_kwh, run.surplus_kwh, run.demand_kwh = (
        totals.matched_kwh, totals.surplus_kwh, totals.demand_kwh)
    run.energy_distance_kwh_m = totals.energy_distance_kwh_m
    run.seconds = result.seconds
    run.certificate = certificate_record(result)


def certificate_record(result: Any) -> dict[str, Any] | None:
    """What a run stores about its proof: the exact certificate's verdict (``kind``) and the
    HiGHS cross-check when one ran, each with a one-line summary."""
    verdict = result.certificate
    if verdict is None:
        return None
    record = {**{k: _plain(v) for k, v in asdict(verdict).items()},
              "kind": "exact", "checker": "geo.certificate", "ok": verdict.ok,
              "summary": verdict.summary()}
    second = result.cross_check
    record["cross_check"] = None if second is None else {
        "summary": second.summary(), **{k: _plain(v) for k, v in asdict(second).items()}}
    return record


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _hour_of_step(mode: str) -> np.ndarray:
    if mode == "typical_day":
        return np.tile(np.arange(24), 12)
    if mode == "hourly":
        from geo.profiles import hourly_index

        hours: np.ndarray = hourly_index().hour.to_numpy()
        return hours
    return np.zeros(1, dtype=int)


def recent_runs(limit: int = 20) -> list[MatchRun]:
    """The newest runs first."""
    return list(db.session.scalars(sa.select(MatchRun).order_by(MatchRun.id.desc()).limit(limit)))


def latest_run(*, status: RunStatus | None = RunStatus.DONE) -> MatchRun | None:
    query = sa.select(MatchRun).order_by(MatchRun.id.desc()).limit(1)
    if status is not None:
        query = query.where(MatchRun.status == status)
    return db.session.scalar(query)


def previous_run(run: MatchRun) -> MatchRun | None:
    return db.session.scalar(
        sa.select(MatchRun).where(MatchRun.id < run.id, MatchRun.status == RunStatus.DONE)
        .order_by(MatchRun.id.desc()).limit(1)
    )


@dataclass(frozen=True)
class RunChanges:
    added: list[tuple[int, int, float]]
    removed: list[tuple[int, int, float]]
    changed: list[tuple[int, int, float, float]]
    matched_before: float
    matched_now: float


def changes(run: MatchRun, before: MatchRun) -> RunChanges:
    """Pairs that appeared, disappeared or changed by more than 1 % since ``before``."""
    now = {(m.producer_site_id, m.consumer_site_id): m.kwh for m in run.matches}
    old = {(m.producer_site_id, m.consumer_site_id): m.kwh for m in before.matches}
    return RunChanges(
        added=sorted(((p, c, kwh) for (p, c), kwh in now.items() if (p, c) not in old),
                     key=lambda t: -t[2]),
        removed=sorted(((p, c, kwh) for (p, c), kwh in old.items() if (p, c) not in now),
                       key=lambda t: -t[2]),
        changed=sorted(((p, c, old[(p, c)], kwh) for (p, c), kwh in now.items()
                        if (p, c) in old and abs(kwh - old[(p, c)]) > 0.01 * max(kwh, 1)),
                       key=lambda t: -abs(t[3] - t[2])),
        matched_before=before.matched_kwh or 0.0, matched_now=run.matched_kwh or 0.0,
    )


def co2_avoided_kg(run: MatchRun) -> float:
    """Grid electricity displaced × the CO₂ factor stored with the run (an estimate)."""
    return (run.matched_kwh or 0.0) * float(run.parameters.get("co2_kg_per_kwh", 0.0))


# --- explaining matches to members -------------------------------------------------------------

@dataclass(frozen=True)
class MemberMatch:
    role: str  # "supplies" (we supply them) or "receives" (they supply us)
    own_site: Site
    partner_name: str | None  # None: not both consented to be named
    distance_m: float
    kwh: float
    hours: float | None
    supply_hours: list[int]  # local clock hours in which energy flows


def sites_by_id(site_ids: set[int]) -> dict[int, Site]:
    """The sites with these ids, their organisations loaded in the same round trip."""
    if not site_ids:
        return {}
    return {s.id: s for s in db.session.scalars(
        sa.select(Site).options(selectinload(Site.organisation)).where(Site.id.in_(site_ids)))}


def run_sites(run: MatchRun) -> dict[int, Site]:
    """Every site that supplies or receives in ``run``."""
    return sites_by_id({m.producer_site_id for m in run.matches}
                       | {m.consumer_site_id for m in run.matches})


def member_matches(run: MatchRun, organisation: Organisation) -> list[MemberMatch]:
    sites = {s.id: s for s in organisation.sites}
    if not sites:
        return []
    partner_ids = {m.consumer_site_id for m in run.matches if m.producer_site_id in sites} | {
        m.producer_site_id for m in run.matches if m.consumer_site_id in sites}
    partners = sites_by_id(partner_ids)
    consent = _named(set(sites) | partner_ids)
    result = []
    for m in run.matches:
        for own_id, other_id, role in ((m.producer_site_id, m.consumer_site_id, "supplies"),
                                       (m.consumer_site_id, m.producer_site_id, "receives")):
            if own_id not in sites:
                continue
            partner = partners[other_id]
            named = consent.get(own_id, False) and consent.get(other_id, False)
            hours = [h for h, v in enumerate(m.by_hour or []) if v > 0.5]
            result.append(MemberMatch(role, sites[own_id],
                                      partner.organisation.name if named else None,
                                      m.distance_m, m.kwh, m.hours, hours))
    return sorted(result, key=lambda r: -r.kwh)


def _named(site_ids: set[int]) -> dict[int, bool]:
    rows = db.session.execute(sa.select(EnergyAsset.site_id, EnergyAsset.share_name).where(
        EnergyAsset.site_id.in_(site_ids), EnergyAsset.kind.in_([AssetKind.PV,
                                                                 AssetKind.CONSUMPTION])))
    named: dict[int, bool] = {}
    for site_id, share in rows:
        named[site_id] = named.get(site_id, False) or bool(share)
    return named


@dataclass(frozen=True)
class WhatIf:
    extra_pv_kwh: float | None  # more matched kWh/yr with EXTRA_KWP more PV
    shift_kwh: float | None  # more matched kWh/yr when SHIFT_SHARE of use moves to the day


def sites_with_energy(sites: list[Site]) -> set[int]:
    """Which of ``sites`` have PV or electricity use entered (one query)."""
    return set(db.session.scalars(sa.select(EnergyAsset.site_id).where(
        EnergyAsset.site_id.in_([s.id for s in sites]),
        EnergyAsset.kind.in_([AssetKind.PV, AssetKind.CONSUMPTION]))))


def what_if(run: MatchRun, site: Site, energy: SiteEnergy | None = None) -> WhatIf:
    """Re-solve the site's part of the run with 10 kWp more PV, and with 10 % of its use moved
    to daytime (no battery). Both are answered for the run's mode and distance. ``energy``:
    :func:`site_energy` of the run's mode, when the caller asks for several sites."""
    energy = energy if energy is not None else site_energy(run.mode)
    ids = energy.sites["site_id"].to_numpy()
    if site.id not in ids:
        return WhatIf(None, None)
    from geo.matching import build_problem

    producers, surplus = energy.producers()
    consumers, deficit = energy.consumers()
    annual = run.mode == "annual"
    kwargs: dict[str, Any] = {"producer_profile": None if annual else surplus,
              "consumer_profile": None if annual else deficit,
              "weights": None if annual else energy.weights}
    # A site that is neither producer nor consumer yet joins with zero amounts.
    key = str(site.id)
    if key not in set(producers["id"]):
        producers, surplus = _with_site(producers, surplus, energy, key)
    if key not in set(consumers["id"]):
        consumers, deficit = _with_site(consumers, deficit, energy, key)
    if not annual:
        kwargs.update(producer_profile=surplus, consumer_profile=deficit)
    problem = build_problem(
        producers[["id", "feed_in_kw", "geometry"]].assign(surplus_kwh=surplus.sum(axis=1)),
        consumers[["id", "geometry"]].assign(demand_kwh=deficit.sum(axis=1)),
        max_distance_m=run.max_distance_m, mode=run.mode, **kwargs,
    )
    lon, lat = rd_to_wgs84([site.x], [site.y])
    extra = pv_profile(lon=float(lon[0]), lat=float(lat[0]), kwp=EXTRA_KWP,
                       annual_yield_kwh_per_kwp=current_app.config["PV_YIELD_KWH_PER_KWP"],
                       mode=run.mode).values
    extra_pv = marginal_gain(problem, producer_id=key,
                             extra_kwh=float(np.sum(extra)) if annual else extra)
    shift = None
    row = int(np.flatnonzero(ids == site.id)[0])
    use = energy.use[row]
    if not annual and use.sum() > 0:
        hours = _hour_of_step(run.mode)
        day = np.isin(hours, list(DAYTIME_HOURS))
        moved = SHIFT_SHARE * float(use @ energy.weights)
        extra_use = np.where(day, 1.0, 0.0)
        extra_use *= moved / float(extra_use @ energy.weights)
        shift = marginal_gain(problem, consumer_id=key, extra_kwh=extra_use)
    return WhatIf(extra_pv, shift)


def _with_site(frame: gpd.GeoDataFrame, values: np.ndarray, energy: SiteEnergy, key: str
               ) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    row = energy.sites[energy.sites["id"] == key]
    return (pd.concat([frame, row], ignore_index=True),
            np.vstack([values, np.zeros((1, values.shape[1]))]))


def meter_template() -> str:
    """An example of the meter data file members can upload."""
    out = io.StringIO()
    out.write("timestamp;kwh\n")
    for hour, kwh in ((0, "0,8"), (1, "0,7"), (2, "0,7")):
        out.write(f"2025-01-01 {hour:02d}:00;{kwh}\n")
    return out.getvalue()
