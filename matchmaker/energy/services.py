"""Energy data per site and matching runs: who could supply whom, how much, when.

The solving is :func:`geo.matching.match_energy`; this module runs it as a job on the sites'
profiles (:mod:`matchmaker.energy.site_profiles`), stores the result with what would help each
member (:mod:`matchmaker.energy.explain`) and compares runs.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import current_app

from geo.errors import N_, GeoError
from geo.io import read_csv_bytes
from geo.matching import match_energy
from geo.profiles import (
    CATEGORIES,
    Profile,
    measured_profile,
)
from geo.validation import plausible_meter_times, plausible_meter_values
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.energy import explain, site_profiles
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
from matchmaker.members.models import Site

MODES = ("annual", "typical_day", "hourly")
#: Default search radius for partners: a few streets on a business park.
DEFAULT_DISTANCE_M = 2000.0
MAX_DISTANCE_M = 20_000.0


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


#: What a meter file can hold: a year of 15-minute values (a leap year has 35,136) and a few
#: columns of short lines. Anything larger is refused before it is parsed.
METER_MAX_ROWS = 40_000
METER_MAX_COLUMNS = 20
METER_MAX_LINE_CHARS = 200


@dataclass(frozen=True)
class MeterFile:
    """A meter file parsed and checked (:func:`parse_meter_data`), ready to store."""

    filename: str
    profile: Profile


def parse_meter_data(data: bytes, *, filename: str) -> MeterFile:
    """Read and check metered kWh (CSV of 15-minute or hourly values); no database work, so
    the edge runs it before the write transaction starts (``database.finish_reading``).

    The file needs a ``timestamp`` column (start of each interval) and a ``kwh`` column; Dutch
    spreadsheets (semicolons, decimal commas) are fine. Raises :class:`GeoError` with the line
    or the reason when the data cannot be used.
    """
    frame = read_csv_bytes(data, name=filename, max_columns=METER_MAX_COLUMNS,
                           max_rows=METER_MAX_ROWS, max_line_chars=METER_MAX_LINE_CHARS)
    for column in ("timestamp", "kwh"):
        if column not in frame.columns:
            raise GeoError(N_("%(file)s: the meter data needs the columns timestamp and kwh."),
                           file=filename)
    frame["kwh"] = pd.to_numeric(frame["kwh"].str.replace(",", ".", regex=False),
                                 errors="coerce")
    # Plausible amounts and years, one way of writing times: before any date arithmetic.
    plausible_meter_values(frame["kwh"].to_numpy(dtype=float, na_value=0.0), name=filename,
                           column="kwh")
    plausible_meter_times(frame["timestamp"], name=filename, column="timestamp")
    with_offset = bool(frame["timestamp"].str.contains(r"(?:Z|[+-]\d\d:?\d\d)$").any())
    try:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], errors="coerce",
                                            format="mixed", utc=with_offset)
    except (ValueError, OverflowError) as exc:  # pandas' out-of-bounds errors are ValueErrors
        raise GeoError(N_("%(file)s: the timestamps cannot be read; write them as "
                          "2025-01-01T00:00+01:00."), file=filename) from exc
    if frame["timestamp"].isna().any():
        line = int(np.flatnonzero(frame["timestamp"].isna().to_numpy())[0]) + 2
        raise GeoError(N_("%(file)s: line %(line)s has no readable timestamp."),
                       file=filename, line=line)
    return MeterFile(filename, measured_profile(frame, mode="hourly", name=filename))


def upload_meter_data(site: Site, *, actor: User, kind: AssetKind, data: bytes | MeterFile,
                      filename: str) -> EnergyAsset:
    """Store metered kWh as the site's measured profile (``data``: the file, or the file
    parsed already by :func:`parse_meter_data`). Nothing is stored when it cannot be used."""
    if kind not in (AssetKind.PV, AssetKind.CONSUMPTION):
        raise ServiceError(N_("Meter data is for PV production or electricity use."))
    parsed = data if isinstance(data, MeterFile) else parse_meter_data(data, filename=filename)
    profile, filename = parsed.profile, parsed.filename
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
RUN_STAGES = {"profiles": (0.0, 0.1), "solving": (0.1, 0.7), "certifying": (0.7, 0.8),
              "explaining": (0.8, 0.95), "saving": (0.95, 1.0)}


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
    while solving and cross-checking. Then what would help each site is worked out from the
    solution and stored with the run (:mod:`matchmaker.energy.explain`), so that the members'
    page never solves.
    """
    def report(stage: str, share: float) -> None:
        if progress is not None:
            start, end = RUN_STAGES[stage]
            progress(stage, start + (end - start) * share)

    report("profiles", 0.0)
    energy = site_profiles.site_energy(run.mode)
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
    report("explaining", 0.0)
    what_ifs = explain.compute_what_ifs(run, energy, result,
                                        progress=lambda share: report("explaining", share))
    report("saving", 0.0)
    _store(run, result)
    run.what_ifs.extend(what_ifs)
    run.explained = True
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
        hour_of_step = site_profiles.hour_of_step(run.mode)
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


def run_sites(run: MatchRun) -> dict[int, Site]:
    """Every site that supplies or receives in ``run``."""
    return explain.sites_by_id({m.producer_site_id for m in run.matches}
                               | {m.consumer_site_id for m in run.matches})


def co2_avoided_kg(run: MatchRun) -> float:
    """Grid electricity displaced × the CO₂ factor stored with the run (an estimate)."""
    return (run.matched_kwh or 0.0) * float(run.parameters.get("co2_kg_per_kwh", 0.0))


def meter_template() -> str:
    """An example of the meter data file members can upload, and that the upload accepts: a
    whole year (2025) of hourly kWh of a small office in Dutch local time (the repeated autumn
    hour twice, in order), semicolons and decimal commas as a Dutch spreadsheet writes them."""
    hours = pd.date_range("2025-01-01", "2026-01-01", freq="h", inclusive="left",
                          tz="Europe/Amsterdam")
    local = hours.tz_localize(None)
    working = (local.day_of_week < 5) & (local.hour >= 8) & (local.hour < 18)
    winter = np.cos((local.day_of_year.to_numpy() - 15) / 365 * 2 * np.pi)  # 1 in January
    kwh = np.round(np.where(working, 6.0, 1.2) * (1 + 0.25 * winter), 2)
    out = io.StringIO()
    out.write("timestamp;kwh\n")
    for moment, value in zip(local.strftime("%Y-%m-%d %H:%M"), kwh, strict=True):
        out.write(f"{moment};{str(value).replace('.', ',')}\n")
    return out.getvalue()
