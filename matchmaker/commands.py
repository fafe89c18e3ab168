"""The ``matchmaker`` console script and the registry of its commands, without Flask.

The analysis commands (``bundle``, ``match``, ``verify``, ``heat``, ``hub``) work on files
alone, so :func:`run` starts them directly: their process imports neither Flask nor the
command group (:mod:`matchmaker.cli`), whose imports would be a good part of a short run.
Everything else goes through the Flask command group.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, NamedTuple

import click


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


def load(path: str) -> click.Command:
    """The command at ``path`` ("module:attribute"), imported now."""
    module, attribute = path.split(":")
    command = getattr(import_module(module), attribute)
    if not isinstance(command, click.Command):  # pragma: no cover - a wrong registry entry
        raise TypeError(f"{path} is not a click command")
    return command


def run(args: list[str] | None = None) -> Any:
    """The console script ``matchmaker``."""
    args = sys.argv[1:] if args is None else args
    if args and args[0] in ANALYSIS_COMMANDS:
        return load(ANALYSIS_COMMANDS[args[0]].path).main(
            args[1:], prog_name=f"matchmaker {args[0]}")
    from matchmaker.cli import main

    return main.main(args, prog_name="matchmaker")
