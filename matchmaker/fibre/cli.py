"""``matchmaker snapshot-fibre``: the day's fibre snapshot, publication and threshold e-mail."""

from __future__ import annotations

import click

from matchmaker.cli_support import _, transactional


@click.command("snapshot-fibre")
@transactional
def snapshot_fibre_command() -> None:
    """Take today's snapshot of fibre demand (once a day; running it again changes nothing),
    decide what is published and queue the "threshold reached" e-mail. Cron it daily."""
    from matchmaker.fibre.services import prepare_progress, refresh

    snapshot = refresh()
    prepare_progress()
    click.echo(_("Fibre snapshot of %(day)s is ready.", day=snapshot.day.isoformat()))
