"""Accounts: creation, authentication and ending sessions. Services flush, the edge commits."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

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


def check_account_fields(email: str, password: str) -> str:
    """The normalised e-mail address if it and the password are fit for an account (form and
    strength only: whether the address is in use is never said to the person asking)."""
    email = normalize_email(email)
    check_password(password, email=email)
    return email


def check_new_account(email: str, password: str) -> str:
    """The normalised e-mail address if an account can be made with it and the password;
    refuses a malformed address, a weak password and an address in use. For staff making an
    account (admin, command line); self-registration never says an address is in use."""
    email = check_account_fields(email, password)
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
    confirmed: bool = True,
) -> User:
    """A new account; ``confirmed=False`` for self-registration (it acts only after the link in
    the confirmation e-mail, :func:`confirm_email`)."""
    if role == Role.MEMBER and organisation is None:
        raise ServiceError(N_("A member account belongs to an organisation."))
    email = check_new_account(email, password)
    user = User(
        email=email, password_hash=hash_password(password), role=role, name=name.strip(),
        organisation=organisation, locale=locale, is_demo=is_demo,
        unconfirmed_since=None if confirmed else utcnow(),
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


def awaiting_confirmation(email: str, password: str) -> User | None:
    """The account with these credentials if only the confirmation of its address is missing
    (the login page then sends the link again: only the password's owner learns this)."""
    user = find_user(email or "")
    if user is None or user.unconfirmed_since is None or not user.active:
        return None
    return user if verify_password(user.password_hash, password) else None


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


def invite_staff(email: str, *, role: Role, name: str, actor: User) -> User:
    """A staff account (coordinator, provider or admin) created by an admin: it gets an e-mail
    with a link to choose its own password (valid for a week, once); nobody else ever knows
    the password."""
    if role == Role.MEMBER:
        raise ServiceError(N_("Members register themselves with their company."), field="role")
    user = create_user(email, secrets.token_urlsafe(32) + "Aa1!", role=role, actor=actor,
                       name=name)
    db.session.flush()
    token = _reset_serializer().dumps({"u": user.id, "f": _fingerprint(user), "i": 1})
    queue_mail(
        user.email, kind=MailKind.ACCOUNT, dedupe_key=f"invite:{user.id}",
        template="account_invitation", subject=N_("Your account for Samen energie"),
        locale=user.locale, topic=f"user:{user.id}", user=user, inviter=actor.name or actor.email,
        link=external_url("auth.reset_password", token=token), days=INVITE_MAX_AGE_S // 86400,
    )
    return user


INVITE_MAX_AGE_S = 7 * 24 * 60 * 60


def user_for_reset(token: str, *, demo_mode: bool) -> User:
    """The account a reset link (one hour) or an invitation (a week) is for; refuses expired,
    used and tampered links."""
    try:
        data, signed_at = _reset_serializer().loads(token, max_age=INVITE_MAX_AGE_S,
                                                    return_timestamp=True)
    except SignatureExpired as exc:
        raise ServiceError(N_("This link has expired; ask for a new one.")) from exc
    except BadSignature as exc:
        raise ServiceError(N_("This link is not valid.")) from exc
    if not (isinstance(data, dict) and data.get("i")) and (
            datetime.now(UTC) - signed_at).total_seconds() > RESET_MAX_AGE_S:
        raise ServiceError(N_("This link has expired; ask for a new one."))
    user = db.session.get(User, int(data.get("u", 0))) if isinstance(data, dict) else None
    if user is None or not user.may_act(demo_mode=demo_mode) or not hmac.compare_digest(
            str(data.get("f", "")), _fingerprint(user)):
        raise ServiceError(N_("This link was used already or is not valid; ask for a new one."))
    return user


def reset_password(token: str, new_password: str, *, demo_mode: bool) -> User:
    user = user_for_reset(token, demo_mode=demo_mode)
    set_password(user, new_password, actor=user)
    return user


# --- e-mail addresses are secret ---------------------------------------------------------------
#
# Whether an address has an account is told to nobody but its owner: login answers the same
# for a wrong password and an unknown address (and takes as long), a password reset answers
# the same, self-registration and a change of address answer "we sent you a link" in both
# cases, and the link goes to the address itself — a confirmation for a new address, a notice
# ("you have an account already") for a known one. KvK numbers are public (the Chamber of
# Commerce publishes them), so registration does say when a company is registered already.

CONFIRM_SALT = "confirm-email"
CONFIRM_MAX_AGE_S = 2 * 24 * 3600


def _confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def _address_fingerprint(user: User) -> str:
    """Changes when the account's address or sessions change: a link works for what it was
    made for only."""
    return hashlib.sha256(f"{user.email}:{user.session_version}".encode()).hexdigest()[:16]


def send_confirmation(user: User, email: str | None = None) -> None:
    """Mail a link that confirms ``email`` (default: the account's own address) for ``user``:
    a new account's address, or the new address of an existing account."""
    target = email or user.email
    token = _confirm_serializer().dumps({"u": user.id, "e": target,
                                         "f": _address_fingerprint(user)})
    queue_mail(
        target, kind=MailKind.ACCOUNT, dedupe_key=f"confirm:{user.id}:{secrets.token_hex(8)}",
        template="confirm_email", subject=N_("Confirm your e-mail address"),
        locale=user.locale, topic=f"user:{user.id}", user=user, new_account=email is None,
        link=external_url("auth.confirm_email", token=token), hours=CONFIRM_MAX_AGE_S // 3600,
    )


def notify_address_in_use(email: str) -> None:
    """Tell the owner of a known address that someone tried to use it for another account
    (instead of telling the person who tried)."""
    user = find_user(email)
    if user is None:
        return
    queue_mail(
        user.email, kind=MailKind.ACCOUNT, dedupe_key=f"in-use:{user.id}:{secrets.token_hex(8)}",
        template="address_in_use", subject=N_("Your e-mail address was used to register"),
        locale=user.locale, topic=f"user:{user.id}", user=user,
        login=external_url("auth.login"), reset=external_url("auth.forgot_password"),
    )
    record(None, "user.address_in_use", user)


def confirmation(token: str) -> tuple[User, str]:
    """The account and address a confirmation link is for; refuses expired, used (the address
    or sessions changed since) and tampered links."""
    try:
        data = _confirm_serializer().loads(token, max_age=CONFIRM_MAX_AGE_S)
    except SignatureExpired as exc:
        raise ServiceError(N_("This link has expired; ask for a new one.")) from exc
    except BadSignature as exc:
        raise ServiceError(N_("This link is not valid.")) from exc
    user = db.session.get(User, int(data.get("u", 0))) if isinstance(data, dict) else None
    if user is None or not user.active or not hmac.compare_digest(
            str(data.get("f", "")), _address_fingerprint(user)):
        raise ServiceError(N_("This link was used already or is not valid; ask for a new one."))
    return user, str(data.get("e", ""))


def confirm_email(token: str) -> User:
    """Confirm the address of a link: a new account starts to act, or an account moves to its
    new address (if nobody took it in between); other sessions end."""
    user, email = confirmation(token)
    if email == user.email:
        if user.unconfirmed_since is not None:
            user.unconfirmed_since = None
            record(user, "user.confirm_email", user)
        return user
    if find_user(email) is not None:
        raise Conflict(N_("An account with this e-mail address exists already."))
    old = user.email
    user.email = email
    user.unconfirmed_since = None
    end_sessions(user)
    record(user, "user.email", user, old=old, new=email)
    return user


def change_email(user: User, new_email: str, *, actor: User) -> bool:
    """Ask to move ``user`` to ``new_email``: a confirmation link goes to the new address, or,
    when it belongs to another account, a notice to its owner; the person asking is told the
    same either way. Returns whether anything was asked (False: the address is the same)."""
    email = normalize_email(new_email)
    if email == user.email:
        return False
    if find_user(email) is not None:
        notify_address_in_use(email)
    else:
        send_confirmation(user, email)
    record(actor, "user.email_change_requested", user)
    return True
