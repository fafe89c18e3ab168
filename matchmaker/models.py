"""Declarative base and shared mixins; feature models live in their own packages."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from geo.errors import N_
from matchmaker.types import UTCDateTime

# Deterministic constraint names so migrations can alter and drop them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


def enum_column(enum: type[StrEnum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint (no native PostgreSQL type)."""
    return sa.Enum(
        enum, name=name, native_enum=False, create_constraint=True, length=20,
        values_callable=lambda e: [m.value for m in e], validate_strings=True,
    )


# --- stored values: the same limits on SQLite as on PostgreSQL (issue 13, class 6) ----------

#: No stored amount is larger than this (a province's yearly kWh is ~1e10); anything beyond is
#: a typing accident or an attack, and 1e300 would break every page that sums it.
MAX_STORED_MAGNITUDE = 1e15
#: Stored dates and times lie in these years (SQLite would keep 1600 or 9999 and a page would
#: then fail to compute with them).
STORED_YEARS = (1900, 2200)
_INT_LIMITS = {sa.SmallInteger: 2**15, sa.BigInteger: 2**63, sa.Integer: 2**31}


def stored_value_problem(column: sa.Column[Any], value: Any) -> tuple[str, dict[str, Any]] | None:
    """Why ``value`` cannot be stored in ``column`` (a message id and its parameters), or None.

    PostgreSQL refuses text longer than a ``VARCHAR(n)`` and integers outside the column's
    range; SQLite keeps them. Neither refuses NaN, infinity or 1e300 in a float column. One
    check before every flush makes both databases refuse the same values, with a message
    instead of a database error.
    """
    if value is None:
        return None
    kind = column.type
    impl = getattr(kind, "impl_instance", None) or getattr(kind, "impl", None)
    if isinstance(value, str):
        length = getattr(kind, "length", None)
        if isinstance(kind, sa.String) and length and len(value) > length:
            return N_("Too long: at most %(max)s characters."), {"max": length}
        if "\x00" in value:
            return N_("Contains a character that cannot be stored (a null byte)."), {}
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime | date):
        low, high = STORED_YEARS
        if not low <= value.year < high:
            return N_("Enter a date from the year %(low)s to %(high)s."), {
                "low": low, "high": high - 1}
        return None
    if isinstance(value, int | float | Decimal):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            number = math.inf
        if not isinstance(value, int) and (
                not math.isfinite(number) or abs(number) > MAX_STORED_MAGNITUDE):
            return N_("Enter a number of at most %(max)s (and at least minus that)."), {
                "max": Decimal(MAX_STORED_MAGNITUDE)}
        scale = getattr(kind, "scale", None) if isinstance(kind, TypeDecorator) else None
        for integer_type, limit in _INT_LIMITS.items():
            if isinstance(kind, integer_type) or isinstance(impl, integer_type):
                scaled = abs(Decimal(value)) * (Decimal(10) ** (scale or 0))
                if not scaled.is_finite() or scaled >= limit:
                    return N_("Enter a number of at most %(max)s (and at least minus that)."), {
                        "max": Decimal((limit - 1) // 10 ** (scale or 0))}
                break
    return None


def _refuse_unstorable(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in (*session.new, *session.dirty):
        mapper = sa.inspect(obj).mapper
        state = sa.inspect(obj)
        for attr in mapper.column_attrs:
            if obj in session.dirty and not state.attrs[attr.key].history.has_changes():
                continue
            value = state.dict.get(attr.key)
            for column in attr.columns:
                if not isinstance(column, sa.Column):
                    continue
                problem = stored_value_problem(column, value)
                if problem is not None:
                    from matchmaker.errors import InvalidValue

                    msgid, params = problem
                    raise InvalidValue(msgid, field=attr.key, **params)


event.listen(Session, "before_flush", _refuse_unstorable)
