"""The roles of an account, apart from the models so that the command line can offer them as
choices without importing SQLAlchemy (``matchmaker create-user --help``)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"
    PROVIDER = "provider"
    ADMIN = "admin"
