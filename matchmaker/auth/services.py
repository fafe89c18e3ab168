"""Accounts: creation, authentication and ending sessions. Services flush, the edge commits."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.auth.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from matchmaker.errors import N_, Conflict, ServiceError
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.mail.services import external_url, queue_mail
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


def check_new_account(email: str, password: str) -> str:
    """The normalised e-mail address if an account can be made with it and the password;
    refuses a malformed address, a weak password and an address in use."""
    email = normalize_email(email)
    check_password(password, email=email)
    if find_user(email) is not None:
        raise Conflict(
            N_("An account with this e-mail address exists already; log in instead."),
            field="email",
        )
    return email


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
    if role == Role.MEMBER and organisation is None:
        raise ServiceError(N_("A member account belongs to an organisation."))
    email = check_new_account(email, password)
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
    if not user.may_act(demo_mode=demo_mode):
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


# --- password reset ------------------------------------------------------------------------------

RESET_SALT = "password-reset"
RESET_MAX_AGE_S = 60 * 60


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _fingerprint(user: User) -> str:
    """Changes with the password hash: a reset link works once (the reset changes the hash)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def request_password_reset(email: str, *, demo_mode: bool) -> bool:
    """Queue a reset link for an active account; always answer the same to the user, so the
    form does not tell who has an account. Returns whether a message was queued."""
    user = find_user(email or "")
    if user is None or not user.may_act(demo_mode=demo_mode):
        return False
    token = _reset_serializer().dumps({"u": user.id, "f": _fingerprint(user)})
    queue_mail(
        user.email, kind=MailKind.ACCOUNT, dedupe_key=f"reset:{user.id}:{secrets.token_hex(8)}",
        template="password_reset", subject=N_("Choose a new password"), locale=user.locale,
        topic=f"user:{user.id}", user=user,
        link=external_url("auth.reset_password", token=token),
        minutes=RESET_MAX_AGE_S // 60,
    )
    record(None, "user.password_reset_requested", user)
    return True


def user_for_reset(token: str, *, demo_mode: bool) -> User:
    """The account a reset link is for; refuses expired, used and tampered links."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE_S)
    except SignatureExpired as exc:
        raise ServiceError(N_("This link has expired; ask for a new one.")) from exc
    except BadSignature as exc:
        raise ServiceError(N_("This link is not valid.")) from exc
    user = db.session.get(User, int(data.get("u", 0))) if isinstance(data, dict) else None
    if user is None or not user.may_act(demo_mode=demo_mode) or not hmac.compare_digest(
            str(data.get("f", "")), _fingerprint(user)):
        raise ServiceError(N_("This link was used already or is not valid; ask for a new one."))
    return user


def reset_password(token: str, new_password: str, *, demo_mode: bool) -> User:
    user = user_for_reset(token, demo_mode=demo_mode)
    set_password(user, new_password, actor=user)
    return user


def change_email(user: User, new_email: str, *, actor: User) -> None:
    email = normalize_email(new_email)
    if email == user.email:
        return
    if find_user(email) is not None:
        raise Conflict(N_("An account with this e-mail address exists already."), field="email")
    old = user.email
    user.email = email
    end_sessions(user)
    record(actor, "user.email", user, old=old, new=email)
