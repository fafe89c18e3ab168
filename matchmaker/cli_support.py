"""Shared pieces of the command line: translated one-line errors with exit code 2.

The analysis commands (``bundle``, ``match``, ``heat``) work without the web app or a database,
so they translate with Babel directly instead of through Flask-Babel.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import click
from babel.support import NullTranslations, Translations

from geo.errors import GeoError

TRANSLATIONS_DIR = Path(__file__).parent / "translations"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue for ``locale`` (Dutch unless ``MATCHMAKER_LANG=en``)."""
    return Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")


def cli_locale() -> str:
    return "en" if os.environ.get("MATCHMAKER_LANG", "nl").lower().startswith("en") else "nl"


def _(msgid: str, **params: Any) -> str:
    """Translate a command-line message into the command-line language."""
    text = translations(cli_locale()).gettext(msgid)
    return text % params if params else text


class InputError(click.ClickException):
    """Bad input to a command: one translated line on stderr, exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @classmethod
    def from_geo(cls, err: GeoError) -> InputError:
        return cls(_(err.msgid, **err.params))

    def show(self, file: Any = None) -> None:
        click.echo(_("Error: %(message)s", message=self.format_message()), err=True)
