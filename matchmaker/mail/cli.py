"""``matchmaker send-mail``: deliver the outbox over SMTP (cron it every few minutes)."""

from __future__ import annotations

import smtplib

import click
from flask import current_app

from matchmaker.cli_support import InputError, _, transactional


@click.command("send-mail")
@click.option("--limit", default=200, show_default=True, help="At most this many messages.")
@transactional
def send_mail_command(limit: int) -> None:
    """Send queued e-mail over SMTP (SMTP_HOST, SMTP_PORT, SMTP_USER, ...).

    Without SMTP_HOST nothing is sent: mail stays in the outbox (visible to admins). Each
    message is committed as claimed before it is sent and as sent after it, so an interrupted
    run resumes where it stopped; failed messages are retried up to five times.
    """
    from matchmaker.extensions import db
    from matchmaker.mail.services import claim, deliver, open_smtp, pending_ids, smtp_configured

    config = current_app.config
    ids = pending_ids(limit)
    if not smtp_configured(config):
        click.echo(_("SMTP_HOST is not set: %(count)s message(s) stay in the outbox.",
                     count=len(ids)))
        return
    if not ids:
        click.echo(_("No messages to send."))
        return
    try:
        connection = open_smtp(config)
    except (smtplib.SMTPException, OSError) as exc:
        raise InputError(_("Cannot connect to the mail server %(host)s: %(reason)s",
                           host=config["SMTP_HOST"], reason=str(exc))) from exc
    sent = failed = 0
    try:
        for message_id in ids:
            message = claim(message_id)
            db.session.commit()  # the claim holds even if sending crashes
            if message is None:
                continue
            try:
                deliver(message, connection, config["SMTP_FROM"])
            except smtplib.SMTPServerDisconnected:
                failed += 1
                db.session.commit()
                connection = open_smtp(config)
                continue
            except (smtplib.SMTPException, OSError):
                failed += 1
            else:
                sent += 1
            db.session.commit()
    finally:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            pass
    click.echo(_("%(sent)s message(s) sent, %(failed)s failed.", sent=sent, failed=failed))
