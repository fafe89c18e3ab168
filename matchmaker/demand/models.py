from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column, utcnow
from matchmaker.types import ScaledDecimal, UTCDateTime

if TYPE_CHECKING:
    from matchmaker.auth.models import User
    from matchmaker.members.models import Site


class Product(db.Model):
    """A catalogue row; new products are data (a migration or an admin), not code."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_nl: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    unit: Mapped[str] = mapped_column(sa.String(20))  # Dutch symbol: kWp, m², aansl., MWh/jr
    # The English symbol where it differs (conn., MWh/yr); empty: the same as ``unit``.
    unit_symbol_en: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")
    unit_nl: Mapped[str] = mapped_column(sa.String(40))
    unit_en: Mapped[str] = mapped_column(sa.String(40))
    integer_only: Mapped[bool] = mapped_column(default=False)
    max_quantity: Mapped[Decimal] = mapped_column(ScaledDecimal(3))
    color: Mapped[str] = mapped_column(sa.String(7), default="#555555")
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_nl

    def symbol(self, locale: str) -> str:
        """The unit's symbol in ``locale`` (products are data: each carries both)."""
        return (self.unit_symbol_en or self.unit) if locale == "en" else self.unit

    def unit_label(self, locale: str) -> str:
        return self.unit_en if locale == "en" else self.unit_nl


class Stage(StrEnum):
    INTEREST = "interest"  # non-binding
    COMMITTED = "committed"
    WITHDRAWN = "withdrawn"


def quantity_range_checks() -> tuple[sa.CheckConstraint, ...]:
    """A positive quantity with an optional range around it (demand and participations)."""
    return (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "quantity_min IS NULL OR (quantity_min > 0 AND quantity_min <= quantity)",
            name="min_within_quantity",
        ),
        sa.CheckConstraint(
            "quantity_max IS NULL OR quantity_max >= quantity", name="max_within_quantity"
        ),
    )


class Demand(TimestampMixin, db.Model):
    __tablename__ = "demands"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(ScaledDecimal(3))
    # Flexibility: the range the member would accept in a group buy.
    quantity_min: Mapped[Decimal | None] = mapped_column(ScaledDecimal(3))
    quantity_max: Mapped[Decimal | None] = mapped_column(ScaledDecimal(3))
    stage: Mapped[Stage] = mapped_column(enum_column(Stage, "stage"), default=Stage.INTEREST)
    consent_providers: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    # Optimistic locking: a stale edit is refused with a clear message.
    version: Mapped[int] = mapped_column(default=1)

    site: Mapped[Site] = relationship(back_populates="demands")
    product: Mapped[Product] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads a dict)
    __table_args__ = (
        sa.UniqueConstraint("site_id", "product_id"),
        # The coordinator's table: newest change first, read by index (issue #14).
        sa.Index("ix_demands_updated_at_id", "updated_at", "id"),
        *quantity_range_checks(),
    )


class ProviderConsent(db.Model):
    """A member's consent that one provider may see the company name and address of one
    demand (address-level lists). Withdrawing deletes the row; both are in the audit log.

    ``Demand.consent_providers`` stays as the member's general choice on the demand form:
    ticking it gives consent to every active provider at that moment, unticking withdraws
    every consent of that demand.
    """

    __tablename__ = "provider_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(
        sa.ForeignKey("demands.id", ondelete="CASCADE"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    demand: Mapped[Demand] = relationship()
    provider: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("demand_id", "provider_id"),)


class ParkDemandPublication(db.Model):
    """The registered demand of one product in one business park on one day, as providers may
    see it: decided once by the day's snapshot (``matchmaker snapshot-fibre``) and kept.

    ``state`` holds the volume per member organisation (whole thousandths) of a published day:
    the disclosure rule compares every new number with all numbers published before
    (:func:`matchmaker.disclosure.may_publish`), so a total never moves by one member.
    """

    __tablename__ = "park_demand_publications"

    area_id: Mapped[int] = mapped_column(
        sa.ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    published: Mapped[bool]
    members: Mapped[int | None]
    volume: Mapped[Decimal | None] = mapped_column(ScaledDecimal(3))
    state: Mapped[dict[str, int] | None] = mapped_column(sa.JSON)
