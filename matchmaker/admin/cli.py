"""Operations commands: backup and restore, the production-readiness check, retention."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from matchmaker.cli_support import _, transactional


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@transactional
def backup_command(file: Path) -> None:
    """Write every table to FILE (a ZIP of JSON Lines; restores on SQLite and PostgreSQL)."""
    from matchmaker.backup import backup

    counts = backup(file)
    click.echo(_("Backup written to %(file)s: %(rows)s rows in %(tables)s tables.",
                 file=str(file), rows=sum(counts.values()), tables=len(counts)))


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm that all current data is replaced.")
@transactional
def restore_command(file: Path, yes: bool) -> None:
    """Replace ALL data with the backup in FILE, in one transaction."""
    from matchmaker.backup import restore

    if not yes:
        raise click.UsageError(_("Restoring replaces all data; add --yes to confirm."))
    counts = restore(file)
    click.echo(_("Restored %(rows)s rows in %(tables)s tables from %(file)s.",
                 file=str(file), rows=sum(counts.values()), tables=len(counts)))


@click.command("check")
@click.option("--deploy", is_flag=True, help="Check the settings for running in production.")
@with_appcontext
def check_command(deploy: bool) -> None:
    """Report unsafe settings; with --deploy, exit 1 when production would be insecure."""
    from matchmaker.security import current_findings, report_lines, secure_enough

    findings = current_findings()
    for line in report_lines(findings):
        click.echo(line)
    if not findings:
        click.echo(_("No problems found."))
    if deploy and not secure_enough(findings):
        sys.exit(1)


@click.command("purge")
@transactional
def purge_command() -> None:
    """Delete audit entries and sent e-mail past their retention period."""
    from matchmaker.members.gdpr import purge_expired

    counts = purge_expired(audit_days=current_app.config["AUDIT_RETENTION_DAYS"],
                           mail_days=current_app.config["MAIL_RETENTION_DAYS"])
    click.echo(_("Removed %(audit)s audit entries and %(mail)s sent e-mails.",
                 audit=counts["audit_log"], mail=counts["outbox"]))
