"""Aggregates worth keeping between requests, exact because they are keyed by a version that
the database itself moves on every change of the tables they are computed from.

``change_counters`` holds one version per group of tables; triggers (migrations 0010, 0010b)
give it a new value in the same transaction as any INSERT, UPDATE or DELETE on those tables,
whatever code or tool made the change (the ORM, bulk statements, a restore, ``psql``). A new
value never comes back, not even when its transaction rolls back (the next value of a
sequence on PostgreSQL, a random 64-bit number on SQLite), so a result computed at version
*v* is right for as long as the version reads *v*, and a result computed inside a transaction
that was rolled back is never taken for a later state. The counters are not in backups.

Used for the totals and counts of the coordinator's demand table: at province scale they sum
120,000 rows, while the table itself reads 50 rows by index.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.extensions import db

T = TypeVar("T")

#: Counter name -> the tables whose changes move it (migration 0010 made the triggers).
COUNTED_TABLES = {"demand": ("demands", "sites", "organisations", "areas"),
                  "consents": ("provider_consents",)}  # migration 0010b


class ChangeCounter(db.Model):
    __tablename__ = "change_counters"
    __table_args__ = {"info": {"backup": False}}  # noqa: RUF012 (SQLAlchemy reads a dict)

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # changes, never returns


def version_of(name: str) -> int:
    """The counter's value as this transaction sees it (0 when it does not exist)."""
    return int(db.session.scalar(sa.select(ChangeCounter.version).where(
        ChangeCounter.name == name)) or 0)


class VersionedCache:
    """A small LRU of results per key, each valid for one version; per process and thread
    safe. Two threads that miss at once both compute (the same answer); nothing waits."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[Any, int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int, compute: Callable[[], T]) -> T:
        marker = db.engine.url.render_as_string(hide_password=True)  # one app, many databases
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] == marker and found[1] == version:
                self._items.move_to_end(key)
                return found[2]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._items[key] = (marker, version, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
