"""Energy per site (PV, electricity use, heat) and the runs that match producers with consumers."""

from __future__ import annotations

from datetime import datetime
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

    def hourly_profile(self, mode: str) -> np.ndarray:
        """The uploaded meter data aggregated to the steps of ``mode``."""
        from geo.profiles import aggregate

        hourly = self.hourly
        assert hourly is not None
        return aggregate(hourly, mode=mode)

    @hourly.setter
    def hourly(self, values: np.ndarray | None) -> None:
        if values is None:
            self.measured_kwh = None
            return
        array = np.asarray(values, dtype="<f4")
        if array.shape != (HOURS_PER_YEAR,):
            raise ValueError("meter data must cover the 8760 hours of the reference year")
        self.measured_kwh = array.tobytes()


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
    # The members' what-ifs were computed with the run (False for runs made before they were):
    # the members' page then shows the matches without them.
    explained: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    matches: Mapped[list[Match]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="Match.kwh.desc()"
    )
    what_ifs: Mapped[list[MatchWhatIf]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
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


class MatchWhatIf(db.Model):
    """What would help one site in a run, computed when the run finished: more matched kWh
    per year with ``extra_kwp`` more PV, and with ``shift_share`` of its use moved to the day
    (both stored in the run's parameters). None where the question does not apply (no use to
    move, or yearly amounts, which have no time of day)."""

    __tablename__ = "match_what_ifs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("match_runs.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"),
                                         index=True)
    extra_pv_kwh: Mapped[float | None]
    shift_kwh: Mapped[float | None]

    run: Mapped[MatchRun] = relationship(back_populates="what_ifs")

    __table_args__ = (sa.UniqueConstraint("run_id", "site_id"),)
