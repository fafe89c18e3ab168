"""The ``matchmaker`` command line.

App commands (accounts, imports, demo data, ``db`` migrations, ``run``) load the app; the
analysis commands (``bundle``, ``match``, ``verify``, ``heat``, ``hub``) work on files alone, without a
database. Messages are Dutch unless ``MATCHMAKER_LANG=en``.

Commands load lazily (click's "lazy group" pattern): the group knows each command by name and
import path, and imports a command's module only to run it or to print its help. Listing the
commands does not create the app (which would import every feature), so ``matchmaker --help``
and every command's ``--help`` start in a fraction of a second without pandas, geopandas,
shapely, scipy, OR-Tools or pvlib (tests/matchmaker/test_cli_startup.py).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING

import click
from flask.cli import FlaskGroup

if TYPE_CHECKING:
    from flask import Flask

#: Every command of ours: name -> "module:attribute". App commands are also added to
#: ``app.cli`` (for ``flask --app matchmaker``) by :func:`register`.
APP_COMMANDS = {
    "backup": "matchmaker.admin.cli:backup_command",
    "check": "matchmaker.admin.cli:check_command",
    "create-token": "matchmaker.api.cli:create_token_command",
    "create-user": "matchmaker.auth.cli:create_user_command",
    "demo": "matchmaker.demo_cli:demo_command",
    "import-addresses": "matchmaker.register.cli:import_addresses_command",
    "import-areas": "matchmaker.register.cli:import_areas_command",
    "purge": "matchmaker.admin.cli:purge_command",
    "restore": "matchmaker.admin.cli:restore_command",
    "send-mail": "matchmaker.mail.cli:send_mail_command",
    "scheduler": "matchmaker.ops.schedule:scheduler_command",
    "send-reminders": "matchmaker.campaigns.cli:send_reminders_command",
    "serve": "matchmaker.ops.serve:serve_command",
    "snapshot-fibre": "matchmaker.fibre.cli:snapshot_fibre_command",
    "worker": "matchmaker.jobs:worker_command",
}
#: The file-only analysis commands need no app.
ANALYSIS_COMMANDS = {
    "bundle": "matchmaker.bundles.cli:bundle_command",
    "heat": "matchmaker.heat.cli:heat_command",
    "hub": "matchmaker.hub.cli:hub_command",
    "match": "matchmaker.energy.cli:match_command",
    "verify": "matchmaker.energy.cli:verify_command",
}
#: Flask-Migrate's ``db`` group (``Migrate.init_app`` also puts it on ``app.cli``).
LAZY_COMMANDS = {**APP_COMMANDS, **ANALYSIS_COMMANDS, "db": "flask_migrate.cli:db"}


def _load(path: str) -> click.Command:
    module, attribute = path.split(":")
    command = getattr(import_module(module), attribute)
    if not isinstance(command, click.Command):  # pragma: no cover - a wrong registry entry
        raise TypeError(f"{path} is not a click command")
    return command


def _create_app() -> Flask:
    from matchmaker import create_app

    return create_app()


class MatchmakerGroup(FlaskGroup):
    """A FlaskGroup whose own commands load on demand and whose listing needs no app."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()  # Flask's run, shell, routes and Flask-Migrate's db
        return sorted(set(click.Group.list_commands(self, ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            self.add_command(_load(LAZY_COMMANDS[name]), name)
        return super().get_command(ctx, name)


main = MatchmakerGroup(
    name="matchmaker", create_app=_create_app, add_version_option=False,
    help="Collective purchasing and matchmaking service (inkoopacties, vraagbundeling).",
)


def register(app: Flask) -> None:
    """Add the app commands to ``app.cli`` (``flask --app matchmaker ...``)."""
    for name, path in APP_COMMANDS.items():
        app.cli.add_command(_load(path), name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
