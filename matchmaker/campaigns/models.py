"""Group buys (inkoopacties): campaigns, participations, bids with tiers, offers, consent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.demand.models import quantity_range_checks
from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column, utcnow
from matchmaker.types import ScaledDecimal, UTCDateTime

if TYPE_CHECKING:
    from matchmaker.auth.models import User
    from matchmaker.demand.models import Product
    from matchmaker.members.models import Organisation, Site
    from matchmaker.register.models import Area

QUANTITY_SCALE = 3  # as Demand: kWp, m², connections, MWh/yr with up to 3 decimals
UNIT_PRICE_SCALE = 4  # euros per unit with 4 decimals (€ 0.9512 per Wp-scale prices)
MONEY_SCALE = 2  # totals in cents


class CampaignState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    BIDDING = "bidding"
    OFFERED = "offered"
    CONTRACTED = "contracted"
    CANCELLED = "cancelled"


class InviteBy(StrEnum):
    AREA = "area"  # every member organisation with a site in the areas
    DEMAND = "demand"  # members who registered demand for the product at a site in the areas
    LABEL_C = "label_c"  # sites in the areas flagged "label C required"


class ParticipationState(StrEnum):
    REGISTERED = "registered"
    WITHDRAWN = "withdrawn"


class ConsentAnswer(StrEnum):
    """The building owner's answer through a consent link."""

    AGREED = "agreed"
    DECLINED = "declined"
    NOT_OWNER = "not_owner"  # "this is not my building"


class BidStatus(StrEnum):
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    AWARDED = "awarded"
    REJECTED = "rejected"


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"  # no decision by the end of the window


campaign_areas = sa.Table(
    "campaign_areas",
    db.metadata,
    sa.Column("campaign_id", sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("area_id", sa.ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True),
)


class Campaign(TimestampMixin, db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    coordinator_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[CampaignState] = mapped_column(
        enum_column(CampaignState, "campaign_state"), default=CampaignState.DRAFT, index=True
    )
    registration_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    # The decision window: offers stay open this many days after the award.
    decision_days: Mapped[int] = mapped_column(default=14)
    decision_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Go/no-go: minimum total quantity and/or minimum number of sites (at least one is set).
    threshold_quantity: Mapped[Decimal | None] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    threshold_sites: Mapped[int | None]
    capacity_quantity: Mapped[Decimal | None] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    allow_late_joiners: Mapped[bool] = mapped_column(default=False)
    invite_by: Mapped[InviteBy] = mapped_column(enum_column(InviteBy, "invite_by"),
                                                default=InviteBy.AREA)
    # A polygon drawn by the coordinator, WKB in RD New (in addition to the areas).
    geometry_wkb: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    threshold_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bidding_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bids are accepted until then (set when bidding starts; suppliers see it).
    bidding_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    # Set at the go decision: the accepted volume and the tier it reached.
    final_volume: Mapped[Decimal | None] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    final_unit_price: Mapped[Decimal | None] = mapped_column(ScaledDecimal(UNIT_PRICE_SCALE))

    product: Mapped[Product] = relationship(lazy="joined")
    coordinator: Mapped[User | None] = relationship()
    areas: Mapped[list[Area]] = relationship(secondary=campaign_areas, order_by="Area.name")
    tiers: Mapped[list[CampaignTier]] = relationship(
        cascade="all, delete-orphan", order_by="CampaignTier.min_volume"
    )
    participations: Mapped[list[Participation]] = relationship(
        back_populates="campaign", order_by="Participation.id", passive_deletes=True
    )
    bids: Mapped[list[Bid]] = relationship(back_populates="campaign", order_by="Bid.id",
                                           passive_deletes=True)
    supplier_invitations: Mapped[list[SupplierInvitation]] = relationship(
        cascade="all, delete-orphan", order_by="SupplierInvitation.invited_at"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "threshold_quantity IS NOT NULL OR threshold_sites IS NOT NULL", name="has_threshold"
        ),
        sa.CheckConstraint(
            "(threshold_quantity IS NULL OR threshold_quantity > 0) AND "
            "(threshold_sites IS NULL OR threshold_sites > 0) AND "
            "(capacity_quantity IS NULL OR capacity_quantity > 0)",
            name="positive_limits",
        ),
        sa.CheckConstraint("decision_days BETWEEN 1 AND 90", name="decision_days"),
    )

    @property
    def geometry(self) -> shapely.Geometry | None:
        return shapely.from_wkb(self.geometry_wkb) if self.geometry_wkb else None

    @property
    def awarded_bid(self) -> Bid | None:
        return next((b for b in self.bids if b.status == BidStatus.AWARDED), None)

    @property
    def supplier_ids(self) -> set[int]:
        return {inv.user_id for inv in self.supplier_invitations}

    @property
    def is_closed(self) -> bool:
        return self.state in (CampaignState.CONTRACTED, CampaignState.CANCELLED)


class TierColumns:
    """One price tier: from ``min_volume`` on, ``unit_price`` per unit (pricing.Tier)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    min_volume: Mapped[Decimal] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    unit_price: Mapped[Decimal] = mapped_column(ScaledDecimal(UNIT_PRICE_SCALE))


class CampaignTier(TierColumns, db.Model):
    """Indicative price tiers shown to members before bids are in (e.g. from a market scan)."""

    __tablename__ = "campaign_tiers"

    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "min_volume"),
        sa.CheckConstraint("min_volume >= 0 AND unit_price > 0", name="tier_values"),
    )


class CampaignInvitation(db.Model):
    """A member organisation invited when the campaign opened (by area, demand or label C)."""

    __tablename__ = "campaign_invitations"

    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SupplierInvitation(db.Model):
    """A supplier (a user with role provider) invited to bid on a campaign."""

    __tablename__ = "campaign_suppliers"

    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class Participation(TimestampMixin, db.Model):
    """A site in a campaign: the registered quantity (non-binding until the offer is accepted).

    One row per campaign and site, enforced by a UNIQUE constraint; withdrawing keeps the row.
    """

    __tablename__ = "participations"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"),
                                         index=True)
    quantity: Mapped[Decimal] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    quantity_min: Mapped[Decimal | None] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    quantity_max: Mapped[Decimal | None] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    state: Mapped[ParticipationState] = mapped_column(
        enum_column(ParticipationState, "participation_state"),
        default=ParticipationState.REGISTERED,
    )
    # Joined after the registration deadline, with the coordinator's permission.
    late: Mapped[bool] = mapped_column(default=False)
    # The database's clock at the (last) registration, not the browser's or the app server's.
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    owner_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner_consent_by: Mapped[str] = mapped_column(sa.String(254), default="")
    owner_consent_via: Mapped[str] = mapped_column(sa.String(10), default="")
    # A member owner's "no" in the service (a ConsentAnswer: declined or not_owner), when and
    # by whom; answers through a link are on the link (OwnerConsentToken).
    owner_answer: Mapped[str] = mapped_column(sa.String(12), default="", server_default="")
    owner_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner_answer_by: Mapped[str] = mapped_column(sa.String(254), default="", server_default="")

    campaign: Mapped[Campaign] = relationship(back_populates="participations")
    site: Mapped[Site] = relationship()
    offer: Mapped[Offer | None] = relationship(back_populates="participation", uselist=False,
                                               passive_deletes=True)

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "site_id"),
        *quantity_range_checks(),
    )

    @property
    def organisation(self) -> Organisation:
        return self.site.organisation

    @property
    def active(self) -> bool:
        return self.state == ParticipationState.REGISTERED


class OwnerConsentToken(db.Model):
    """A one-time link sent to a building owner who is not a member; used at most once.

    ``used_at`` is when the owner answered and ``answer`` what (a :class:`ConsentAnswer`;
    empty while the request waits)."""

    __tablename__ = "owner_consent_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(254))
    nonce: Mapped[str] = mapped_column(sa.String(43), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str] = mapped_column(sa.String(12), default="", server_default="")

    participation: Mapped[Participation] = relationship()


class Bid(TimestampMixin, db.Model):
    """A supplier's tiered bid: unit price per volume tier, fixed cost per site, validity."""

    __tablename__ = "bids"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    supplier_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                             index=True)
    status: Mapped[BidStatus] = mapped_column(enum_column(BidStatus, "bid_status"),
                                              default=BidStatus.SUBMITTED)
    fixed_cost_per_site: Mapped[Decimal] = mapped_column(ScaledDecimal(MONEY_SCALE),
                                                         default=Decimal(0))
    conditions: Mapped[str] = mapped_column(sa.Text, default="")
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="bids")
    supplier: Mapped[User] = relationship()
    tiers: Mapped[list[BidTier]] = relationship(
        cascade="all, delete-orphan", order_by="BidTier.min_volume", passive_deletes=True
    )

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "supplier_id"),
        sa.CheckConstraint("fixed_cost_per_site >= 0", name="fixed_cost_not_negative"),
    )


class BidTier(TierColumns, db.Model):
    __tablename__ = "bid_tiers"

    bid_id: Mapped[int] = mapped_column(sa.ForeignKey("bids.id", ondelete="CASCADE"), index=True)

    __table_args__ = (
        sa.UniqueConstraint("bid_id", "min_volume"),
        sa.CheckConstraint("min_volume >= 0 AND unit_price > 0", name="tier_values"),
    )


class Offer(TimestampMixin, db.Model):
    """A participant's personal offer from the awarded bid; accepting it is binding."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participations.id", ondelete="CASCADE"), unique=True
    )
    bid_id: Mapped[int] = mapped_column(sa.ForeignKey("bids.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(ScaledDecimal(QUANTITY_SCALE))
    # At the tier the registered volume reaches, and at the threshold (the worst case).
    unit_price: Mapped[Decimal] = mapped_column(ScaledDecimal(UNIT_PRICE_SCALE))
    worst_unit_price: Mapped[Decimal] = mapped_column(ScaledDecimal(UNIT_PRICE_SCALE))
    fixed_cost: Mapped[Decimal] = mapped_column(ScaledDecimal(MONEY_SCALE))
    total: Mapped[Decimal] = mapped_column(ScaledDecimal(MONEY_SCALE))
    worst_total: Mapped[Decimal] = mapped_column(ScaledDecimal(MONEY_SCALE))
    # Solar only: estimated yearly yield and savings (configured yield and electricity price).
    yearly_yield_kwh: Mapped[Decimal | None] = mapped_column(ScaledDecimal(0))
    yearly_savings: Mapped[Decimal | None] = mapped_column(ScaledDecimal(MONEY_SCALE))
    status: Mapped[OfferStatus] = mapped_column(enum_column(OfferStatus, "offer_status"),
                                                default=OfferStatus.PENDING)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Set at the go decision: everyone pays the tier reached by the accepted volume.
    final_unit_price: Mapped[Decimal | None] = mapped_column(ScaledDecimal(UNIT_PRICE_SCALE))
    final_total: Mapped[Decimal | None] = mapped_column(ScaledDecimal(MONEY_SCALE))

    participation: Mapped[Participation] = relationship(back_populates="offer")
    bid: Mapped[Bid] = relationship()
