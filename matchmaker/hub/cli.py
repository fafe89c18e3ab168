"""``matchmaker hub``: analyse an energy hub from a sites file and a quarter-hour profiles file.

Works without the web app or a database: two files in, the numbers a grid operator asks for as
JSON out, a short summary on stdout. Bad input is one translated line and exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import click

HELP = """Analyse an energy hub: sites sharing grid capacity under one group contract.

SITES is a CSV or (Geo)Parquet file with the columns id, contracted_take_kw and
contracted_feed_kw (the transport capacity each site contracted for take and for feed-in),
optionally with a location (x,y in RD New or lon,lat in a CSV; the geometry in GeoParquet).
PROFILES is a CSV or Parquet file in long form: timestamp, site_id, take_kwh, feed_kwh, one
row per site and quarter hour; timestamps in ISO 8601 with a UTC offset
(2025-03-30T03:00+02:00), the start of each quarter hour. Every site needs every quarter hour
between the first and the last time of the file (a year in Europe/Amsterdam has 35,040).

HUB.json gets the group's peak take and feed-in (kW = kWh per quarter hour x 4), the sums of
the contracts and of the sites' own peaks, the capacity a group contract frees, the capacity
needed when the group accepts --curtail-hours of curtailment a year, the energy exchanged
inside the hub (per quarter hour the smaller of total take and total feed-in), and with
--target-take-kw the smallest shared battery (kWh, then kW) that keeps the group's take at or
below the target all year. With --max-distance-m and locations it also gives what the
distance-limited energy matching exchanges between the same sites.
"""


@click.command("hub", help=HELP)
@click.argument("sites_path", metavar="SITES", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("profiles_path", metavar="PROFILES",
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--output", "-o", "output_path", required=True,
              type=click.Path(path_type=Path, dir_okay=False), help="The JSON file (HUB.json).")
@click.option("--curtail-hours", type=float, default=0.0, show_default=True,
              help="Hours per year the group accepts to be curtailed.")
@click.option("--target-take-kw", type=float, default=None,
              help="Size the smallest shared battery that keeps the group's take at or below "
                   "this (kW).")
@click.option("--battery-efficiency", type=float, default=0.9, show_default=True,
              help="Round-trip efficiency of the battery (0.9 is 90 %).")
@click.option("--max-distance-m", type=float, default=None,
              help="Also run the distance-limited matching between the sites (needs locations).")
def hub_command(sites_path: Path, profiles_path: Path, output_path: Path, curtail_hours: float,
                target_take_kw: float | None, battery_efficiency: float,
                max_distance_m: float | None) -> None:
    # Imported here: the command line's help must not load the geospatial stack.
    from matchmaker.hub.files import run

    run(sites_path=sites_path, profiles_path=profiles_path, output_path=output_path,
        curtail_hours=curtail_hours, target_take_kw=target_take_kw,
        battery_efficiency=battery_efficiency, max_distance_m=max_distance_m)
