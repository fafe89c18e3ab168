from __future__ import annotations

import sys
from pathlib import Path

import click

from matchmaker.cli_support import _, transactional
from matchmaker.register.kinds import AreaKind

MAX_REPORTED = 50


@click.command("import-addresses")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--layer", default=None, help="GeoPackage layer (default: the first).")
@click.option("--crs", "assume_crs", default=None,
              help="CRS of a GeoPackage or GeoParquet file that declares none, e.g. EPSG:28992.")
@click.option("--prune", is_flag=True,
              help="Delete register records that are not in this file (full re-import).")
@transactional
def import_addresses_command(file: Path, layer: str | None, assume_crs: str | None,
                             prune: bool) -> None:
    """Import an address register (CSV, GeoPackage or GeoParquet, BAG-like columns; see the
    README).

    Bad rows are reported and skipped; a malformed file imports nothing. Importing again
    updates existing records (by id).
    """
    from matchmaker.register.services import count_rows, import_addresses

    total = count_rows(file) if file.exists() else 0
    if sys.stderr.isatty():
        with click.progressbar(length=total, label=_("Importing"), file=sys.stderr,
                               show_pos=True) as bar:
            report = import_addresses(file, actor=None, prune=prune, layer=layer,
                                      assume_crs=assume_crs, progress=bar.update)
    else:  # a log (cron, CI): one line per chunk instead of a redrawn bar
        done = 0

        def log(rows: int) -> None:
            nonlocal done
            done += rows
            click.echo(_("Importing: %(done)s of %(total)s rows", done=done, total=total),
                       err=True)

        report = import_addresses(file, actor=None, prune=prune, layer=layer,
                                  assume_crs=assume_crs, progress=log)
    for line, reason, value in report.bad[:MAX_REPORTED]:
        click.echo(_("line %(line)s: %(reason)s", line=line, reason=_(reason, value=value)),
                   err=True)
    if len(report.bad) > MAX_REPORTED:
        click.echo(_("... and %(count)s more bad rows.", count=len(report.bad) - MAX_REPORTED),
                   err=True)
    click.echo(_("%(rows)s rows: %(inserted)s new, %(updated)s updated, %(bad)s refused, "
                 "%(pruned)s removed.", rows=report.rows, inserted=report.inserted,
                 updated=report.updated, bad=len(report.bad), pruned=report.pruned))


@click.command("import-areas")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice([k.value for k in AreaKind]))
@click.option("--name-column", default=None,
              help="Column with the area name (default: name, naam, statnaam, ...).")
@click.option("--code-column", default=None, help="Column with a code, e.g. the CBS code.")
@click.option("--layer", default=None, help="GeoPackage layer (default: the first).")
@click.option("--crs", "assume_crs", default=None, help="CRS of a file that declares none.")
@transactional
def import_areas_command(file: Path, kind: str, name_column: str | None, code_column: str | None,
                         layer: str | None, assume_crs: str | None) -> None:
    """Import areas (parks, kringen, postcode areas, neighbourhoods) from GeoJSON, GeoPackage or
    GeoParquet.

    Any CRS is transformed to RD New. Invalid or empty polygons refuse the whole file.
    """
    from matchmaker.register.services import import_areas

    report = import_areas(file, kind=kind, actor=None, name_column=name_column,
                          code_column=code_column, layer=layer, assume_crs=assume_crs)
    click.echo(_("%(created)s areas created, %(updated)s updated (%(kind)s).",
                 created=len(report.created), updated=len(report.updated), kind=kind))
