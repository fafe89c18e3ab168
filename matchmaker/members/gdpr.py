"""The AVG/GDPR rights of a member organisation: all its data in one download, and erasure.

Erasure removes personal data (names, contacts, e-mail addresses, addresses, meter data,
consents, queued mail) but keeps the organisation's demand, participations and offers as
anonymous rows, so the association's aggregate history (volumes per area, group buy totals,
fibre trends) stays correct. For the same reason a site keeps a location, but not its own: it
moves to a point of the 250 m grid cell around it that lies in exactly the same areas and fibre
regions (every per-area number stays the same, no building is named), and the fibre history's
rows for it lose the BAG id and take the same point. The audit log keeps who did what and when
to the organisation, its sites and its accounts, but no longer the details (addresses, e-mail
addresses, KvK number).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from geo.areas import coarsen_point, grid_cell
from matchmaker.audit.models import AuditLog
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.auth.passwords import hash_password
from matchmaker.auth.services import end_sessions
from matchmaker.backup import encode_row
from matchmaker.campaigns.models import (
    Campaign,
    CampaignState,
    Offer,
    OfferStatus,
    OwnerConsentToken,
    Participation,
    ParticipationState,
)
from matchmaker.demand.models import Demand, ProviderConsent, Stage
from matchmaker.energy.models import EnergyAsset, ExpansionPlan, GridConnection, Match
from matchmaker.errors import N_, Conflict
from matchmaker.extensions import db
from matchmaker.fibre.models import FibreRegion, FibreSnapshotUnit
from matchmaker.hub.models import HubSite
from matchmaker.mail.models import Outbox
from matchmaker.members.models import Organisation, Site
from matchmaker.models import utcnow
from matchmaker.register.models import Area
from matchmaker.web.exports import Id, csv_text

#: Columns never handed out, not even to the data subject (secrets, not data about them).
SECRET_COLUMNS = {"password_hash", "session_version", "nonce", "token_hash"}
#: An erased site moves within the grid cell of this size around it (metres, RD New).
ERASED_CELL_M = 250.0


def _rows(model: Any, condition: Any, *, typed: bool = False) -> list[dict[str, Any]]:
    """Rows as JSON-ready values, or (``typed``) as stored: numbers, moments, enums."""
    table = model.__table__
    result = db.session.execute(sa.select(table).where(condition).order_by(*table.primary_key))
    return [{k: v for k, v in (dict(row) if typed else encode_row(table, row)).items()
             if k not in SECRET_COLUMNS} for row in result.mappings()]


def organisation_data(org: Organisation, *, typed: bool = False
                      ) -> dict[str, list[dict[str, Any]]]:
    """Everything the service holds about ``org``, table by table (JSON-ready values, or the
    stored types with ``typed``)."""
    site_ids = [s.id for s in org.sites]
    user_ids = [u.id for u in org.users]
    demand_ids = [d.id for s in org.sites for d in s.demands]
    participation_ids = list(db.session.scalars(
        sa.select(Participation.id).where(Participation.site_id.in_(site_ids))))
    own_object_ids = ([("organisations", str(org.id))] + [("sites", str(i)) for i in site_ids]
                      + [("demands", str(i)) for i in demand_ids]
                      + [("users", str(i)) for i in user_ids])
    audit = sa.or_(
        AuditLog.actor_id.in_(user_ids),
        *[sa.and_(AuditLog.object_type == t, AuditLog.object_id == i) for t, i in own_object_ids],
    )
    def rows(model: Any, condition: Any) -> list[dict[str, Any]]:
        return _rows(model, condition, typed=typed)

    data = {
        "organisation": rows(Organisation, Organisation.id == org.id),
        "users": rows(User, User.id.in_(user_ids)),
        "sites": rows(Site, Site.id.in_(site_ids)),
        "demand": rows(Demand, Demand.id.in_(demand_ids)),
        "provider_consents": rows(ProviderConsent, ProviderConsent.demand_id.in_(demand_ids)),
        "energy": rows(EnergyAsset, EnergyAsset.site_id.in_(site_ids)),
        "grid_connections": rows(GridConnection, GridConnection.site_id.in_(site_ids)),
        "expansion_plans": rows(ExpansionPlan, ExpansionPlan.site_id.in_(site_ids)),
        "hub_consents": rows(HubSite, HubSite.site_id.in_(site_ids)),
        "participations": rows(Participation, Participation.id.in_(participation_ids)),
        "offers": rows(Offer, Offer.participation_id.in_(participation_ids)),
        "audit_log": rows(AuditLog, audit),
        "mail": rows(Outbox, Outbox.recipient.in_([u.email for u in org.users])),
    }
    # Matches: our side and the distance only; the partner is someone else's data.
    data["energy_matches"] = [
        {"run_id": m.run_id, "our_site_id": m.producer_site_id if m.producer_site_id in site_ids
         else m.consumer_site_id, "role": "supplies" if m.producer_site_id in site_ids
         else "receives", "kwh_per_year": m.kwh, "distance_m": round(m.distance_m)}
        for m in db.session.scalars(sa.select(Match).where(sa.or_(
            Match.producer_site_id.in_(site_ids), Match.consumer_site_id.in_(site_ids))))
    ]
    for row in data["energy"]:
        row.pop("measured_kwh", None)  # 8760 binary values; summarised in measured_info
    for row in data["grid_connections"]:
        row.pop("quarter_take", None)  # 35,040 binary values each; summarised in metered_info
        row.pop("quarter_feed", None)
    return data


def export_archive(org: Organisation) -> bytes:
    """A ZIP with ``data.json`` (everything) and one CSV per table, for a Dutch spreadsheet
    (the service's one CSV writer: decimal comma under semicolons, Dutch time)."""
    data = organisation_data(org)
    typed = organisation_data(org, typed=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps({
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"), **data,
        }, ensure_ascii=False, indent=2, default=str))
        for name, rows in typed.items():
            columns = list(rows[0]) if rows else []
            archive.writestr(f"{name}.csv", csv_text(columns, (
                [_cell(c, r.get(c)) for c in columns] for r in rows)))
    return buffer.getvalue()


#: Columns holding identifiers with leading zeros (BAG ids, KvK numbers): text in the CSV.
_ID_COLUMNS = re.compile(r"(^|_)(bag_id|kvk_number|address_id)$")


def _cell(column: str, value: Any) -> Any:
    if isinstance(value, bytes):  # series stored as binary are summarised in data.json
        return f"({len(value)} bytes)"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and _ID_COLUMNS.search(column):
        return Id(value)
    return value


def erase_organisation(org: Organisation, *, actor: User) -> None:
    """Remove the organisation's personal data; keep its anonymous volumes (see module doc)."""
    if org.erased_at is not None:
        raise Conflict(N_("This organisation has been erased already."))
    record(actor, "organisation.erase", org)
    emails = [u.email for u in org.users]
    for user in org.users:
        user.email = f"verwijderd-{user.id}@invalid.example"
        user.name = ""
        user.active = False
        user.password_hash = hash_password(secrets.token_urlsafe(32))
        end_sessions(user)
    site_ids = [s.id for s in org.sites]
    for site in org.sites:
        site.label = ""
        site.street = ""
        site.city = ""
        site.addition = ""
        site.bag_id = None
        site.house_number = site.id  # keeps the per-organisation uniqueness, names no door
        site.postcode = site.postcode[:4] + " XX"
        site.grid_connection = None
        site.x, site.y = _coarse_location(site)
        db.session.execute(sa.update(FibreSnapshotUnit).where(
            FibreSnapshotUnit.demand_id.in_(sa.select(Demand.id).where(Demand.site_id == site.id))
        ).values(unit_key=f"site-{site.id}", x=site.x, y=site.y))
    db.session.execute(sa.delete(ProviderConsent).where(ProviderConsent.demand_id.in_(
        sa.select(Demand.id).where(Demand.site_id.in_(site_ids)))))
    db.session.execute(sa.update(EnergyAsset).where(EnergyAsset.site_id.in_(site_ids))
                       .values(measured_kwh=None, measured_info=None, share_name=False))
    db.session.execute(sa.update(GridConnection).where(GridConnection.site_id.in_(site_ids))
                       .values(quarter_take=None, quarter_feed=None, metered_info=None))
    db.session.execute(sa.update(ExpansionPlan).where(ExpansionPlan.site_id.in_(site_ids))
                       .values(note=""))
    db.session.execute(sa.update(HubSite).where(HubSite.site_id.in_(site_ids))
                       .values(consent_profile=False, consent_name=False))
    db.session.execute(sa.update(Demand).where(Demand.site_id.in_(site_ids)).values(note=""))
    _stop_counting(site_ids)
    db.session.execute(sa.delete(OwnerConsentToken).where(OwnerConsentToken.participation_id.in_(
        sa.select(Participation.id).where(Participation.site_id.in_(site_ids)))))
    own = {"organisations": [org.id], "sites": site_ids, "users": [u.id for u in org.users]}
    db.session.execute(sa.update(AuditLog).where(sa.or_(*[
        sa.and_(AuditLog.object_type == kind, AuditLog.object_id.in_([str(i) for i in ids]))
        for kind, ids in own.items()
    ])).values(detail={}))
    db.session.execute(sa.delete(Outbox).where(Outbox.recipient.in_(emails),
                                               Outbox.sent_at.is_(None)))
    db.session.execute(sa.update(Outbox).where(Outbox.recipient.in_(emails))
                       .values(recipient="verwijderd@invalid.example", body_text="",
                               body_html=None))
    org.name = f"Verwijderd lid {org.id}"
    org.kvk_number = f"X{org.id:07d}"[:8]
    org.contact_name = org.contact_email = org.contact_phone = ""
    org.erased_at = utcnow()
    db.session.flush()


def _stop_counting(site_ids: list[int]) -> None:
    """An erased organisation is gone: from now on nothing of it counts. Its demand is
    withdrawn, its registrations in running group buys are withdrawn and its open or accepted
    offers there lapse (nobody could deliver to it). What was counted before — snapshots,
    contracted and cancelled group buys — stays as it was."""
    db.session.execute(sa.update(Demand).where(Demand.site_id.in_(site_ids))
                       .values(stage=Stage.WITHDRAWN))
    running = sa.select(Campaign.id).where(Campaign.state.in_(
        [CampaignState.DRAFT, CampaignState.OPEN, CampaignState.BIDDING, CampaignState.OFFERED]))
    participations = sa.select(Participation.id).where(
        Participation.site_id.in_(site_ids), Participation.campaign_id.in_(running))
    db.session.execute(sa.update(Offer).where(
        Offer.participation_id.in_(participations),
        Offer.status.in_([OfferStatus.PENDING, OfferStatus.ACCEPTED]))
        .values(status=OfferStatus.LAPSED))
    db.session.execute(sa.update(Participation).where(Participation.id.in_(participations))
                       .values(state=ParticipationState.WITHDRAWN))


def _coarse_location(site: Site) -> tuple[float, float]:
    """The erased site's new point: same areas and fibre regions, no building (see module doc)."""
    minx, miny, maxx, maxy = grid_cell(site.x, site.y, ERASED_CELL_M).bounds
    polygons = [
        shape.geometry
        for model in (Area, FibreRegion)
        for shape in db.session.scalars(sa.select(model).where(
            model.minx <= maxx, model.maxx >= minx, model.miny <= maxy, model.maxy >= miny))
    ]
    return coarsen_point(site.x, site.y, polygons, cell_m=ERASED_CELL_M)


def purge_expired(*, audit_days: int, mail_days: int, now: datetime | None = None
                  ) -> dict[str, int]:
    """Delete audit entries and sent e-mail older than the retention periods (0: keep)."""
    now = now or utcnow()
    counts = {"audit_log": 0, "outbox": 0}
    if audit_days > 0:
        counts["audit_log"] = db.session.execute(
            sa.delete(AuditLog).where(AuditLog.at < now - timedelta(days=audit_days))
        ).rowcount or 0
    if mail_days > 0:
        counts["outbox"] = db.session.execute(
            sa.delete(Outbox).where(Outbox.sent_at.is_not(None),
                                    Outbox.sent_at < now - timedelta(days=mail_days))
        ).rowcount or 0
    return counts
