"""The ``matchmaker`` command line.

App commands (accounts, imports, demo data, ``db`` migrations, ``run``) load the app; the
analysis commands (``bundle``, ``match``, ``verify``, ``heat``, ``hub``) work on files alone,
without a database. Messages are Dutch unless ``MATCHMAKER_LANG=en``.

Commands load lazily (click's "lazy group" pattern): the group knows each command by name,
import path and one-line help, and imports a command's module only to run it or to print its
own help. Listing the commands imports none of them and does not create the app (which would
import every feature), and importing ``matchmaker`` imports nothing but the standard library,
so ``matchmaker --help`` and every command's ``--help`` cost little more than click and Flask:
no SQLAlchemy, Flask extensions, pandas, geopandas, shapely, scipy, OR-Tools or pvlib
(tests/matchmaker/test_cli_startup.py).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

import click
from flask.cli import FlaskGroup

if TYPE_CHECKING:
    from flask import Flask

class Lazy(NamedTuple):
    """Where a command lives and its one-line help, so that the listing imports nothing."""

    path: str  # "module:attribute"
    summary: str  # the command's short help; a test keeps it equal to the command's own


#: Every command of ours. App commands are also added to ``app.cli`` (for ``flask --app
#: matchmaker``) by :func:`register`.
APP_COMMANDS = {
    "backup": Lazy("matchmaker.admin.cli:backup_command",
                   "Write every table to FILE (a ZIP of JSON Lines; restores on SQLite and "
                   "PostgreSQL)."),
    "check": Lazy("matchmaker.admin.cli:check_command",
                  "Report unsafe settings; with --deploy, exit 1 when production would be "
                  "insecure."),
    "create-token": Lazy("matchmaker.api.cli:create_token_command",
                         "Issue an API token for the provider account EMAIL; the token is "
                         "printed once."),
    "create-user": Lazy("matchmaker.auth.cli:create_user_command",
                        "Create an account, typically for staff: coordinators, providers and "
                        "admins."),
    "demo": Lazy("matchmaker.demo_cli:demo_command",
                 "Load the demo data for Assen once (does nothing when it is loaded already)."),
    "import-addresses": Lazy("matchmaker.register.cli:import_addresses_command",
                             "Import an address register (CSV, GeoPackage or GeoParquet, "
                             "BAG-like columns; see the README)."),
    "import-areas": Lazy("matchmaker.register.cli:import_areas_command",
                         "Import areas (parks, kringen, postcode areas, neighbourhoods) from "
                         "GeoJSON, GeoPackage or GeoParquet."),
    "purge": Lazy("matchmaker.admin.cli:purge_command",
                  "Delete audit entries and sent e-mail past their retention period."),
    "restore": Lazy("matchmaker.admin.cli:restore_command",
                    "Replace ALL data with the backup in FILE, in one transaction."),
    "send-mail": Lazy("matchmaker.mail.cli:send_mail_command",
                      "Send queued e-mail over SMTP (SMTP_HOST, SMTP_PORT, SMTP_USER, ...)."),
    "scheduler": Lazy("matchmaker.ops.schedule:scheduler_command",
                      "Queue the scheduled commands at their times (needs REDIS_URL; `matchmaker "
                      "worker` runs them): send-mail every 5 minutes, send-reminders hourly, "
                      "snapshot-fibre and purge daily."),
    "send-reminders": Lazy("matchmaker.campaigns.cli:send_reminders_command",
                           "Queue reminders 7 days and 1 day before each registration and "
                           "decision deadline."),
    "serve": Lazy("matchmaker.ops.serve:serve_command",
                  "Run the production stack: Gunicorn web workers (WEB_CONCURRENCY), the RQ "
                  "worker and the scheduler, until Ctrl-C or TERM (HUP reloads)."),
    "snapshot-fibre": Lazy("matchmaker.fibre.cli:snapshot_fibre_command",
                           "Take today's snapshot of fibre demand (once a day; running it again "
                           "changes nothing), decide what is published and queue the "
                           "\"threshold reached\" e-mail."),
    "worker": Lazy("matchmaker.jobs:worker_command",
                   "Run queued jobs (needs MATCHMAKER_JOB_QUEUE=rq and REDIS_URL)."),
}
#: The file-only analysis commands need no app.
ANALYSIS_COMMANDS = {
    "bundle": Lazy("matchmaker.bundles.cli:bundle_command",
                   "Bundle the demand in INPUT by location and write it to --output."),
    "heat": Lazy("matchmaker.heat.cli:heat_command",
                 "Find candidate heat networks: heat sources with the heat demand near them."),
    "hub": Lazy("matchmaker.hub.cli:hub_command",
                "Analyse an energy hub: sites sharing grid capacity under one group contract."),
    "match": Lazy("matchmaker.energy.cli:match_command",
                  "Match producers' surplus with consumers' demand within a maximum distance."),
    "verify": Lazy("matchmaker.energy.cli:verify_command",
                   "Check that FLOWS is proven optimal by CERTIFICATE, without trusting our "
                   "solver."),
}
#: Flask-Migrate's ``db`` group (``Migrate.init_app`` also puts it on ``app.cli``); loading it
#: imports Alembic, so only ``matchmaker db ...`` does.
LAZY_COMMANDS = {**APP_COMMANDS, **ANALYSIS_COMMANDS,
                 "db": Lazy("flask_migrate.cli:db", "Perform database migrations.")}


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
            self.add_command(_load(LAZY_COMMANDS[name].path), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing as click writes it, with our commands' help from the registry: loading
        each command to ask for its help would import all of them."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            lazy = LAZY_COMMANDS.get(name)
            command = (self.commands.get(name) if lazy is None
                       else click.Command(name, help=lazy.summary))
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _command in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit))
                                    for name, command in rows])


main = MatchmakerGroup(
    name="matchmaker", create_app=_create_app, add_version_option=False,
    help="Collective purchasing and matchmaking service (inkoopacties, vraagbundeling).",
)


def register(app: Flask) -> None:
    """Add the app commands to ``app.cli`` (``flask --app matchmaker ...``)."""
    for name, lazy in APP_COMMANDS.items():
        app.cli.add_command(_load(lazy.path), name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
