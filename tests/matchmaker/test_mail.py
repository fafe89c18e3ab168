"""E-mail: rendered in the recipient's language, queued once per dedupe key, delivered to a
real (local) SMTP server by ``matchmaker send-mail``, and listed on the outbox page."""

from __future__ import annotations

import email
import socket
import socketserver
import threading
from collections.abc import Iterator
from email.policy import default as default_policy

import pytest
import sqlalchemy as sa

from matchmaker.auth.models import Role
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind, Outbox
from matchmaker.mail.services import MAX_ATTEMPTS, queue_mail

from .conftest import Cli
from .test_campaign_support import Buy, mails


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to receive mail: EHLO, MAIL, RCPT, DATA, RSET, QUIT.

    Recipients containing "refuse" get a permanent 550, as a real server does for an unknown
    mailbox.
    """

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        sink: SMTPSink = self.server.sink  # type: ignore[attr-defined]
        sender, recipients = "", []
        self.reply("220 sink ESMTP ready")
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-sink greets you")
                self.reply("250 8BITMIME")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip(" <>")
                if "refuse" in address:
                    self.reply("550 5.1.1 No such mailbox")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = bytearray()
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                sink.received.append((sender, recipients, bytes(data)))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SMTPSink:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
        self.server.daemon_threads = True
        self.server.sink = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(data, policy=default_policy)  # type: ignore[misc]
                for _s, _r, data in self.received]


@pytest.fixture
def smtp(base_app) -> Iterator[SMTPSink]:
    sink = SMTPSink()
    sink.thread.start()
    saved = {k: base_app.config[k] for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS")}
    base_app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_STARTTLS=False)
    try:
        yield sink
    finally:
        base_app.config.update(saved)
        sink.server.shutdown()
        sink.server.server_close()


def send_mail(app):
    return Cli(app).invoke("send-mail")


def test_mail_is_rendered_in_each_recipients_language(make):
    buy = Buy(make)
    dutch, _ = buy.member("10", locale="nl")
    english, _ = buy.member("10", locale="en")
    campaign = buy.campaign(title="Zon & <Dak>")
    buy.open(campaign, suppliers=[])
    by_recipient = {m.recipient: m for m in mails(MailKind.INVITATION)}
    nl, en = by_recipient[dutch.email], by_recipient[english.email]
    assert (nl.locale, en.locale) == ("nl", "en")
    assert nl.subject == "Nieuwe inkoopactie: Zon & <Dak>"
    assert en.subject == "New group buy: Zon & <Dak>"
    assert nl.body_text.startswith(f"Beste {dutch.name},") and "vrijblijvend" in nl.body_text
    assert en.body_text.startswith(f"Dear {english.name},") and "not binding" in en.body_text
    month = campaign.registration_deadline.strftime("%B")  # English month name
    assert month in en.body_text and month not in nl.body_text
    # Text stays text; the HTML part escapes it and makes the link clickable.
    assert "Zon & <Dak>" in nl.body_text
    assert "Zon &amp; &lt;Dak&gt;" in nl.body_html and "<Dak>" not in nl.body_html
    link = f"http://127.0.0.1:5000/campaigns/{campaign.id}"  # BASE_URL unset, no request
    assert f'<a href="{link}">{link}</a>' in nl.body_html and link in nl.body_text


def test_a_dedupe_key_is_queued_once(app):
    first = queue_mail("a@example.org", kind=MailKind.REMINDER, dedupe_key="k:1",
                       template="reminder_registration",
                       subject="Reminder: registration for %(title)s closes soon", **context())
    again = queue_mail("a@example.org", kind=MailKind.REMINDER, dedupe_key="k:1",
                       template="reminder_registration",
                       subject="Reminder: registration for %(title)s closes soon", **context())
    assert (first, again) == (True, False)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Outbox)) == 1


def context():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    campaign = SimpleNamespace(title="Zon", id=1)
    return {"title": "Zon", "campaign": campaign, "days": 7, "link": "http://x/1",
            "deadline": datetime(2027, 3, 1, 12, tzinfo=UTC), "user": None}


def test_send_mail_delivers_over_smtp_and_retries_only_failures(base_app, app, make, smtp):
    buy = Buy(make)
    members = [buy.member("10", locale=locale)[0] for locale in ("nl", "en")]
    refused = make.user(Role.MEMBER, email="refuse@example.org",
                        organisation=members[0].organisation)
    buy.open(buy.campaign(title="Zon op het dak"), suppliers=[])
    assert len(mails(MailKind.INVITATION)) == 3

    result = send_mail(app)
    assert result.exit_code == 0, result.output
    assert "2 bericht(en) verzonden, 1 mislukt." in result.output
    assert sorted(r for _s, rcpt, _d in smtp.received for r in rcpt) == sorted(
        m.email for m in members)
    message = next(m for m in smtp.messages() if m["To"] == members[0].email)
    assert message["Subject"] == "Nieuwe inkoopactie: Zon op het dak"
    assert message["From"] == base_app.config["SMTP_FROM"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Beste" in text and "<p>" in html
    rows = {m.recipient: m for m in mails(MailKind.INVITATION)}
    assert all(rows[m.email].sent_at is not None for m in members)
    failed = rows[refused.email]
    assert failed.sent_at is None and failed.attempts == 1 and "550" in failed.last_error

    again = send_mail(app)  # only the failure is retried; nothing is sent twice
    assert "0 bericht(en) verzonden, 1 mislukt." in again.output
    assert len(smtp.received) == 2 and failed.attempts == 2
    for _ in range(MAX_ATTEMPTS):
        send_mail(app)
    assert failed.attempts == MAX_ATTEMPTS  # then it is left for an admin to look at
    assert "Geen berichten om te verzenden." in send_mail(app).output


def test_without_an_smtp_server_mail_stays_queued(base_app, app, make):
    buy = Buy(make)
    buy.member("10")
    buy.open(buy.campaign(), suppliers=[])
    assert base_app.config["SMTP_HOST"] == ""
    result = send_mail(app)
    assert result.exit_code == 0
    assert "SMTP_HOST is niet ingesteld: 1 bericht(en) blijven klaarstaan." in result.output
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False)
    try:
        result = send_mail(app)
    finally:
        base_app.config.update(SMTP_HOST="", SMTP_PORT=587, SMTP_STARTTLS=True)
    assert result.exit_code == 2 and "Kan geen verbinding maken" in result.output
    assert [(m.sent_at, m.attempts) for m in mails()] == [(None, 0)]


def test_the_outbox_page_is_for_admins_or_everyone_in_demo_mode(base_app, client, auth, make,
                                                                text_of):
    buy = Buy(make)
    member, _ = buy.member("10")
    buy.open(buy.campaign(title="Zon op Testpark"), suppliers=[])
    message = mails()[0]
    auth.login(make.user(Role.ADMIN))
    page = text_of(client.get("/admin/outbox"))
    assert "Nieuwe inkoopactie: Zon op Testpark" in page and member.email in page
    assert "uitnodiging" in page and "invitation" not in page  # the kind, in Dutch
    assert "Beste" in text_of(client.get(f"/admin/outbox/{message.id}"))
    auth.logout()
    auth.login(member)
    assert client.get("/admin/outbox").status_code == 403
    base_app.config["DEMO_MODE"] = True
    try:
        assert client.get("/admin/outbox").status_code == 200
    finally:
        base_app.config["DEMO_MODE"] = False
