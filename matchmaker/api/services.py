"""Issuing, checking and revoking API tokens (hashed; the token is shown once)."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from matchmaker.api.models import ApiToken
from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.models import utcnow

TOKEN_PREFIX = "mmf_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User, *, actor: User | None, name: str = "") -> tuple[ApiToken, str]:
    """A new token for a provider account: (stored row, the token itself, shown once)."""
    if user.role != Role.PROVIDER:
        raise ServiceError(N_("API tokens are for provider accounts only."), field="user_id")
    if not user.active:
        raise ServiceError(N_("This account is deactivated."), field="user_id")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    row = ApiToken(user=user, name=(name or "").strip()[:100], token_hash=token_hash(token),
                   prefix=token[:12], created_by_id=actor.id if actor else None)
    db.session.add(row)
    db.session.flush()
    record(actor, "api.token_issue", row, user_id=user.id, prefix=row.prefix)
    return row, token


def revoke_token(row: ApiToken, *, actor: User | None) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
        record(actor, "api.token_revoke", row, user_id=row.user_id, prefix=row.prefix)


def is_issued(token: str) -> bool:
    """Whether ``token`` is one we issued and did not revoke (reads only; for rate limits)."""
    if not token or len(token) > 200:
        return False
    return db.session.scalar(sa.select(ApiToken.id).where(
        ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))) is not None


def authenticate(token: str, *, demo_mode: bool) -> ApiToken | None:
    """The active token with this value, whose account is a provider that may act (a demo
    account's token works only in demo mode, as its web login); else None."""
    if not token or len(token) > 200:
        return None
    row: ApiToken | None = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    user = row.user
    if not user.may_act(demo_mode=demo_mode) or user.role != Role.PROVIDER:
        return None
    row.last_used_at = utcnow()
    return row


def tokens() -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).order_by(ApiToken.revoked_at.is_not(None),
                                                                ApiToken.created_at.desc())))
