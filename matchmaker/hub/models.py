"""Energy hubs: a named set of sites that could share one group transport agreement, each
site's consent, and the analyses of the hub (computed as jobs)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.energy.models import RunStatus
from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column, utcnow
from matchmaker.types import UTCDateTime

if TYPE_CHECKING:
    from matchmaker.auth.models import User
    from matchmaker.members.models import Site
    from matchmaker.register.models import Area


class HubSource(StrEnum):
    PARK = "park"
    KRING = "kring"
    BUNDLE = "bundle"  # the distance bundle around one site
    AREA = "area"  # drawn on the map
    MANUAL = "manual"  # chosen site by site


class PlanOrder(StrEnum):
    WAITING = "waiting"  # who waits longest for the grid operator, then the smaller plan
    SIZE = "size"  # the smaller plan first, then the longer wait
    YEAR = "year"  # the earliest year first, then the smaller plan


class Hub(TimestampMixin, db.Model):
    __tablename__ = "hubs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    source: Mapped[HubSource] = mapped_column(enum_column(HubSource, "hub_source"))
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("areas.id", ondelete="SET NULL"),
                                                index=True)
    # The drawn area, or the hull of a distance bundle (WKB, RD New).
    geometry_wkb: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # Parameters of the analysis.
    curtail_hours: Mapped[float] = mapped_column(default=0.0)
    target_take_kw: Mapped[float | None]
    battery_efficiency: Mapped[float] = mapped_column(default=0.9)
    plan_order: Mapped[PlanOrder] = mapped_column(enum_column(PlanOrder, "plan_order"),
                                                  default=PlanOrder.WAITING)
    max_distance_m: Mapped[float | None]  # the matching to compare with; None: not run

    created_by: Mapped[User | None] = relationship()
    area: Mapped[Area | None] = relationship()
    members: Mapped[list[HubSite]] = relationship(
        back_populates="hub", cascade="all, delete-orphan", order_by="HubSite.site_id")

    __table_args__ = (
        sa.CheckConstraint(
            "curtail_hours >= 0 AND curtail_hours <= 8784"
            " AND (target_take_kw IS NULL OR target_take_kw >= 0)"
            " AND battery_efficiency > 0 AND battery_efficiency <= 1"
            " AND (max_distance_m IS NULL OR max_distance_m > 0)",
            name="parameters",
        ),
    )

    @property
    def geometry(self) -> shapely.Geometry | None:
        return shapely.from_wkb(self.geometry_wkb) if self.geometry_wkb else None


class HubSite(db.Model):
    """A site in a hub, with its organisation's consent: to use its profile in the analysis,
    and to be named in the dossier for the grid operator (otherwise "participant 7")."""

    __tablename__ = "hub_sites"

    hub_id: Mapped[int] = mapped_column(sa.ForeignKey("hubs.id", ondelete="CASCADE"),
                                        primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    consent_profile: Mapped[bool] = mapped_column(default=False)
    consent_name: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    hub: Mapped[Hub] = relationship(back_populates="members")
    site: Mapped[Site] = relationship()


class HubAnalysis(db.Model):
    """One analysis of a hub: its parameters, its numbers (``result``) and the group's profile
    per quarter hour (float32 arrays: take, feed-in, and the extra net load of all expansion
    plans)."""

    __tablename__ = "hub_analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    hub_id: Mapped[int] = mapped_column(sa.ForeignKey("hubs.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus, "hub_analysis_status"),
                                              default=RunStatus.QUEUED)
    progress: Mapped[float] = mapped_column(default=0.0)
    stage: Mapped[str] = mapped_column(sa.String(40), default="")
    error: Mapped[str] = mapped_column(sa.String(500), default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    group_take: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    group_feed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    plans_kw: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    hub: Mapped[Hub] = relationship()

    @staticmethod
    def pack(values: np.ndarray) -> bytes:
        return np.asarray(values, dtype="<f4").tobytes()

    @staticmethod
    def unpack(data: bytes | None) -> np.ndarray | None:
        return None if data is None else np.frombuffer(data, dtype="<f4").astype(np.float64)
