"""Energy per site (PV, electricity use, heat) and the runs that match producers with consumers."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column, utcnow
from matchmaker.types import UTCDateTime

if TYPE_CHECKING:
    from matchmaker.members.models import Site

HOURS_PER_YEAR = 8760


class AssetKind(StrEnum):
    PV = "pv"
    CONSUMPTION = "consumption"
    HEAT_SOURCE = "heat_source"
    HEAT_SINK = "heat_sink"


class ProfileSource(StrEnum):
    ESTIMATED = "estimated"  # a standard shape scaled to a yearly amount
    MEASURED = "measured"  # uploaded meter data


class EnergyAsset(TimestampMixin, db.Model):
    """One kind of energy at one site: a PV installation, the electricity use, heat.

    Electricity in kWh per year (``annual_kwh``), heat in MWh per year (``annual_mwh``).
    Uploaded meter data is kept as the 8760 hours of the reference year (float32 kWh).
    """

    __tablename__ = "energy_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AssetKind] = mapped_column(enum_column(AssetKind, "asset_kind"))
    annual_kwh: Mapped[float | None]
    annual_mwh: Mapped[float | None]
    capacity_kw: Mapped[float | None]  # kWp for PV, kW for a heat source
    planned: Mapped[bool] = mapped_column(default=False)  # PV sized from the flat roof
    tilt_deg: Mapped[float | None]
    azimuth_deg: Mapped[float | None]
    profile_category: Mapped[str] = mapped_column(sa.String(4), default="g0")
    feed_in_limit_kw: Mapped[float | None]
    temperature_c: Mapped[float | None]
    months_available: Mapped[int | None]  # heat sources: bit 0 = January ... bit 11 = December
    gas_m3: Mapped[float | None]  # heat sinks: yearly gas use the demand was derived from
    # Consent to be named to matching partners (otherwise "a company at 350 m").
    share_name: Mapped[bool] = mapped_column(default=False)
    source: Mapped[ProfileSource] = mapped_column(
        enum_column(ProfileSource, "profile_source"), default=ProfileSource.ESTIMATED
    )
    measured_kwh: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    measured_info: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    site: Mapped[Site] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("site_id", "kind"),
        sa.CheckConstraint(
            "(annual_kwh IS NULL OR annual_kwh >= 0) AND (annual_mwh IS NULL OR annual_mwh >= 0)"
            " AND (capacity_kw IS NULL OR capacity_kw >= 0)"
            " AND (feed_in_limit_kw IS NULL OR feed_in_limit_kw >= 0)",
            name="amounts_not_negative",
        ),
    )

    @property
    def hourly(self) -> np.ndarray | None:
        if self.measured_kwh is None:
            return None
        return np.frombuffer(self.measured_kwh, dtype="<f4").astype(np.float64)

    @hourly.setter
    def hourly(self, values: np.ndarray | None) -> None:
        if values is None:
            self.measured_kwh = None
            return
        array = np.asarray(values, dtype="<f4")
        if array.shape != (HOURS_PER_YEAR,):
            raise ValueError("meter data must cover the 8760 hours of the reference year")
        self.measured_kwh = array.tobytes()

    def hourly_profile(self, mode: str) -> np.ndarray:
        """The uploaded meter data aggregated to the steps of ``mode``."""
        from geo.profiles import aggregate

        hourly = self.hourly
        assert hourly is not None
        return aggregate(hourly, mode=mode)


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MatchRun(db.Model):
    """One matching of producers with consumers, with its parameters and certificate."""

    __tablename__ = "match_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus, "run_status"),
                                              default=RunStatus.QUEUED)
    progress: Mapped[float] = mapped_column(default=0.0)
    stage: Mapped[str] = mapped_column(sa.String(40), default="")
    mode: Mapped[str] = mapped_column(sa.String(20))
    max_distance_m: Mapped[float]
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    n_producers: Mapped[int | None]
    n_consumers: Mapped[int | None]
    matched_kwh: Mapped[float | None]
    surplus_kwh: Mapped[float | None]
    demand_kwh: Mapped[float | None]
    energy_distance_kwh_m: Mapped[float | None]
    certificate: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    seconds: Mapped[float | None]
    error: Mapped[str] = mapped_column(sa.String(500), default="")

    matches: Mapped[list[Match]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="Match.kwh.desc()"
    )


class Match(db.Model):
    """A producer that supplies a consumer in a run: kWh per year over a distance."""

    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("match_runs.id", ondelete="CASCADE"),
                                        index=True)
    producer_site_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    consumer_site_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kwh: Mapped[float]
    distance_m: Mapped[float]
    hours: Mapped[float | None]  # hours per year in which the pair shares energy
    # kWh per year by local clock hour (24 values): when the producer supplies this consumer.
    by_hour: Mapped[list[float] | None] = mapped_column(sa.JSON)

    run: Mapped[MatchRun] = relationship(back_populates="matches")


# --- energy hubs: the grid connection of a site ------------------------------------------------

#: Quarter hours of the reference year (geo.hub_profiles.quarter_hours): 365 x 96.
QUARTER_HOURS_PER_YEAR = 35_040


class GridConnection(TimestampMixin, db.Model):
    """A site's grid contract, its quarter-hour metering and how flexible its use is.

    Metered take and feed-in are kept apart, as kWh per quarter hour of the reference year
    (float32, laid on it by local date and clock time, ``geo.hub_profiles.to_reference_year``).
    Without metering an energy hub uses the site's estimated profile (``EnergyAsset``).
    """

    __tablename__ = "grid_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"),
                                         unique=True)
    # The transport capacity contracted with the grid operator (kW), take and feed-in.
    contracted_take_kw: Mapped[float | None]
    contracted_feed_kw: Mapped[float | None]
    quarter_take: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    quarter_feed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    metered_info: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # Share of each day's use that may move within the window (local clock hours).
    shiftable_share: Mapped[float] = mapped_column(default=0.0)
    shift_start_hour: Mapped[int | None]
    shift_end_hour: Mapped[int | None]

    site: Mapped[Site] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(contracted_take_kw IS NULL OR contracted_take_kw >= 0)"
            " AND (contracted_feed_kw IS NULL OR contracted_feed_kw >= 0)",
            name="contracts_not_negative",
        ),
        sa.CheckConstraint(
            "shiftable_share >= 0 AND shiftable_share <= 1 AND (shiftable_share = 0 OR ("
            "shift_start_hour IS NOT NULL AND shift_end_hour IS NOT NULL"
            " AND shift_start_hour >= 0 AND shift_end_hour <= 24"
            " AND shift_start_hour < shift_end_hour))",
            name="shift_window",
        ),
    )

    @staticmethod
    def _series(data: bytes | None) -> np.ndarray | None:
        if data is None:
            return None
        return np.frombuffer(data, dtype="<f4").astype(np.float64)

    @property
    def metered(self) -> bool:
        return self.quarter_take is not None

    def quarter_hours(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Metered take and feed-in (kWh per reference quarter hour), or None."""
        take, feed = self._series(self.quarter_take), self._series(self.quarter_feed)
        if take is None or feed is None:
            return None
        return take, feed

    def set_quarter_hours(self, take: np.ndarray | None, feed: np.ndarray | None) -> None:
        if take is None or feed is None:
            self.quarter_take = self.quarter_feed = None
            return
        for values in (take, feed):
            if np.shape(values) != (QUARTER_HOURS_PER_YEAR,):
                raise ValueError("metering must cover the 35,040 quarter hours of the year")
        self.quarter_take = np.asarray(take, dtype="<f4").tobytes()
        self.quarter_feed = np.asarray(feed, dtype="<f4").tobytes()


class ExpansionKind(StrEnum):
    TRUCKS = "trucks"  # charging electric trucks or vans
    HEAT_PUMP = "heat_pump"
    PROCESS = "process"  # a machine, a production line, cooling
    SOLAR = "solar"
    OTHER = "other"


class Direction(StrEnum):
    TAKE = "take"  # more taken from the grid
    FEED = "feed"  # more fed into the grid


class ExpansionPlan(TimestampMixin, db.Model):
    """Extra take or feed-in a site plans from a year on, with its daily shape, and since when
    it waits for the grid operator (the coordinator's order of who goes first)."""

    __tablename__ = "expansion_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[ExpansionKind] = mapped_column(enum_column(ExpansionKind, "expansion_kind"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "expansion_direction"))
    kw: Mapped[float]
    from_year: Mapped[int]
    shape: Mapped[str] = mapped_column(sa.String(12))  # geo.hub_profiles.SHAPES
    waiting_since: Mapped[date | None] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.String(200), default="")

    site: Mapped[Site] = relationship()

    __table_args__ = (
        sa.CheckConstraint("kw > 0 AND from_year BETWEEN 2000 AND 2100", name="plan_values"),
    )
