"""The address register (BAG-like) and areas (parks, kringen, postcode areas, neighbourhoods)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column, utcnow
from matchmaker.register.kinds import AreaKind
from matchmaker.types import UTCDateTime

if TYPE_CHECKING:
    import shapely

#: AreaKind lives in a light module (the command line's choices); it is part of this model's API.
__all__ = ["AddressRecord", "Area", "AreaKind", "PolygonMixin"]


class AddressRecord(db.Model):
    __tablename__ = "address_records"

    # BAG verblijfsobject id: 16 digits with leading zeros.
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    postcode: Mapped[str] = mapped_column(sa.String(7))
    house_number: Mapped[int]
    addition: Mapped[str] = mapped_column(sa.String(10), default="")
    street: Mapped[str] = mapped_column(sa.String(200), default="")
    city: Mapped[str] = mapped_column(sa.String(100), default="")
    # Comma-separated BAG gebruiksdoelen, e.g. "kantoorfunctie,industriefunctie".
    use: Mapped[str] = mapped_column(sa.String(200), default="")
    x: Mapped[float]
    y: Mapped[float]
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    __table_args__ = (
        sa.Index("ix_address_records_postcode_number", "postcode", "house_number"),
        sa.Index("ix_address_records_x_y", "x", "y"),  # bounding-box queries (fibre areas)
    )


class PolygonMixin:
    """A polygon stored as WKB in RD New (``geometry_wkb``) with its bounding box (``minx`` ...
    ``maxy``, for quick candidate queries); the model declares those columns."""

    @property
    def geometry(self) -> shapely.Geometry:
        import shapely  # on use: the command line's help must not load it

        return shapely.from_wkb(self.geometry_wkb)

    @geometry.setter
    def geometry(self, geom: shapely.Geometry) -> None:
        import shapely

        self.geometry_wkb = shapely.to_wkb(geom)
        self.minx, self.miny, self.maxx, self.maxy = (float(v) for v in geom.bounds)
        self._set_extra(geom)

    def _set_extra(self, geom: shapely.Geometry) -> None:
        """Subclasses keep more derived values here."""


class Area(PolygonMixin, TimestampMixin, db.Model):
    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[AreaKind] = mapped_column(enum_column(AreaKind, "area_kind"))
    code: Mapped[str] = mapped_column(sa.String(40), default="")
    # Polygon or MultiPolygon as WKB in RD New; the bounding box speeds up candidate queries.
    geometry_wkb: Mapped[bytes] = mapped_column(sa.LargeBinary)
    minx: Mapped[float]
    miny: Mapped[float]
    maxx: Mapped[float]
    maxy: Mapped[float]
    area_m2: Mapped[float]

    __table_args__ = (sa.UniqueConstraint("kind", "name"),)

    def _set_extra(self, geom: shapely.Geometry) -> None:
        self.area_m2 = float(geom.area)


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RegisterImport(db.Model):
    """An import of the address register or of areas started on the admin pages: a job.

    The file waits in the instance folder until the job has read it. While the job runs, its
    progress is in :mod:`matchmaker.jobs` (the import itself is one transaction, so nothing
    about it can be committed halfway); its outcome — counts and the bad rows, or why the file
    was refused — is stored here in the same transaction as the imported rows.
    """

    __tablename__ = "register_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "addresses" or "areas"
    filename: Mapped[str] = mapped_column(sa.String(200))
    stored_path: Mapped[str] = mapped_column(sa.String(500))
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[ImportStatus] = mapped_column(enum_column(ImportStatus, "import_status"),
                                                 default=ImportStatus.QUEUED)
    report: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def progress_key(self) -> str:
        return f"register-import:{self.id}"
