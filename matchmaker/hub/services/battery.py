"""The shared battery of a hub as a group buy: a draft campaign for the product "battery" (kWh),
with the size from the hub analysis as its threshold, in the hub's area. The coordinator checks
and opens it through the usual group-buy lifecycle."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import shapely
import sqlalchemy as sa

from matchmaker.auth.models import User
from matchmaker.campaigns.models import Campaign
from matchmaker.campaigns.services import CampaignSettings, create_campaign
from matchmaker.demand.models import Product
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.hub.models import Hub, HubAnalysis
from matchmaker.members.models import Site
from matchmaker.models import utcnow

#: Days members have to register for the battery, and to decide on an offer.
REGISTRATION_DAYS = 42
DECISION_DAYS = 14


def description(analysis: HubAnalysis, translate: Callable[..., str]) -> str:
    """The campaign's description in the coordinator's language (``translate(msgid, params)``)."""
    battery = (analysis.result or {}).get("battery") or {}
    return translate(
        N_("A shared battery for the energy hub %(hub)s: %(kwh)s kWh and %(kw)s kW keep the "
           "group's take at or below %(target)s kW all year (round-trip efficiency %(eff)s %%), "
           "according to hub analysis %(id)s."),
        {"hub": analysis.hub.name, "kwh": round(battery.get("kwh") or 0),
         "kw": round(battery.get("kw") or 0), "target": round(battery.get("target_take_kw") or 0),
         "eff": round((battery.get("efficiency") or 0) * 100), "id": analysis.id})


def start_campaign(hub: Hub, analysis: HubAnalysis, *, actor: User, title: str,
                   description: str) -> Campaign:
    """A draft group buy for the battery the analysis sized (threshold: its kWh)."""
    battery: dict[str, Any] = (analysis.result or {}).get("battery") or {}
    if not battery.get("feasible") or not battery.get("kwh"):
        raise ServiceError(N_("This analysis has no battery to buy: choose a target peak that "
                              "a battery can reach, and analyse again."))
    product = db.session.scalar(sa.select(Product).where(Product.code == "battery"))
    if product is None:  # pragma: no cover - the migration adds it
        raise ServiceError(N_("The product battery is missing from the catalogue."))
    geometry = None
    area_ids = [hub.area_id] if hub.area_id else []
    if not area_ids:
        geometry = hub.geometry or _hull(hub)
    settings = CampaignSettings(
        title=title[:200], product=product,
        registration_deadline=utcnow() + timedelta(days=REGISTRATION_DAYS),
        decision_days=DECISION_DAYS, description=description,
        threshold_quantity=Decimal(math.ceil(float(battery["kwh"]))),
        area_ids=area_ids, geometry=geometry,
    )
    campaign = create_campaign(settings, actor=actor)
    db.session.flush()
    return campaign


def _hull(hub: Hub) -> shapely.Geometry:
    rows = db.session.execute(sa.select(Site.x, Site.y).where(
        Site.id.in_([m.site_id for m in hub.members]))).all()
    if not rows:
        raise ServiceError(N_("The hub has no sites."))
    return shapely.MultiPoint([(x, y) for x, y in rows]).convex_hull.buffer(50.0)
