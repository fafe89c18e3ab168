"""The ``matchmaker`` command line.

App commands (accounts, imports, demo data, ``db`` migrations, ``run``) load the app; the
analysis commands (``bundle``, ``match``, ``heat``) work on files alone, without a database.
Messages are Dutch unless ``MATCHMAKER_LANG=en``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from geo.errors import GeoError
from matchmaker.cli_support import InputError, _
from matchmaker.database import write_intent
from matchmaker.errors import ServiceError
from matchmaker.extensions import db


def _create_app() -> Flask:
    from matchmaker import create_app

    return create_app()


main = FlaskGroup(
    name="matchmaker", create_app=_create_app, add_version_option=False,
    help="Collective purchasing and matchmaking service (inkoopacties, vraagbundeling).",
)


def transactional(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command in one write transaction: commit on success, roll back on any error.

    User errors (bad files, refused values) print one translated line and exit with code 2.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with write_intent():
            try:
                result = command(*args, **kwargs)
                db.session.commit()
                return result
            except GeoError as err:
                db.session.rollback()
                raise InputError.from_geo(err) from err
            except ServiceError as err:
                db.session.rollback()
                raise InputError(_(err.msgid, **err.params)) from err
            except BaseException:
                db.session.rollback()
                raise

    return with_appcontext(wrapper)


def register(app: Flask) -> None:
    from matchmaker.api.cli import create_token_command
    from matchmaker.auth.cli import create_user_command
    from matchmaker.backup import backup_command, restore_command
    from matchmaker.campaigns.cli import send_reminders_command
    from matchmaker.demo import demo_command
    from matchmaker.fibre.cli import snapshot_fibre_command
    from matchmaker.jobs import worker_command
    from matchmaker.mail.cli import send_mail_command
    from matchmaker.members.gdpr import purge_command
    from matchmaker.register.cli import import_addresses_command, import_areas_command

    for command in (create_user_command, import_addresses_command, import_areas_command,
                    demo_command, send_reminders_command, send_mail_command, worker_command,
                    create_token_command, snapshot_fibre_command, backup_command,
                    restore_command, check_command, purge_command):
        app.cli.add_command(command)


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


# The file-only analysis commands need no app: they are on the group itself.
from matchmaker.bundles.cli import bundle_command
from matchmaker.energy.cli import match_command
from matchmaker.heat.cli import heat_command
from matchmaker.hub.cli import hub_command

for _analysis in (bundle_command, match_command, heat_command, hub_command):
    main.add_command(_analysis)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
