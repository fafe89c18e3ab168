"""Group buys from first interest to contract: every state change is a function here.

Lifecycle (DESIGN.md): ``draft → open → bidding → offered → contracted``, and ``cancelled``
from any state before ``contracted``. Each transition checks its guards (state, role, dates,
threshold), raises ``ServiceError``/``Conflict`` with a message id when refused, writes an audit
entry and queues the e-mail it implies. Services flush; the edge commits.

Integrity under concurrency:

- one participation per campaign and site: a UNIQUE constraint, and ``INSERT ... ON CONFLICT
  DO NOTHING`` so a double click never fails with an error page;
- whether registration is still open is part of the INSERT/UPDATE statement (``WHERE
  registration_deadline > db_now()``): the database's clock decides, not the browser's or the
  app server's;
- joins of one campaign are serialised on the campaign row (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite's write transactions are serial anyway), so the capacity check and the
  "threshold reached" e-mail see every committed participation;
- totals are never stored: they are computed from the participation rows.

The package is split by concern (``queries``, ``progress``, ``setup``, ``transitions``,
``participation``, ``consent``, ``aggregates``, ``bids``, ``handoff``, ``reminders``; ``notify`` and
``common`` are shared); this module re-exports what the edges use.
"""

from __future__ import annotations

from matchmaker.campaigns.services.aggregates import (
    AreaAggregate,
    BundleRow,
    area_aggregates,
    bundle_rows,
)
from matchmaker.campaigns.services.bids import (
    BidColumn,
    Comparison,
    compare_bids,
)
from matchmaker.campaigns.services.common import (
    ACTIVE_STATES,
    CANCELLABLE,
    CONSENT_SALT,
    LATE_JOIN_STATES,
    NO_GO_REASON,
    NO_GO_TIER_REASON,
    SERVICE_REASONS,
    lock_campaign,
    require_staff,
    setting,
)
from matchmaker.campaigns.services.consent import (
    answer_as_member_owner,
    answer_consent_token,
    consent_link_states,
    consent_requests,
    consent_serializer,
    consent_token,
    give_owner_consent,
    mail_member_owner,
    request_owner_consent,
    waiting_consent_requests,
)
from matchmaker.campaigns.services.handoff import (
    handoff,
)
from matchmaker.campaigns.services.participation import (
    join_campaign,
    withdraw_participation,
)
from matchmaker.campaigns.services.progress import (
    AcceptedTotals,
    Progress,
    accepted_for,
    accepted_totals,
    member_volumes,
    progress,
    progress_for,
    progress_for_all,
    progress_of,
    registered_totals,
)
from matchmaker.campaigns.services.queries import (
    MemberCampaign,
    areas_for_choice,
    audit_trail,
    bid_of,
    bids_of,
    campaign_geometry,
    campaigns_for_staff,
    can_register,
    consent_missing,
    demand_for,
    ensure_visible,
    late_joining_possible,
    member_campaign,
    member_campaigns,
    needs_owner_consent,
    participation_of,
    potential,
    providers,
    registration_open,
    sites_in,
    sites_inside,
    supplier_campaigns,
    tiers_of,
    visible_to_supplier,
)
from matchmaker.campaigns.services.reminders import (
    REMINDER_DAYS,
    queue_reminders,
    reminder_step,
)
from matchmaker.campaigns.services.setup import (
    CampaignSettings,
    check_settings,
    create_campaign,
    invite_supplier,
    mail_supplier_invitation,
    organisations_to_invite,
    update_campaign,
    update_open_campaign,
)
from matchmaker.campaigns.services.transitions import (
    accept_offer,
    award_bid,
    cancel_campaign,
    decide,
    decline_offer,
    mail_offer,
    make_offer,
    open_campaign,
    start_bidding,
    submit_bid,
    withdraw_bid,
)

__all__ = [
    "ACTIVE_STATES",
    "CANCELLABLE",
    "CONSENT_SALT",
    "LATE_JOIN_STATES",
    "NO_GO_REASON",
    "NO_GO_TIER_REASON",
    "REMINDER_DAYS",
    "SERVICE_REASONS",
    "AcceptedTotals",
    "AreaAggregate",
    "BidColumn",
    "BundleRow",
    "CampaignSettings",
    "Comparison",
    "MemberCampaign",
    "Progress",
    "accept_offer",
    "accepted_for",
    "accepted_totals",
    "answer_as_member_owner",
    "answer_consent_token",
    "area_aggregates",
    "areas_for_choice",
    "audit_trail",
    "award_bid",
    "bid_of",
    "bids_of",
    "bundle_rows",
    "campaign_geometry",
    "campaigns_for_staff",
    "can_register",
    "cancel_campaign",
    "check_settings",
    "compare_bids",
    "consent_link_states",
    "consent_missing",
    "consent_requests",
    "consent_serializer",
    "consent_token",
    "create_campaign",
    "decide",
    "decline_offer",
    "demand_for",
    "ensure_visible",
    "give_owner_consent",
    "handoff",
    "invite_supplier",
    "join_campaign",
    "late_joining_possible",
    "lock_campaign",
    "mail_member_owner",
    "mail_offer",
    "mail_supplier_invitation",
    "make_offer",
    "member_campaign",
    "member_campaigns",
    "member_volumes",
    "needs_owner_consent",
    "open_campaign",
    "organisations_to_invite",
    "participation_of",
    "potential",
    "progress",
    "progress_for",
    "progress_for_all",
    "progress_of",
    "providers",
    "queue_reminders",
    "registered_totals",
    "registration_open",
    "reminder_step",
    "request_owner_consent",
    "require_staff",
    "setting",
    "sites_in",
    "sites_inside",
    "start_bidding",
    "submit_bid",
    "supplier_campaigns",
    "tiers_of",
    "update_campaign",
    "update_open_campaign",
    "visible_to_supplier",
    "waiting_consent_requests",
    "withdraw_bid",
    "withdraw_participation",
]
