from __future__ import annotations

from typing import Any

from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import User
from matchmaker.extensions import db


def record(actor: User | None, action: str, obj: Any, **detail: Any) -> AuditLog:
    """Append an audit entry for ``obj`` (a model instance or a ``(type, id)`` pair)."""
    if isinstance(obj, tuple):
        object_type, object_id = obj
    else:
        db.session.flush()  # so a new object has its id
        object_type, object_id = type(obj).__tablename__, obj.id
    entry = AuditLog(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=str(object_type),
        object_id=str(object_id),
        detail=detail,
    )
    db.session.add(entry)
    return entry
