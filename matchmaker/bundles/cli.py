"""``matchmaker bundle``: bundle demand by location from a file, without the web app.

Reads sites (CSV with ``id,x,y`` in RD New or ``id,lon,lat``, GeoJSON or GeoPackage) with a
``quantity``, groups them with :func:`geo.bundling.bundle_by_distance` (and, with ``--areas``,
names the area each lies in), and writes every input row back with its ``bundle_id``; optionally
one summary row per bundle. The output format follows the file suffix: ``.csv``, ``.geojson``
(WGS84, RFC 7946) or ``.gpkg`` (RD New). A CSV repeats the input's columns as typed (vector
input gets RD New ``x``, ``y``); GeoJSON and GeoPackage carry the location as geometry. A
semicolon CSV with decimal commas is answered in kind. Files are written completely or not at
all.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("bundle")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--max-gap-m", type=float, default=250.0, show_default=True,
    help="Sites within this distance (metres) of a site in a bundle join that bundle.",
)
@click.option("--product", metavar="CODE", help="Only rows whose product column is CODE.")
@click.option(
    "--areas", "areas_path", type=click.Path(path_type=Path, dir_okay=False),
    help="GeoJSON or GeoPackage with area polygons; adds an area column.",
)
@click.option(
    "--area-name-column", default="name", show_default=True,
    help="Column of the areas file that names each area.",
)
@click.option(
    "--output", "output_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="Every input row with its bundle_id: .csv, .geojson or .gpkg.",
)
@click.option(
    "--summary", "summary_path", type=click.Path(path_type=Path, dir_okay=False),
    help="One row per bundle: .csv, .geojson or .gpkg.",
)
def bundle_command(
    input_path: Path,
    max_gap_m: float,
    product: str | None,
    areas_path: Path | None,
    area_name_column: str,
    output_path: Path,
    summary_path: Path | None,
) -> None:
    """Bundle the demand in INPUT by location and write it to --output."""
    # Imported here: the command line's help must not load the geospatial stack.
    from matchmaker.bundles.analysis import run

    run(input_path=input_path, max_gap_m=max_gap_m, product=product, areas_path=areas_path,
        area_name_column=area_name_column, output_path=output_path, summary_path=summary_path)
