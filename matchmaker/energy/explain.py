"""Explaining a run to members: their matches in plain words, and what would help each site.

The what-ifs ("10 kWp more PV", "move 10 % of the use to 10:00-16:00") are computed once, when
a run finishes, as a stage of its job (:func:`compute_what_ifs`: every site with energy data,
from the run's own maximal flow by :func:`geo.match_whatif.matched_gains`, which equals solving
the site's component again) and stored with the run (:class:`MatchWhatIf`). The members' page
only reads: a few indexed queries bounded by the member's own sites, never a solve. Partner
names are decided at reading time, so a consent withdrawn after the run counts at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from geo.crs import rd_to_wgs84
from geo.match_problem import build_problem
from geo.match_whatif import Extra, matched_gains, transfer_flows
from geo.profiles import pv_profile
from matchmaker.energy.models import AssetKind, EnergyAsset, Match, MatchRun, MatchWhatIf
from matchmaker.energy.site_profiles import SiteEnergy, hour_of_step
from matchmaker.extensions import db
from matchmaker.members.models import Organisation, Site

if TYPE_CHECKING:
    from geo.matching import MatchResult

#: "What would an extra 10 kWp add", "what would shifting 10 % of use to the day add".
EXTRA_KWP = 10.0
SHIFT_SHARE = 0.10
DAYTIME_HOURS = range(10, 16)  # 10:00-16:00 local: where PV surplus is


# --- computed with the run -----------------------------------------------------------------------

def compute_what_ifs(run: MatchRun, energy: SiteEnergy, result: MatchResult, *,
                     progress: Callable[[float], None] | None = None) -> list[MatchWhatIf]:
    """What would help every site with energy data in ``run`` (rows to store with the run).

    Each site is asked as a producer (10 kWp more PV at its location, within its feed-in
    limit) and, in the profile modes when it uses electricity, as a consumer (10 % of its use
    added between 10:00 and 16:00). A site that is not a producer (or consumer) in the run
    joins with nothing to give (or take), exactly as if the question were solved on its own.
    """
    sites = energy.sites
    n = len(sites)
    if n == 0:
        return []
    annual = run.mode == "annual"
    surplus = np.clip(energy.pv - energy.use, 0, None)
    deficit = np.clip(energy.use - energy.pv, 0, None)
    # Every site on both sides (with zero where it has nothing): the run's flow stays maximal
    # there, and every question has its site in the problem.
    problem = build_problem(
        sites[["id", "feed_in_kw", "geometry"]].assign(surplus_kwh=surplus.sum(axis=1)),
        sites[["id", "geometry"]].assign(demand_kwh=deficit.sum(axis=1)),
        max_distance_m=run.max_distance_m, mode=run.mode,
        producer_profile=None if annual else surplus,
        consumer_profile=None if annual else deficit,
        weights=None if annual else energy.weights,
    )
    flows = transfer_flows(result.problem, result.solution, problem)
    lon, lat = rd_to_wgs84(sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy())
    extra_pv = pv_profile(lon=lon, lat=lat, kwp=np.full(n, EXTRA_KWP),
                          annual_yield_kwh_per_kwp=current_app.config["PV_YIELD_KWH_PER_KWP"],
                          mode=run.mode).values.reshape(n, -1)
    extras = [Extra("producer", i, extra_pv[i]) for i in range(n)]
    shifted: list[int] = []
    if not annual:
        day = np.isin(hour_of_step(run.mode), list(DAYTIME_HOURS)).astype(float)
        day /= float(day @ energy.weights)
        for i in range(n):
            moved = SHIFT_SHARE * float(energy.use[i] @ energy.weights)
            if moved > 0:
                extras.append(Extra("consumer", i, day * moved))
                shifted.append(i)
    gains = matched_gains(problem, flows, extras, progress=progress)
    shift = dict(zip(shifted, gains[n:].tolist(), strict=True))
    run.parameters = {**run.parameters, "extra_kwp": EXTRA_KWP, "shift_share": SHIFT_SHARE}
    return [MatchWhatIf(site_id=int(site_id), extra_pv_kwh=round(float(gains[i]), 3),
                        shift_kwh=round(shift[i], 3) if i in shift else None)
            for i, site_id in enumerate(sites["site_id"])]


# --- read by the members' page ---------------------------------------------------------------------

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


def member_matches(run: MatchRun, organisation: Organisation) -> list[MemberMatch]:
    """The run's matches of the organisation's sites, largest first, partners named only when
    both sites agreed to be named."""
    sites = {s.id: s for s in organisation.sites}
    if not sites:
        return []
    rows = list(db.session.scalars(sa.select(Match).where(
        Match.run_id == run.id,
        sa.or_(Match.producer_site_id.in_(sites), Match.consumer_site_id.in_(sites)))))
    partner_ids = {m.consumer_site_id for m in rows if m.producer_site_id in sites} | {
        m.producer_site_id for m in rows if m.consumer_site_id in sites}
    partners = sites_by_id(partner_ids)
    consent = _named(set(sites) | partner_ids)
    result = []
    for m in rows:
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
    extra_pv_kwh: float | None  # more matched kWh/yr with the run's extra kWp more PV
    shift_kwh: float | None  # more matched kWh/yr when the run's share of use moves to the day


def stored_what_ifs(run: MatchRun, sites: list[Site]) -> dict[int, WhatIf]:
    """The what-ifs stored with ``run`` for these sites (none for a run made before they were
    stored: ``run.explained`` says which)."""
    if not sites:
        return {}
    rows = db.session.scalars(sa.select(MatchWhatIf).where(
        MatchWhatIf.run_id == run.id, MatchWhatIf.site_id.in_([s.id for s in sites])))
    return {r.site_id: WhatIf(r.extra_pv_kwh, r.shift_kwh) for r in rows}
