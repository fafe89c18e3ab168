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

from matchmaker.database import rowcount
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
        last_error="",
    ).on_conflict_do_nothing(index_elements=["dedupe_key"])
    # rowcount of an INSERT is only kept on request (SQLAlchemy 2: UPDATE/DELETE only).
    result = db.session.execute(statement.execution_options(preserve_rowcount=True))
    return bool(rowcount(result))


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


def outbox_page(page: int, *, per_page: int) -> Pagination:
    """One page of the outbox, newest first, counted and sliced in SQL."""
    return db.paginate(sa.select(Outbox).order_by(Outbox.id.desc()), page=page,
                       per_page=per_page, error_out=False)
