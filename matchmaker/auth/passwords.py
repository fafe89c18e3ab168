"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from matchmaker.errors import N_

MIN_LENGTH = 8
MAX_LENGTH = 256


@cache
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=4, type=Type.ID)


def hasher() -> PasswordHasher:
    return _hasher(current_app.config["PASSWORD_TIME_COST"],
                   current_app.config["PASSWORD_MEMORY_COST_KIB"])


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    """30,000 most common passwords (zxcvbn's list; includes Dutch ones such as 'wachtwoord')."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str, *, email: str = "") -> list[str]:
    """Message ids for every rule ``password`` breaks (empty when acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(N_("Use at least 8 characters."))
    if len(password) > MAX_LENGTH:
        problems.append(N_("Use at most 256 characters."))
    lowered = password.lower()
    local_part = email.split("@")[0].lower()
    if lowered in common_passwords() or (local_part and lowered == local_part):
        problems.append(N_("This password is too common or too easy to guess; choose another."))
    elif len(set(password)) < 3:
        problems.append(N_("This password is too easy to guess; choose another."))
    return problems
