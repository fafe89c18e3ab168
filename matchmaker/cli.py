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
    from matchmaker.campaigns.cli import send_reminders_command
    from matchmaker.demo import demo_command
    from matchmaker.fibre.cli import snapshot_fibre_command
    from matchmaker.jobs import worker_command
    from matchmaker.mail.cli import send_mail_command
    from matchmaker.register.cli import import_addresses_command, import_areas_command

    for command in (create_user_command, import_addresses_command, import_areas_command,
                    demo_command, send_reminders_command, send_mail_command, worker_command,
                    create_token_command, snapshot_fibre_command):
        app.cli.add_command(command)


def _add_analysis_commands() -> None:
    """File-only commands, added when their modules are present."""
    import importlib

    for module, name in (("matchmaker.bundles.cli", "bundle_command"),
                         ("matchmaker.energy.cli", "match_command"),
                         ("matchmaker.heat.cli", "heat_command")):
        try:
            command = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        main.add_command(command)


_add_analysis_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
