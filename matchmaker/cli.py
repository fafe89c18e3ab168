"""The ``matchmaker`` command line.

App commands (accounts, imports, demo data, ``db`` migrations, ``run``) load the app; the
analysis commands (``bundle``, ``match``, ``heat``) work on files alone, without a database.
Messages are Dutch unless ``MATCHMAKER_LANG=en``.
"""

from __future__ import annotations

import sys

from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    from matchmaker import create_app

    return create_app()


main = FlaskGroup(
    name="matchmaker", create_app=_create_app, add_version_option=False,
    help="Collective purchasing and matchmaking service (inkoopacties, vraagbundeling).",
)


def register(app: Flask) -> None:
    from matchmaker.admin.cli import (
        backup_command,
        check_command,
        purge_command,
        restore_command,
    )
    from matchmaker.api.cli import create_token_command
    from matchmaker.auth.cli import create_user_command
    from matchmaker.campaigns.cli import send_reminders_command
    from matchmaker.demo import demo_command
    from matchmaker.fibre.cli import snapshot_fibre_command
    from matchmaker.jobs import worker_command
    from matchmaker.mail.cli import send_mail_command
    from matchmaker.register.cli import import_addresses_command, import_areas_command

    for command in (create_user_command, import_addresses_command, import_areas_command,
                    demo_command, send_reminders_command, send_mail_command, worker_command,
                    create_token_command, snapshot_fibre_command, backup_command,
                    restore_command, check_command, purge_command):
        app.cli.add_command(command)


# The file-only analysis commands need no app: they are on the group itself.
from matchmaker.bundles.cli import bundle_command
from matchmaker.energy.cli import match_command
from matchmaker.heat.cli import heat_command
from matchmaker.hub.cli import hub_command

for _analysis in (bundle_command, match_command, heat_command, hub_command):
    main.add_command(_analysis)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
