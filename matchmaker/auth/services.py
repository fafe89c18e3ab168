"""Accounts: creation, authentication and ending sessions. Services flush, the edge commits."""

from __future__ import annotations

import re

import sqlalchemy as sa

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.auth.passwords import hash_password, needs_rehash, password_problems, verify_password
from matchmaker.errors import N_, Conflict, ServiceError
from matchmaker.extensions import db
from matchmaker.members.models import Organisation
from matchmaker.models import utcnow

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# Verified when the e-mail is unknown, so a failed login takes as long either way.
_DUMMY_HASH: dict[str, str] = {}


def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    if not _EMAIL_RE.match(value) or len(value) > 254:
        raise ServiceError(N_("Enter a valid e-mail address."), field="email")
    return value


def check_password(password: str, *, email: str = "", field: str = "password") -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise ServiceError(problems[0], field=field)


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def create_user(
    email: str,
    password: str,
    *,
    role: Role,
    actor: User | None,
    organisation: Organisation | None = None,
    name: str = "",
    locale: str = "nl",
    is_demo: bool = False,
) -> User:
    email = normalize_email(email)
    if role == Role.MEMBER and organisation is None:
        raise ServiceError(N_("A member account belongs to an organisation."))
    check_password(password, email=email)
    if find_user(email) is not None:
        raise Conflict(
            N_("An account with this e-mail address exists already; log in instead."),
            field="email",
        )
    user = User(
        email=email, password_hash=hash_password(password), role=role, name=name.strip(),
        organisation=organisation, locale=locale, is_demo=is_demo,
    )
    db.session.add(user)
    record(actor, "user.create", user, role=str(role), email=email)
    return user


def authenticate(email: str, password: str, *, demo_mode: bool) -> User | None:
    """The active user with these credentials, or ``None``; rehashes outdated hashes."""
    user = find_user(email or "")
    if user is None:
        if "hash" not in _DUMMY_HASH:
            _DUMMY_HASH["hash"] = hash_password("not-a-real-password")
        verify_password(_DUMMY_HASH["hash"], password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if not user.active or (user.is_demo and not demo_mode):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    record(user, "user.login", user)
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session of ``user`` (their cookies carry the old version)."""
    user.session_version += 1


def set_password(user: User, new_password: str, *, actor: User) -> None:
    check_password(new_password, email=user.email, field="new_password")
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    record(actor, "user.password", user)


def set_role(user: User, role: Role, *, actor: User) -> None:
    if user.id == actor.id and role != Role.ADMIN:
        raise ServiceError(N_("You cannot take away your own admin role."))
    if role == Role.MEMBER and user.organisation_id is None:
        raise ServiceError(N_("A member account belongs to an organisation."))
    old = user.role
    user.role = role
    end_sessions(user)
    record(actor, "user.role", user, old=str(old), new=str(role))


def set_active(user: User, active: bool, *, actor: User) -> None:
    if user.id == actor.id and not active:
        raise ServiceError(N_("You cannot deactivate your own account."))
    user.active = active
    end_sessions(user)
    record(actor, "user.activate" if active else "user.deactivate", user)


def set_locale(user: User, locale: str) -> None:
    user.locale = locale
