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
(tests/matchmaker/test_cli_startup.py). The registry lives in :mod:`matchmaker.commands`,
whose console script starts the analysis commands without this group and without Flask.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from flask.cli import FlaskGroup

from matchmaker.commands import ANALYSIS_COMMANDS, APP_COMMANDS, LAZY_COMMANDS, Lazy, load

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["ANALYSIS_COMMANDS", "APP_COMMANDS", "LAZY_COMMANDS", "Lazy", "main", "register"]
_load = load  # the name the tests know


def _create_app() -> Flask:
    from matchmaker import create_app

    return create_app()


class MatchmakerGroup(FlaskGroup):
    """A FlaskGroup whose own commands load on demand and whose listing needs no app."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()  # Flask's run, shell, routes and Flask-Migrate's db
        return sorted(set(click.Group.list_commands(self, ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:  # ours: neither Flask's plugins nor the app are needed
            if name not in self.commands:
                self.add_command(load(LAZY_COMMANDS[name].path), name)
            return self.commands[name]
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
        app.cli.add_command(load(lazy.path), name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
