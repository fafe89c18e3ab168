"""Engine set-up that makes the embedded SQLite default safe for a small multi-user service.

SQLite: WAL (readers never block the writer), a busy timeout, foreign keys on, and write
transactions that start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead
of failing with "database is locked" when a read transaction tries to upgrade to a write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine, Result

SQLITE_BUSY_TIMEOUT_MS = 15_000

_write_intent: ContextVar[bool] = ContextVar("matchmaker_write_intent", default=False)
_refused: ContextVar[bool] = ContextVar("matchmaker_refused", default=False)


def set_write_intent(value: bool) -> None:
    """Declare whether the coming transaction will write (the edge knows: POST, CLI, job)."""
    _write_intent.set(value)


def wants_write() -> bool:
    """Whether the current transaction was declared a writing one."""
    return _write_intent.get()


@contextmanager
def write_intent() -> Iterator[None]:
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def begin_unit_of_work() -> None:
    """A request (or job) starts: nothing has been refused in it yet."""
    _refused.set(False)


def mark_refused() -> None:
    """A service refused something in this unit of work: whatever it flushed before refusing
    must not be committed, even when the edge catches the refusal and redirects (a 302 would
    otherwise commit). Called by every :class:`matchmaker.errors.ServiceError`."""
    _refused.set(True)


def was_refused() -> bool:
    return _refused.get()


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN (needed for savepoints and BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def reads_first(view: Any) -> Any:
    """Mark a POST view that reads and works slowly (an upload to parse) before it writes: its
    request starts as a read (no write lock on SQLite), and the view calls
    :func:`finish_reading` before the slow part, so that holds no transaction at all."""
    view.reads_first = True
    return view


def finish_reading() -> None:
    """End the request's read transaction (nothing was written in it) and declare that the next
    statement starts the write transaction (``BEGIN IMMEDIATE`` on SQLite). Work done between
    the two — parsing an upload — holds neither a lock nor a transaction, so another member's
    save never waits for it. Objects read before are loaded again when used."""
    from matchmaker.extensions import db

    db.session.rollback()
    set_write_intent(True)


def writes(view: Any) -> Any:
    """Mark a GET view that writes (an audit entry, the day's snapshot), so its transaction
    starts as a write transaction too (``BEGIN IMMEDIATE`` on SQLite) instead of failing when
    it upgrades a read transaction that another writer overtook."""
    view.writes = True
    return view


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE, DELETE or (with ``preserve_rowcount``) INSERT touched: the result of
    ``Session.execute`` is a cursor result then, which its static type does not say."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


def insert_ignore(table: Any, rows: list[dict[str, Any]], keys: list[str]) -> int:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` on either database; returns the rows
    inserted. Idempotent daily work (snapshots, publications) uses it, so a repeated or
    concurrent run neither fails nor writes twice."""
    from sqlalchemy.dialects import postgresql, sqlite

    from matchmaker.extensions import db

    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(rows).on_conflict_do_nothing(index_elements=keys)
    return rowcount(db.session.execute(statement.execution_options(preserve_rowcount=True)))
