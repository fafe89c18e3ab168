"""``matchmaker heat``: candidate heat networks from a file of heat sources and one of sinks.

Works without the web app or a database: two point files in, one feature per candidate network
out (its trench sketch with the numbers that decide viability), a short summary on stdout.

GeoJSON output is WGS84 (RFC 7946, written by GDAL with ``RFC7946=YES``); the id lists
(``site_ids``, ``source_ids``, ``sink_ids``) are JSON arrays of strings there, which
``json.load`` returns as lists and pyogrio as numpy arrays of str (GDAL's ``StringList``).
GeoPackage and GeoParquet output is RD New; GeoPackage has no list type, so the lists are JSON
text there, while GeoParquet keeps them as lists of strings.
A network without trench (one site, or all its sites at one location) has an empty
MultiLineString. Files are written completely or not at all.
"""

from __future__ import annotations

from pathlib import Path

import click

#: ``geo.heat.DETOUR_FACTOR``, written out so that --help imports no geo (a test compares them).
DETOUR_FACTOR = 1.3
HELP = """Find candidate heat networks: heat sources with the heat demand near them.

SOURCES is a CSV (id,x,y in RD New or id,lon,lat in WGS84), GeoJSON, GeoPackage or GeoParquet
of heat sources with the column mwh (heat available, MWh per year) and optionally temperature_c
(supply temperature) and months (months per year available). SINKS has the heat demand: id and
mwh (MWh per year) and optionally temperature_c or temperature_class (low, medium, high: 40,
55, 70 degrees C), the supply temperature the building needs.

Sites joined by chains of steps of at most --max-gap-m form a group; a group with at least one
source is a candidate network. Its trench is the minimum spanning tree over its sites times
--detour-factor; the heat density (sinks' MWh per year per metre of trench) gives the
viability: good above 1.5, sufficient from 0.5 to 1.5, critical below 0.5 or without trench.

--output gets one feature per network (.geojson in WGS84, or .gpkg or .parquet, GeoParquet, in
RD New) with site_ids, trench_length_m, heat_density_mwh_per_m, viability, coverage and more.
"""


@click.command("heat", help=HELP)
@click.argument("sources_path", metavar="SOURCES",
                type=click.Path(path_type=Path, dir_okay=False))
@click.argument("sinks_path", metavar="SINKS", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--max-gap-m", type=float, default=500.0, show_default=True,
    help="Sites within this distance (metres) of a site in a network join that network.",
)
@click.option(
    "--detour-factor", type=float, default=DETOUR_FACTOR, show_default=True,
    help="Trench length over the straight minimum spanning tree (streets are not straight).",
)
@click.option(
    "--output", "output_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="One feature per candidate network: .geojson (WGS84), .gpkg or .parquet (RD New).",
)
def heat_command(
    sources_path: Path, sinks_path: Path, max_gap_m: float, detour_factor: float,
    output_path: Path,
) -> None:
    # Imported here: the command line's help must not load the geospatial stack.
    from matchmaker.heat.analysis import run

    run(sources_path=sources_path, sinks_path=sinks_path, max_gap_m=max_gap_m,
        detour_factor=detour_factor, output_path=output_path)
