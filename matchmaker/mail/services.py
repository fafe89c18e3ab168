"""Queue, render and deliver e-mail.

Messages are rendered when queued, in the recipient's language (Dutch unless they chose
English), so the outbox shows exactly what is sent. Delivery (``send-mail``) claims one message
at a time: two senders running at once never send the same message twice.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_date
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import force_locale, gettext
from flask_sqlalchemy.pagination import Pagination
from jinja2 import Environment
from markupsafe import Markup, escape
from sqlalchemy.dialects import postgresql, sqlite

from matchmaker.audit.services import record
from matchmaker.auth.models import Role
from matchmaker.database import rowcount
from matchmaker.errors import N_, TooMany
from matchmaker.extensions import db
from matchmaker.i18n import localized
from matchmaker.mail.models import MailKind, Outbox
from matchmaker.models import utcnow

MAX_ATTEMPTS = 5
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
_URL = re.compile(r"(https?://[^\s<>\"]+)")


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for an e-mail: ``BASE_URL`` + the route's path.

    From configuration only (not from the request, which a CLI run does not have and a
    service must not read): set ``MATCHMAKER_BASE_URL`` in production.
    """
    base = current_app.config.get("BASE_URL") or DEFAULT_BASE_URL
    with current_app.test_request_context():
        path = url_for(endpoint, **values)
    return base.rstrip("/") + path


def _html(subject: str, text: str, locale: str) -> str:
    """The HTML part: the text's paragraphs, links clickable, everything escaped."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [
            _URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', str(escape(line)))
            for line in block.splitlines()
        ]
        paragraphs.append(Markup("<p>{}</p>").format(Markup("<br>\n".join(lines))))
    return current_app.jinja_env.get_template("mail/layout.html").render(
        subject=subject, paragraphs=paragraphs, locale=locale
    )


def text_environment() -> Environment:
    """The app's Jinja environment without autoescaping, for plain-text mail bodies.

    Text templates are named ``mail/<name>.txt.html``: the ``.html`` suffix only puts them in
    Babel's extraction (``templates/**.html``); they are rendered as text, unescaped.
    """
    env = current_app.extensions.get("mail_text_env")
    if env is None:
        env = current_app.jinja_env.overlay(autoescape=False)
        current_app.extensions["mail_text_env"] = env
    return env


def render(template: str, subject: str, locale: str, context: dict[str, Any]
           ) -> tuple[str, str, str]:
    """(subject, text, html) of ``mail/<template>.txt.html`` in ``locale``.

    ``subject`` is an English message id; ``context`` fills it and the template. Rendered
    with the Jinja environment directly: the page context processors need a request.
    """
    with force_locale(locale):
        title = gettext(subject, **localized({k: v for k, v in context.items()
                                               if f"%({k})s" in subject}))
        text = text_environment().get_template(f"mail/{template}.txt.html").render(
            subject=title, locale=locale, **context
        )
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        return title, text, _html(title, text, locale)


def queue_mail(
    recipient: str,
    *,
    kind: MailKind,
    dedupe_key: str,
    template: str,
    subject: str,
    locale: str = "nl",
    topic: str = "",
    sender_organisation_id: int | None = None,
    **context: Any,
) -> bool:
    """Queue a message once: returns False when ``dedupe_key`` was queued before.

    An ``INSERT ... ON CONFLICT DO NOTHING`` on the unique key, so a concurrent or repeated
    run neither fails nor queues a second copy.
    """
    locale = locale if locale in current_app.config["LANGUAGES"] else "nl"
    title, text, html = render(template, subject, locale, context)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Outbox.__table__).values(
        recipient=recipient, locale=locale, subject=title[:300], body_text=text, body_html=html,
        kind=kind, dedupe_key=dedupe_key[:200], topic=topic, created_at=utcnow(), attempts=0,
        last_error="", sender_organisation_id=sender_organisation_id,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"])
    # rowcount of an INSERT is only kept on request (SQLAlchemy 2: UPDATE/DELETE only).
    result = db.session.execute(statement.execution_options(preserve_rowcount=True))
    return bool(rowcount(result))


# --- mail a member makes the service send -----------------------------------------------------
#
# A member can make the service e-mail an address it types (the owner-consent link). So that
# the service cannot be used to send someone else's words, every such message goes through
# :func:`queue_on_behalf`: a limit per member organisation and per recipient, fixed wording in
# which everything the member typed is shown as a quotation (:func:`quoted`), and an audit
# entry.

#: At most this many messages per member organisation per day, and per recipient per week.
ON_BEHALF_PER_MEMBER_PER_DAY = 5
ON_BEHALF_PER_RECIPIENT_PER_WEEK = 3
_LINKISH = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*")
_QUOTE_MAX = 120


def quoted(text: str | None) -> str:
    """Text a member typed, as a quotation in a message: one line, at most 120 characters,
    links and addresses of web pages removed (they must never become clickable), between
    quotation marks so the reader sees whose words they are."""
    line = " ".join(str(text or "").split())
    line = _LINKISH.sub("[…]", line).replace("“", '"').replace("”", '"')
    if len(line) > _QUOTE_MAX:
        line = line[:_QUOTE_MAX - 1].rstrip() + "…"
    return f"“{line}”"


def queue_on_behalf(recipient: str, *, organisation_id: int, actor: Any, kind: MailKind,
                    dedupe_key: str, template: str, subject: str, locale: str = "nl",
                    topic: str = "", **context: Any) -> bool:
    """Queue a message that a member organisation makes the service send to ``recipient``
    (an address the member typed). Refuses (``TooMany``, 429) above the limits; the template
    must show member-entered text only through :func:`quoted`. Audited."""
    now = utcnow()
    by_member = db.session.scalar(sa.select(sa.func.count(Outbox.id)).where(
        Outbox.sender_organisation_id == organisation_id,
        Outbox.created_at > now - timedelta(days=1)))
    if (by_member or 0) >= ON_BEHALF_PER_MEMBER_PER_DAY:
        raise TooMany(N_("You have sent %(n)s requests by e-mail today, the most we send for "
                         "one member per day; try again tomorrow."),
                      n=ON_BEHALF_PER_MEMBER_PER_DAY)
    to_recipient = db.session.scalar(sa.select(sa.func.count(Outbox.id)).where(
        sa.func.lower(Outbox.recipient) == recipient.strip().lower(),
        Outbox.sender_organisation_id.is_not(None),
        Outbox.created_at > now - timedelta(days=7)))
    if (to_recipient or 0) >= ON_BEHALF_PER_RECIPIENT_PER_WEEK:
        raise TooMany(N_("This address has received %(n)s requests from members this week, "
                         "the most we send; ask the owner in another way."),
                      field="owner_email", n=ON_BEHALF_PER_RECIPIENT_PER_WEEK)
    queued = queue_mail(recipient, kind=kind, dedupe_key=dedupe_key, template=template,
                        subject=subject, locale=locale, topic=topic,
                        sender_organisation_id=organisation_id, **context)
    record(actor, "mail.on_behalf", ("organisations", organisation_id), recipient=recipient,
           kind=str(kind), template=template)
    return queued


# --- delivery ---------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def smtp_configured(config: dict[str, Any]) -> bool:
    return bool(config.get("SMTP_HOST"))


def pending_ids(limit: int = 200) -> list[int]:
    return list(db.session.scalars(
        sa.select(Outbox.id).where(Outbox.sent_at.is_(None), Outbox.attempts < MAX_ATTEMPTS)
        .order_by(Outbox.id).limit(limit)
    ))


def claim(message_id: int) -> Outbox | None:
    """Take a message for delivery (attempts + 1); ``None`` when another sender has it.

    The edge commits the claim before it sends, so a crash after sending cannot lead to a
    second delivery by the next run beyond ``MAX_ATTEMPTS``, and two senders never both win.
    """
    current = db.session.scalar(sa.select(Outbox.attempts).where(Outbox.id == message_id))
    if current is None:
        return None
    result = db.session.execute(
        sa.update(Outbox)
        .where(Outbox.id == message_id, Outbox.sent_at.is_(None), Outbox.attempts == current)
        .values(attempts=Outbox.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return None
    message = db.session.get(Outbox, message_id)
    if message is not None:
        db.session.refresh(message)
    return message


def build_message(message: Outbox, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = rfc2822_date(utcnow())
    email["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or None)
    email["Auto-Submitted"] = "auto-generated"
    email["Content-Language"] = message.locale
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    return email


def open_smtp(config: dict[str, Any]) -> smtplib.SMTP:
    """A connection as configured: implicit TLS on port 465, else STARTTLS unless turned off."""
    host, port, timeout = config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_TIMEOUT"]
    connection: smtplib.SMTP
    if port == 465:
        connection = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                      context=ssl.create_default_context())
    else:
        connection = smtplib.SMTP(host, port, timeout=timeout)
        if config["SMTP_STARTTLS"]:
            connection.starttls(context=ssl.create_default_context())
    if config.get("SMTP_USER"):
        connection.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
    return connection


def deliver(message: Outbox, connection: smtplib.SMTP, sender: str) -> None:
    """Send one claimed message and mark it sent; on failure keep the error for the outbox."""
    try:
        connection.send_message(build_message(message, sender))
    except (smtplib.SMTPException, OSError) as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        db.session.flush()
        raise
    message.sent_at = utcnow()
    message.last_error = ""
    db.session.flush()


# --- who reads what ---------------------------------------------------------------------------
#
# A message may carry a link that acts for its recipient (a password reset, an owner's consent,
# a future one-time link). Such a link is shown to nobody but the recipient, in any mode: the
# outbox shows an admin every message with *every* link withheld (no list of "secret" routes
# to keep up to date), and shows anyone their own mail in full (in demo mode, where the outbox
# stands in for a mailbox). Nobody but an admin sees another person's mail at all.


def _is_recipient(message: Outbox, viewer: Any) -> bool:
    return bool(viewer.email) and message.recipient.strip().lower() == viewer.email.lower()


def _is_admin(viewer: Any) -> bool:
    return bool(viewer.role == Role.ADMIN)


def outbox_page(page: int, *, per_page: int, viewer: Any) -> Pagination:
    """One page of the outbox as ``viewer`` may see it (admins: all; others: their own),
    newest first, counted and sliced in SQL."""
    query = sa.select(Outbox).order_by(Outbox.id.desc())
    if not _is_admin(viewer):
        query = query.where(sa.func.lower(Outbox.recipient) == viewer.email.lower())
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def may_read(message: Outbox, viewer: Any) -> bool:
    return _is_admin(viewer) or _is_recipient(message, viewer)


def shown_text(message: Outbox, viewer: Any) -> str:
    """The body as ``viewer`` may read it: in full for the recipient, every link withheld
    for anyone else."""
    if _is_recipient(message, viewer):
        return message.body_text
    hidden = gettext("[link withheld: only the recipient sees it]")
    return _URL.sub(hidden, message.body_text)
