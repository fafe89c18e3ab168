from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.extensions import db
from matchmaker.models import enum_column, utcnow
from matchmaker.types import UTCDateTime


class MailKind(StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"
    THRESHOLD = "threshold"
    OFFER = "offer"
    DECISION = "decision"
    CANCELLATION = "cancellation"
    CONSENT = "consent"
    ACCOUNT = "account"  # password reset and other mail about the account itself


class Outbox(db.Model):
    """One e-mail, queued in the transaction that decided to send it.

    ``dedupe_key`` names what the message is about (``reminder:7:...``); its UNIQUE constraint
    makes queuing idempotent, so running ``send-reminders`` twice queues nothing new.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    locale: Mapped[str] = mapped_column(sa.String(5), default="nl")
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[MailKind] = mapped_column(enum_column(MailKind, "mail_kind"))
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    # What the message is about, e.g. "campaign:12", for listing and tests.
    topic: Mapped[str] = mapped_column(sa.String(60), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    # Set when a member made the service send this message to an address the member typed
    # (``mail.services.queue_on_behalf``): what the per-member and per-recipient limits count.
    sender_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
