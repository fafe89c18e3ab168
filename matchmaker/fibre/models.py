"""Fibre demand checks: a provider's threshold per area, the regions they are counted in,
denominator exclusions, daily snapshots of fibre demand and what was published from them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.demand.models import Stage
from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column, utcnow
from matchmaker.register.models import PolygonMixin
from matchmaker.types import ScaledDecimal, UTCDateTime

if TYPE_CHECKING:
    from matchmaker.auth.models import User
    from matchmaker.register.models import AddressRecord, Area


class Grouping(StrEnum):
    PER_AREA = "per_area"  # every area decides on its own
    TOGETHER = "together"  # all areas of the check together


class ExclusionReason(StrEnum):
    VACANT = "vacant"
    DEMOLISHED = "demolished"
    CONNECTED = "connected"  # already has fibre
    OTHER = "other"


class FibreRegion(PolygonMixin, db.Model):
    """A polygon that numbers are published for, frozen when first used by a check.

    Regions are shared by checks (two checks over the same park use one region) and never
    change: a re-imported area becomes a new region. Together they partition the map into
    cells; the disclosure rule (``matchmaker/privacy.py``) works on those cells. A region
    joins the partition (``admitted_on``) only when that does not make an earlier published
    number reveal a small group; until then its numbers stay hidden.
    """

    __tablename__ = "fibre_regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    area_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("areas.id", ondelete="SET NULL"), index=True
    )
    geometry_wkb: Mapped[bytes] = mapped_column(sa.LargeBinary)  # RD New
    minx: Mapped[float]
    miny: Mapped[float]
    maxx: Mapped[float]
    maxy: Mapped[float]
    admitted_on: Mapped[date | None] = mapped_column(sa.Date)
    # The day admission was last tried: a region that may not join yet is tried once a day.
    tried_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    area: Mapped[Area | None] = relationship()


class FibreCheck(TimestampMixin, db.Model):
    __tablename__ = "fibre_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Exactly one of the two: a percentage of the counted addresses, or a number of addresses.
    threshold_percent: Mapped[Decimal | None] = mapped_column(ScaledDecimal(2))
    threshold_count: Mapped[int | None]
    # Comma-separated BAG uses that count; empty: every non-residential address.
    counted_uses: Mapped[str] = mapped_column(sa.String(300), default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    grouping: Mapped[Grouping] = mapped_column(enum_column(Grouping, "fibre_grouping"),
                                               default=Grouping.PER_AREA)
    # The day all areas together passed (grouping "together"), for the once-only e-mail.
    passed_on: Mapped[date | None] = mapped_column(sa.Date)

    provider: Mapped[User] = relationship(foreign_keys=[provider_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    check_regions: Mapped[list[FibreCheckRegion]] = relationship(
        back_populates="check", cascade="all, delete-orphan", order_by="FibreCheckRegion.position"
    )
    exclusions: Mapped[list[FibreExclusion]] = relationship(
        back_populates="check", cascade="all, delete-orphan", order_by="FibreExclusion.id"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "(threshold_percent IS NULL) != (threshold_count IS NULL)", name="one_threshold"
        ),
        # Stored scaled by 100 (ScaledDecimal(2)): 10000 is 100 %.
        sa.CheckConstraint(
            "threshold_percent IS NULL OR (threshold_percent > 0 AND threshold_percent <= 10000)",
            name="percent_range",
        ),
        sa.CheckConstraint("threshold_count IS NULL OR threshold_count > 0", name="count_positive"),
    )

    @property
    def regions(self) -> list[FibreRegion]:
        return [cr.region for cr in self.check_regions]

    @property
    def uses(self) -> list[str]:
        return [u for u in self.counted_uses.split(",") if u]


class FibreCheckRegion(db.Model):
    __tablename__ = "fibre_check_regions"

    check_id: Mapped[int] = mapped_column(
        sa.ForeignKey("fibre_checks.id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[int] = mapped_column(
        sa.ForeignKey("fibre_regions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    # The day this area passed (grouping "per area"), for the once-only e-mail.
    passed_on: Mapped[date | None] = mapped_column(sa.Date)

    check: Mapped[FibreCheck] = relationship(back_populates="check_regions")
    region: Mapped[FibreRegion] = relationship(lazy="joined")


class FibreExclusion(db.Model):
    """A register address left out of a check's denominator, with the reason shown openly."""

    __tablename__ = "fibre_exclusions"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(
        sa.ForeignKey("fibre_checks.id", ondelete="CASCADE"), index=True
    )
    address_id: Mapped[str] = mapped_column(
        sa.ForeignKey("address_records.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[ExclusionReason] = mapped_column(
        enum_column(ExclusionReason, "exclusion_reason")
    )
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    check: Mapped[FibreCheck] = relationship(back_populates="exclusions")
    address: Mapped[AddressRecord] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("check_id", "address_id"),)


class FibreSnapshot(db.Model):
    """The fibre demand of one day (Dutch date), one row per signed-up address."""

    __tablename__ = "fibre_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, unique=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the day's admissions, publication and threshold e-mail were done: later page views
    # of the day only read. Cleared when a check changes, so its new areas are decided today.
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FibreSnapshotUnit(db.Model):
    """One address with fibre demand on a snapshot's day: its member, stage and location.

    ``unit_key`` is the BAG id of the site, or ``site-<id>`` for a site without one.
    """

    __tablename__ = "fibre_snapshot_units"

    snapshot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("fibre_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    unit_key: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    organisation_id: Mapped[int]
    demand_id: Mapped[int]
    stage: Mapped[Stage] = mapped_column(enum_column(Stage, "stage"))
    x: Mapped[float]
    y: Mapped[float]


class FibrePublication(db.Model):
    """Whether a region's count for one stage was published on a day, and the count.

    Decided once per day (the day's first page view or ``matchmaker snapshot-fibre``) and
    kept: the disclosure rule compares every new number with all numbers published before.
    """

    __tablename__ = "fibre_publications"

    region_id: Mapped[int] = mapped_column(
        sa.ForeignKey("fibre_regions.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True, index=True)
    stage: Mapped[Stage] = mapped_column(enum_column(Stage, "stage"), primary_key=True)
    published: Mapped[bool]
    count: Mapped[int | None]


class FibreProgressCache(db.Model):
    """What the progress of one check needs beyond the publications, computed once a day
    (:mod:`matchmaker.fibre.progress`): the addresses each area counts by use and the count
    of all areas together per published day. ``basis`` digests the check's regions, their
    admission and its uses; a row of another basis or day is computed again."""

    __tablename__ = "fibre_progress_cache"
    __table_args__ = {"info": {"backup": False, "derived": True}}  # noqa: RUF012

    check_id: Mapped[int] = mapped_column(
        sa.ForeignKey("fibre_checks.id", ondelete="CASCADE"), primary_key=True
    )
    basis: Mapped[str] = mapped_column(sa.String(64))
    day: Mapped[date | None] = mapped_column(sa.Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class FibreProviderCache(db.Model):
    """The days the disclosure rule hides for one provider because it knows members by
    consent (region, stage, day). ``basis`` digests the demands it knows and the latest
    publication; any change of either computes it again at the next view."""

    __tablename__ = "fibre_provider_cache"
    __table_args__ = {"info": {"backup": False, "derived": True}}  # noqa: RUF012

    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    basis: Mapped[str] = mapped_column(sa.String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    hidden: Mapped[list[Any]] = mapped_column(sa.JSON)
