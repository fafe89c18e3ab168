"""Backup and restore of every table, portable between SQLite and PostgreSQL.

A backup is a ZIP file: ``meta.json`` (format, schema revision, table order, row counts) and
one JSON Lines file per table. Values are written by column type (exact decimals as text,
times as ISO 8601 UTC, binary as base64), so a backup made on SQLite restores on PostgreSQL and
back. Restoring replaces all data in one transaction and requires the same schema revision.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.types import ScaledDecimal, UTCDateTime

FORMAT = 1
BATCH = 2000


def _tables() -> list[sa.Table]:
    """Every table of the models, parents before children; not the ones marked
    ``info={"backup": False}``: change counters (:mod:`matchmaker.caching`) and results
    derived from the other tables, which a restore empties instead."""
    return [t for t in db.metadata.sorted_tables if t.info.get("backup", True)]


def _derived() -> list[sa.Table]:
    return [t for t in db.metadata.sorted_tables if t.info.get("derived")]


def schema_revisions() -> list[str]:
    rows = db.session.execute(sa.text("SELECT version_num FROM alembic_version"))
    return sorted(r[0] for r in rows)


def _encode(value: Any, column: sa.Column[Any]) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "value") and isinstance(column.type, sa.Enum):
        return value.value
    return value


def _decode(value: Any, column: sa.Column[Any]) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, ScaledDecimal):
        return Decimal(value)
    if isinstance(kind, UTCDateTime):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, sa.Date):
        return date.fromisoformat(value)
    if isinstance(kind, sa.LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return Decimal(str(value))
    return value


def encode_row(table: sa.Table, row: Any) -> dict[str, Any]:
    """A row as JSON-ready values by column type (decimals as text, times in ISO 8601)."""
    return {c.name: _encode(row[c.name], c) for c in table.columns}


def _rows(table: sa.Table) -> Iterator[dict[str, Any]]:
    order = list(table.primary_key.columns) or list(table.columns)
    result = db.session.execute(sa.select(table).order_by(*order)).mappings()
    for row in result:
        yield encode_row(table, row)


def backup(path: str | Path) -> dict[str, int]:
    """Write every table to ``path``; returns the row count per table."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in _tables():
            n = 0
            with archive.open(f"tables/{table.name}.jsonl", "w") as fh:
                for row in _rows(table):
                    fh.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
                    n += 1
            counts[table.name] = n
        archive.writestr("meta.json", json.dumps({
            "format": FORMAT, "revisions": schema_revisions(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dialect": db.session.get_bind().dialect.name,
            "tables": [t.name for t in _tables()], "counts": counts,
        }, indent=2))
    return counts


def restore(path: str | Path) -> dict[str, int]:
    """Replace all data with the backup at ``path`` (flushes; the caller commits).

    Refuses a file that is not a backup, of another format, or of another schema revision
    (run ``matchmaker db upgrade heads`` on both sides first).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ServiceError(N_("%(file)s is not a backup of this service."),
                           file=Path(path).name) from exc
    with archive:
        try:
            meta = json.loads(archive.read("meta.json"))
        except (KeyError, ValueError) as exc:
            raise ServiceError(N_("%(file)s is not a backup of this service."),
                               file=Path(path).name) from exc
        if meta.get("format") != FORMAT:
            raise ServiceError(N_("%(file)s has backup format %(format)s; this version reads "
                                  "format %(expected)s."), file=Path(path).name,
                               format=meta.get("format"), expected=FORMAT)
        if sorted(meta.get("revisions", [])) != schema_revisions():
            raise ServiceError(
                N_("The backup has schema revision %(backup)s, the database %(database)s; "
                   "migrate both to the same revision first."),
                backup=", ".join(meta.get("revisions", [])),
                database=", ".join(schema_revisions()),
            )
        tables = _tables()
        names = {t.name for t in tables}
        unknown = set(meta.get("tables", [])) - names
        if unknown:
            raise ServiceError(N_("The backup has tables this version does not know: %(tables)s."),
                               tables=", ".join(sorted(unknown)))
        for table in reversed([*tables, *_derived()]):
            db.session.execute(table.delete())
        counts: dict[str, int] = {}
        for table in tables:
            member = f"tables/{table.name}.jsonl"
            if member not in archive.namelist():
                counts[table.name] = 0
                continue
            columns = {c.name: c for c in table.columns}
            batch: list[dict[str, Any]] = []
            n = 0
            with archive.open(member) as fh:
                for line in fh:
                    raw = json.loads(line)
                    batch.append({k: _decode(v, columns[k]) for k, v in raw.items()
                                  if k in columns})
                    if len(batch) >= BATCH:
                        db.session.execute(table.insert(), batch)
                        n += len(batch)
                        batch = []
            if batch:
                db.session.execute(table.insert(), batch)
                n += len(batch)
            counts[table.name] = n
        _reset_sequences(tables)
        db.session.flush()
        return counts


def _reset_sequences(tables: list[sa.Table]) -> None:
    """PostgreSQL keeps identity counters apart from the rows: move them past the restored ids."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, sa.Integer):
            continue
        column = key[0].name
        db.session.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
            f"COALESCE((SELECT MAX({column}) FROM {table.name}), 0) + 1, false)"
        ))


def table_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, encoded as in a backup (for comparing two databases)."""
    return {table.name: list(_rows(table)) for table in _tables()}
