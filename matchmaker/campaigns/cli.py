"""``matchmaker send-reminders``: queue the deadline reminders (cron it hourly or daily)."""

from __future__ import annotations

import click

from matchmaker.cli_support import _, transactional


@click.command("send-reminders")
@transactional
def send_reminders_command() -> None:
    """Queue reminders 7 days and 1 day before each registration and decision deadline.

    Safe to run as often as you like: a reminder is never queued twice. `send-mail` sends
    them.
    """
    from matchmaker.campaigns.services import queue_reminders

    count = queue_reminders()
    click.echo(_("%(count)s reminder(s) queued.", count=count))
