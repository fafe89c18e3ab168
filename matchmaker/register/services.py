"""Imports of the address register and of areas: streamed, validated, one transaction.

A file that cannot be read, lacks required columns or has no usable CRS raises before anything
is written. Bad rows are skipped and reported by line number and reason; everything else is
upserted by id, so importing the same file again updates instead of duplicating.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from geo.addresses import parse_register_chunk, resolve_register_columns
from geo.areas import prepare_areas
from geo.columnar import geo_metadata, iter_csv_tables, point_xy
from geo.crs import RD_NEW, xy_to_rd
from geo.errors import N_, CRSError, FileFormatError, GeoError
from geo.io import file_kind, read_vector, reading_vector
from matchmaker import progress as job_progress
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.database import rowcount
from matchmaker.extensions import db
from matchmaker.models import utcnow
from matchmaker.register.models import (
    AddressRecord,
    Area,
    AreaKind,
    ImportStatus,
    RegisterImport,
)

CHUNK_ROWS = 20_000
DUPLICATE_ID = N_("id %(value)s appears more than once in the file")


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    pruned: int = 0
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason msgid, value)

    @property
    def imported(self) -> int:
        return self.inserted + self.updated


def count_rows(path: str | Path) -> int:
    """Data rows (CSV lines minus the header), Parquet rows or features, for the progress bar."""
    kind = file_kind(path)
    if kind == "csv":
        lines, last = 0, b""
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        if last not in (b"", b"\n"):
            lines += 1  # no newline after the last line
        return max(lines - 1, 0)
    if kind == "parquet":
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (pa.ArrowInvalid, OSError):
            return 0  # the import itself reports the unreadable file
    try:
        with reading_vector(path):
            return int(pyogrio.read_info(path).get("features", 0) or 0)
    except GeoError:
        return 0  # the import itself reports the unreadable file


Chunk = tuple[pd.DataFrame, dict[str, str], int, tuple[np.ndarray, np.ndarray] | None]


def _csv_chunks(path: str | Path) -> Iterator[Chunk]:
    """Arrow reads the text in blocks; the rows go out in chunks of ``CHUNK_ROWS`` text
    columns, so a bad row anywhere is reported with its line."""
    names, _delimiter, tables = iter_csv_tables(path, rows=CHUNK_ROWS)
    mapping = resolve_register_columns(names)
    line = 2
    for table in tables:
        yield table.to_pandas(), mapping, line, None
        line += table.num_rows


def _parquet_chunks(path: str | Path, *, assume_crs: str | None) -> Iterator[Chunk]:
    """GeoParquet points in any CRS (rows count from 1), or a plain Parquet table with the CSV's
    columns."""
    name = Path(path).name
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileFormatError(N_("%(file)s cannot be read as (Geo)Parquet: %(reason)s"),
                              file=name, reason=str(exc).splitlines()[0]) from exc
    geo = geo_metadata(parquet.schema_arrow)
    geometry = geo["primary_column"] if geo else None
    crs: object = None
    if geo is not None:
        crs = geo.get("columns", {}).get(geometry, {}).get("crs", "OGC:CRS84")
        if crs is None:
            if assume_crs is None:
                raise CRSError(N_("The data has no coordinate reference system; state it (for "
                                  "example EPSG:28992)."))
            crs = assume_crs
    fields = [f for f in parquet.schema_arrow.names if f != geometry]
    mapping = resolve_register_columns(fields, has_geometry=geometry is not None)
    start = 1
    try:
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
            xy = None
            if geometry is not None:
                xy = _rd_points(batch.column(geometry), crs)
                batch = batch.drop_columns([geometry])
            text = batch.to_pandas().astype("string")
            yield text, mapping, start, xy
            start += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileFormatError(N_("%(file)s cannot be read as (Geo)Parquet: %(reason)s"),
                              file=name, reason=str(exc).splitlines()[0]) from exc


def _rd_points(wkb: pa.Array, crs: object) -> tuple[np.ndarray, np.ndarray]:
    """RD New x, y of WKB points; NaN where a value is not a point (refused per row)."""
    xy = point_xy(wkb)
    if xy is None:
        import shapely

        geoms = shapely.from_wkb(np.asarray(wkb.to_numpy(zero_copy_only=False), dtype=object))
        is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
        x = np.where(is_point, shapely.get_x(np.where(is_point, geoms, None)), np.nan)
        y = np.where(is_point, shapely.get_y(np.where(is_point, geoms, None)), np.nan)
        xy = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return xy_to_rd(*xy, crs)


def _vector_chunks(
    path: str | Path, *, layer: str | None, assume_crs: str | None
) -> Iterator[Chunk]:
    with reading_vector(path):
        info = pyogrio.read_info(path, layer=layer)
    if info.get("crs") is None and assume_crs is None:
        raise CRSError(
            N_("The data has no coordinate reference system; state it (for example EPSG:28992).")
        )
    mapping = resolve_register_columns(info["fields"], has_geometry=True)
    total = int(info.get("features") or 0)
    for start in range(0, total, CHUNK_ROWS):
        with reading_vector(path):
            frame = pyogrio.read_dataframe(path, layer=layer, skip_features=start,
                                           max_features=CHUNK_ROWS)
        if frame.crs is None:
            frame = frame.set_crs(assume_crs)
        frame = frame.to_crs(RD_NEW)
        geoms = frame.geometry
        is_point = (geoms.geom_type == "Point").to_numpy()
        x = np.where(is_point, geoms.x.where(is_point, np.nan).to_numpy(float), np.nan)
        y = np.where(is_point, geoms.y.where(is_point, np.nan).to_numpy(float), np.nan)
        text = pd.DataFrame(frame.drop(columns="geometry")).astype("string")
        yield text, mapping, start + 1, (x, y)


def _upsert(rows: pd.DataFrame, imported_at: datetime) -> tuple[int, int]:
    """Insert or update by id; returns (inserted, updated)."""
    if rows.empty:
        return 0, 0
    ids = rows["id"].tolist()
    existing = 0
    for start in range(0, len(ids), 900):  # stay below SQLite's parameter limit
        existing += db.session.scalar(
            sa.select(sa.func.count()).select_from(AddressRecord)
            .where(AddressRecord.id.in_(ids[start:start + 900]))
        ) or 0
    records = rows.assign(imported_at=imported_at).to_dict("records")
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(AddressRecord)
    statement = insert.on_conflict_do_update(
        index_elements=[AddressRecord.id],
        set_={c: insert.excluded[c] for c in rows.columns if c != "id"}
        | {"imported_at": insert.excluded.imported_at},
    )
    db.session.execute(statement, records)
    return len(ids) - existing, existing


def import_addresses(
    path: str | Path,
    *,
    actor: User | None,
    prune: bool = False,
    layer: str | None = None,
    assume_crs: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an address register file (CSV, GeoPackage or GeoParquet; columns in the README).

    With ``prune``, register records that the file no longer contains are deleted; that is
    refused when the file has bad rows, since their records would be lost by mistake.
    """
    if not Path(path).exists():
        raise FileFormatError(N_("%(file)s does not exist."), file=Path(path).name)
    started = utcnow()
    report = ImportReport()
    seen: set[str] = set()
    kind = file_kind(path)
    chunks = (_csv_chunks(path) if kind == "csv"
              else _parquet_chunks(path, assume_crs=assume_crs) if kind == "parquet"
              else _vector_chunks(path, layer=layer, assume_crs=assume_crs))
    for frame, mapping, first_line, xy in chunks:
        good, bad = parse_register_chunk(frame, mapping, first_line=first_line, xy=xy)
        dup = good["id"].duplicated(keep="first").to_numpy() | good["id"].isin(seen).to_numpy()
        if dup.any():
            lines = first_line + np.flatnonzero(~_bad_mask(len(frame), bad, first_line))[dup]
            bad = pd.concat([bad, pd.DataFrame({
                "line": lines, "reason": DUPLICATE_ID, "value": good["id"][dup].to_numpy(),
            })])
            good = good[~dup]
        seen.update(good["id"])
        inserted, updated = _upsert(good, started)
        report.rows += len(frame)
        report.inserted += inserted
        report.updated += updated
        report.bad.extend(
            (int(r.line), str(r.reason), str(r.value)) for r in bad.itertuples(index=False)
        )
        if progress:
            progress(len(frame))
    report.bad.sort()
    if prune:
        if report.bad:
            raise FileFormatError(
                N_("Not pruned: the file has bad rows (%(count)s); fix them first, because their "
                   "records would be deleted."), count=len(report.bad),
            )
        result = db.session.execute(
            sa.delete(AddressRecord).where(AddressRecord.imported_at < started)
        )
        report.pruned = rowcount(result)
    db.session.flush()
    record(actor, "register.import", ("address_records", ""), file=Path(path).name,
           rows=report.rows, inserted=report.inserted, updated=report.updated,
           bad=len(report.bad), pruned=report.pruned)
    return report


def _bad_mask(n: int, bad: pd.DataFrame, first_line: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[bad["line"].to_numpy(int) - first_line] = True
    return mask


@dataclass
class AreaImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def import_areas(
    path: str | Path,
    *,
    kind: AreaKind | str,
    actor: User | None,
    name_column: str | None = None,
    code_column: str | None = None,
    layer: str | None = None,
    assume_crs: str | None = None,
) -> AreaImportReport:
    """Import polygons as areas of ``kind``; all or nothing, upserted by (kind, name)."""
    kind = AreaKind(kind)
    if file_kind(path) == "csv":
        raise FileFormatError(N_("Areas are imported from GeoJSON or GeoPackage, not CSV."))
    if not Path(path).exists():
        raise FileFormatError(N_("%(file)s does not exist."), file=Path(path).name)
    areas = prepare_areas(read_vector(path, layer=layer), name_column=name_column,
                          code_column=code_column, assume_crs=assume_crs)
    existing = {a.name: a for a in db.session.scalars(sa.select(Area).where(Area.kind == kind))}
    report = AreaImportReport()
    for name, code, geom in zip(areas["name"], areas["code"], areas.geometry, strict=True):
        area = existing.get(name)
        if area is None:
            area = Area(name=name, kind=kind)
            db.session.add(area)
            report.created.append(name)
        else:
            report.updated.append(name)
        area.code = code
        area.geometry = geom
    db.session.flush()
    record(actor, "areas.import", ("areas", ""), file=Path(path).name, kind=str(kind),
           created=len(report.created), updated=len(report.updated))
    return report


def register_stats() -> dict[str, int]:
    return {
        "addresses": db.session.scalar(sa.select(sa.func.count()).select_from(AddressRecord)) or 0,
        **{
            str(kind): count for kind, count in db.session.execute(
                sa.select(Area.kind, sa.func.count()).group_by(Area.kind)
            )
        },
    }


def chosen_areas(area_ids: list[int], *, drawn: bool) -> list[Area]:
    """The areas ticked in a form, in the order ticked; at least one unless an area is drawn."""
    from matchmaker.errors import N_ as message
    from matchmaker.errors import ServiceError

    areas = list(db.session.scalars(sa.select(Area).where(Area.id.in_(area_ids)))
                 ) if area_ids else []
    if len(areas) != len(set(area_ids)):
        raise ServiceError(message("Choose areas from the list."), field="area_ids")
    if not areas and not drawn:
        raise ServiceError(message("Choose at least one area or draw one on the map."),
                           field="area_ids")
    return sorted(areas, key=lambda a: area_ids.index(a.id))


# --- imports started on the admin pages (jobs) --------------------------------------------------

#: The bad rows an import keeps for its report page (the counts are always complete).
MAX_REPORTED_ROWS = 500
ADDRESS_SUFFIXES = (".csv", ".txt", ".gpkg", ".geojson", ".json", ".parquet", ".geoparquet")
AREA_SUFFIXES = (".gpkg", ".geojson", ".json", ".parquet", ".geoparquet")


def new_import(*, actor: User, kind: str, filename: str, stored_path: str,
               options: dict[str, Any]) -> RegisterImport:
    """A queued import of ``kind`` ("addresses" or "areas") of the file at ``stored_path``;
    the kind of file and the options are checked before anything is queued."""
    from matchmaker.errors import ServiceError

    suffixes = ADDRESS_SUFFIXES if kind == "addresses" else AREA_SUFFIXES
    if kind not in ("addresses", "areas"):
        raise ServiceError(N_("Choose what to import."), field="kind")
    if Path(filename).suffix.lower() not in suffixes:
        raise ServiceError(N_("Choose a file of one of these kinds: %(kinds)s."),
                           field="file", kinds=", ".join(suffixes))
    if kind == "areas" and options.get("area_kind") not in {k.value for k in AreaKind}:
        raise ServiceError(N_("Choose the kind of areas."), field="area_kind")
    row = RegisterImport(kind=kind, filename=Path(filename).name[:200], stored_path=stored_path,
                         options=options, created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    record(actor, "register.import_queued", row, kind=kind, file=row.filename)
    return row


def import_progress(row: RegisterImport) -> dict[str, Any]:
    """Status, share done and rows for the page that polls an import."""
    seen = job_progress.progress(row.progress_key) or {}
    done, total = int(seen.get("done", 0)), int(seen.get("total", 0))
    share = 1.0 if row.status in (ImportStatus.DONE, ImportStatus.FAILED) else (
        min(done / total, 1.0) if total else 0.0)
    return {"status": row.status.value, "progress": round(share, 4), "done": done,
            "total": total}


def run_import(import_id: int) -> None:
    """The job: the whole import in one transaction, committed with its report; a file that is
    refused leaves nothing but the refusal (message id and parameters) on the row."""
    row = db.session.get(RegisterImport, import_id)
    if row is None or row.status != ImportStatus.QUEUED:
        return
    row.status = ImportStatus.RUNNING
    db.session.commit()
    path, key, options = Path(row.stored_path), row.progress_key, dict(row.options)
    actor = db.session.get(User, row.created_by_id) if row.created_by_id else None
    try:
        report = _run(row.kind, path, key, options, actor)
    except GeoError as err:
        db.session.rollback()
        report = {"error": {"msgid": err.msgid, "params": _plain(err.params)}}
        status = ImportStatus.FAILED
    except Exception:
        db.session.rollback()
        current_app.logger.exception("register import %s failed", import_id)
        report = {"error": {"msgid": UNEXPECTED, "params": {}}}
        status = ImportStatus.FAILED
    else:
        status = ImportStatus.DONE
    finally:
        path.unlink(missing_ok=True)
    row = db.session.get(RegisterImport, import_id)
    assert row is not None
    row.status, row.report, row.finished_at = status, report, utcnow()
    db.session.commit()


UNEXPECTED = N_("The import stopped unexpectedly; nothing was imported. Try again, or ask the "
                "administrator of the server to look at the log.")


def _run(kind: str, path: Path, key: str, options: dict[str, Any],
         actor: User | None) -> dict[str, Any]:
    if kind == "areas":
        job_progress.set_progress(key, done=0, total=1)
        areas = import_areas(path, kind=options["area_kind"], actor=actor,
                             name_column=options.get("name_column") or None,
                             code_column=options.get("code_column") or None,
                             layer=options.get("layer") or None,
                             assume_crs=options.get("crs") or None)
        job_progress.set_progress(key, done=1, total=1)
        return {"created": len(areas.created), "updated": len(areas.updated),
                "names": (areas.created + areas.updated)[:MAX_REPORTED_ROWS]}
    total = count_rows(path)
    done = 0

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        job_progress.set_progress(key, done=done, total=total)

    job_progress.set_progress(key, done=0, total=total)
    report = import_addresses(path, actor=actor, prune=bool(options.get("prune")),
                              layer=options.get("layer") or None,
                              assume_crs=options.get("crs") or None, progress=step)
    return {"rows": report.rows, "inserted": report.inserted, "updated": report.updated,
            "pruned": report.pruned, "bad_count": len(report.bad),
            "bad": [list(b) for b in report.bad[:MAX_REPORTED_ROWS]]}


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in params.items()}
