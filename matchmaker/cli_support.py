"""Shared pieces of the command line: translated one-line errors with exit code 2, and the
transaction around app commands.

Imported by every command module, so it imports nothing but click at the top (Babel too is
imported when a message is translated): ``matchmaker --help`` and every command's help must
print without SQLAlchemy, pandas, geopandas, shapely, scipy, OR-Tools or pvlib
(tests/matchmaker/test_cli_startup.py).

The analysis commands (``bundle``, ``match``, ``heat``) work without the web app or a database,
so they translate with Babel directly instead of through Flask-Babel.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from geo.errors import GeoError

if TYPE_CHECKING:
    import geopandas as gpd
    from babel.support import NullTranslations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue for ``locale`` (Dutch unless ``MATCHMAKER_LANG=en``)."""
    from babel.support import Translations

    return Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")


def cli_locale() -> str:
    return "en" if os.environ.get("MATCHMAKER_LANG", "nl").lower().startswith("en") else "nl"


def cli_number(value: float, digits: int = 0) -> str:
    """``value`` with thousands separators and ``digits`` decimals, written the way the
    command-line language writes numbers (Dutch 20.000,5; English 20,000.5)."""
    from babel.numbers import format_decimal

    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""),
                          locale=cli_locale())


def cli_percent(share: float, digits: int = 1) -> str:
    """A share (0.5) as a percentage in the command-line language (Dutch 50,0%)."""
    from babel.numbers import format_percent

    return format_percent(share, format="#,##0" + ("." + "0" * digits if digits else "") + "%",
                          locale=cli_locale())


def _(msgid: str, **params: Any) -> str:
    """Translate a command-line message into the command-line language."""
    text = translations(cli_locale()).gettext(msgid)
    return text % params if params else text


def transactional(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run an app command in one write transaction: commit on success, roll back on any error.

    User errors (bad files, refused values) print one translated line and exit with code 2.
    """
    from flask.cli import with_appcontext

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from matchmaker.database import write_intent
        from matchmaker.errors import ServiceError
        from matchmaker.extensions import db

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


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """Write to a temporary file beside ``target`` and move it into place only when complete,
    so a failed or interrupted command never leaves half a file behind."""
    tmp = target.with_name(f".{target.stem}.partial{target.suffix}")
    with suppress(FileNotFoundError):
        tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_vector(frame: gpd.GeoDataFrame, kind: str, path: Path, name: str) -> None:
    """GeoJSON (WGS84, RFC 7946), GeoPackage or GeoParquet (both in the frame's CRS); a failure
    is one line."""
    import pyogrio

    from geo.crs import WGS84

    try:
        if kind == "parquet":
            frame.to_parquet(path, index=False)
        elif kind == "geojson":
            pyogrio.write_dataframe(
                frame.to_crs(WGS84), path, driver="GeoJSON", layer=Path(name).stem,
                layer_options={"RFC7946": "YES"},
            )
        else:
            pyogrio.write_dataframe(frame, path, driver="GPKG", layer=Path(name).stem)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(
            _("%(file)s cannot be written: %(reason)s", file=name,
              reason=str(exc).splitlines()[0])
        ) from exc
