from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column
from matchmaker.types import UTCDateTime

if TYPE_CHECKING:
    from matchmaker.auth.models import User
    from matchmaker.demand.models import Demand
    from matchmaker.register.models import Area


class LegalForm(StrEnum):
    BV = "bv"
    NV = "nv"
    VOF = "vof"
    CV = "cv"
    SOLE_TRADER = "eenmanszaak"
    PARTNERSHIP = "maatschap"
    FOUNDATION = "stichting"
    ASSOCIATION = "vereniging"
    COOPERATIVE = "cooperatie"
    OTHER = "other"


class Tenure(StrEnum):
    OWNER = "owner"
    TENANT = "tenant"


class LocationSource(StrEnum):
    REGISTER = "register"  # geocoded from the address register
    MAP = "map"  # placed on the map by the member


ENERGY_LABELS = ("A++++", "A+++", "A++", "A+", "A", "B", "C", "D", "E", "F", "G")


class Organisation(TimestampMixin, db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Eight digits, kept as text: KvK numbers may start with 0.
    kvk_number: Mapped[str] = mapped_column(sa.String(8), unique=True)
    kring_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("areas.id", ondelete="SET NULL"), index=True
    )
    legal_form: Mapped[LegalForm] = mapped_column(enum_column(LegalForm, "legal_form"))
    contact_name: Mapped[str] = mapped_column(sa.String(120), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    # Set when the organisation asked to be forgotten: personal data is gone, the aggregate
    # history (demand volumes, group buys) stays correct.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    kring: Mapped[Area | None] = relationship()
    users: Mapped[list[User]] = relationship(back_populates="organisation")
    sites: Mapped[list[Site]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan",
        foreign_keys="Site.organisation_id", order_by="Site.id",
    )

    @property
    def is_sole_trader(self) -> bool:
        """A sole trader's business address is personal data (AVG)."""
        return self.legal_form == LegalForm.SOLE_TRADER


class Site(TimestampMixin, db.Model):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(120), default="")
    postcode: Mapped[str] = mapped_column(sa.String(7))
    house_number: Mapped[int]
    addition: Mapped[str] = mapped_column(sa.String(10), default="")
    street: Mapped[str] = mapped_column(sa.String(200), default="")
    city: Mapped[str] = mapped_column(sa.String(100), default="")
    bag_id: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    # RD New (EPSG:28992) metres; WGS84 is derived for maps.
    x: Mapped[float]
    y: Mapped[float]
    location_source: Mapped[LocationSource] = mapped_column(
        enum_column(LocationSource, "location_source")
    )
    floor_area_m2: Mapped[float | None]
    office_area_m2: Mapped[float | None]
    flat_roof_area_m2: Mapped[float | None]
    energy_label: Mapped[str | None] = mapped_column(sa.String(5))
    year_built: Mapped[int | None]
    tenure: Mapped[Tenure] = mapped_column(enum_column(Tenure, "tenure"), default=Tenure.OWNER)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    grid_connection: Mapped[str | None] = mapped_column(sa.String(20))
    grid_kva: Mapped[float | None]

    organisation: Mapped[Organisation] = relationship(
        back_populates="sites", foreign_keys=[organisation_id]
    )
    owner_organisation: Mapped[Organisation | None] = relationship(
        foreign_keys=[owner_organisation_id]
    )
    demands: Mapped[list[Demand]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="Demand.product_id"
    )

    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "postcode", "house_number", "addition"),
        # Bounding-box queries: area filters, map tiles, fibre denominators.
        sa.Index("ix_sites_x_y", "x", "y"),
        sa.CheckConstraint(
            "energy_label IS NULL OR energy_label IN "
            "('A++++','A+++','A++','A+','A','B','C','D','E','F','G')",
            name="energy_label",
        ),
        sa.CheckConstraint(
            "(floor_area_m2 IS NULL OR floor_area_m2 >= 0) AND "
            "(office_area_m2 IS NULL OR office_area_m2 >= 0) AND "
            "(flat_roof_area_m2 IS NULL OR flat_roof_area_m2 >= 0)",
            name="areas_not_negative",
        ),
    )

    @property
    def address(self) -> str:
        number = f"{self.house_number}{self.addition and '-' + self.addition}"
        street = f"{self.street} {number}".strip() if self.street else number
        return f"{street}, {self.postcode} {self.city}".strip().rstrip(",")
