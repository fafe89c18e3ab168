"""The database's clock, as an SQL expression, so that races with deadlines are decided by it.

``db_now()`` is "now" in UTC as the database sees it, comparable with our ``UTCDateTime``
columns (naive UTC) on both databases:

- PostgreSQL: ``clock_timestamp() AT TIME ZONE 'UTC'``, a ``timestamp without time zone`` in
  UTC whatever the session's ``TimeZone`` (``now()`` would be the transaction's start, which
  can lie before a lock wait).
- SQLite: ``strftime('%Y-%m-%d %H:%M:%f', 'now')``, UTC text with milliseconds
  (``2026-05-01 10:00:00.123``). Our columns hold ``2026-05-01 10:00:00.123456``; as text they
  compare in time order (``CURRENT_TIMESTAMP`` would drop the fraction of a second).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from matchmaker.extensions import db
from matchmaker.types import UTCDateTime


class db_now(FunctionElement[datetime]):
    type = UTCDateTime()
    inherit_cache = True
    name = "db_now"


@compiles(db_now)
def _default(element: Any, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(db_now, "postgresql")
def _postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    return "(clock_timestamp() AT TIME ZONE 'UTC')"


@compiles(db_now, "sqlite")
def _sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def database_time() -> datetime:
    """The database's current time (aware, UTC)."""
    value = db.session.scalar(sa.select(db_now()))
    assert value is not None
    return value
