from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.auth.roles import Role
from matchmaker.extensions import db
from matchmaker.models import TimestampMixin, enum_column
from matchmaker.types import UTCDateTime

if TYPE_CHECKING:
    from matchmaker.members.models import Organisation

#: Role lives in a light module (the command line's choices); it is part of this model's API.
__all__ = ["Role", "User"]


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: e-mail addresses are compared case-insensitively.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), default=Role.MEMBER)
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    locale: Mapped[str] = mapped_column(sa.String(5), default="nl")
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on logout, password change and deactivation: every other session ends.
    session_version: Mapped[int] = mapped_column(default=1)
    # Demo accounts log in only while DEMO_MODE is on.
    is_demo: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when a self-registered account waits for its owner to open the link in the
    # confirmation e-mail (the account acts only once it is cleared); None for every other.
    unconfirmed_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")

    __table_args__ = (
        sa.CheckConstraint(
            "role != 'member' OR organisation_id IS NOT NULL", name="member_has_organisation"
        ),
        sa.Index("ix_users_role_email", "role", "email"),  # the admin's list, in pages
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def may_act(self, *, demo_mode: bool) -> bool:
        """Whether this account may act at all, by any door (password login, an open session,
        a password reset, an API token): active, its address confirmed, and a demo account
        only in demo mode. The one place this is decided."""
        return (bool(self.active) and self.unconfirmed_since is None
                and (not self.is_demo or demo_mode))

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
