"""The work behind ``matchmaker heat`` (its command line is in cli.py): candidate heat networks from a file of heat sources and one of sinks.

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

import json
import math
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import N_, ColumnError, GeoError, ParameterError
from geo.heat import candidate_networks
from geo.io import read_points
from matchmaker.cli_support import (
    InputError,
    _,
    cli_number,
    cli_percent,
    replacing,
    write_vector,
)

OUTPUT_SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg",
                   ".parquet": "parquet", ".geoparquet": "parquet"}
LIST_COLUMNS = ("site_ids", "source_ids", "sink_ids")
PROPERTIES = [
    "network_id", "site_ids", "source_ids", "sink_ids", "n_sources", "n_sinks", "source_mwh",
    "sink_mwh", "coverage", "mst_length_m", "detour_factor", "trench_length_m",
    "heat_density_mwh_per_m", "viability", "source_temperature_c", "source_months",
    "sinks_needing_heat_pump", "mwh_needing_heat_pump", "sinks_temperature_unknown",
]
VIABILITY_LABELS = {"good": N_("good"), "sufficient": N_("sufficient"),
                    "critical": N_("critical")}


def run(
    sources_path: Path, sinks_path: Path, max_gap_m: float, detour_factor: float,
    output_path: Path,
) -> None:
    kind = _output_kind(output_path)
    try:
        _check_options(max_gap_m, detour_factor)
        sources = read_points(
            sources_path, required=("id", "mwh"), numeric=("mwh", "temperature_c", "months")
        )
        sinks = read_points(sinks_path, required=("id", "mwh"), numeric=("mwh", "temperature_c"))
        _check_amounts(sources, sources_path.name)
        _check_amounts(sinks, sinks_path.name)
        networks = candidate_networks(
            sources, sinks, max_gap_m=max_gap_m, detour_factor=detour_factor
        )
    except GeoError as err:
        raise InputError.from_geo(err) from err

    with replacing(output_path) as tmp:
        write_vector(_features(networks, kind), kind, tmp, output_path.name)
    _report(networks, n_sinks=len(sinks), output=output_path)


# --------------------------------------------------------------------------------------------
# input


def _output_kind(path: Path) -> str:
    kind = OUTPUT_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            _("%(file)s: unsupported output type %(suffix)s; use .geojson, .gpkg or .parquet.",
              file=path.name, suffix=path.suffix or "(none)")
        )
    return kind


def _check_options(max_gap_m: float, detour_factor: float) -> None:
    if not (math.isfinite(max_gap_m) and max_gap_m > 0):
        raise ParameterError(
            N_("%(name)s must be a positive number of metres, not %(value)s."),
            name="--max-gap-m", value=max_gap_m,
        )
    if not (math.isfinite(detour_factor) and detour_factor >= 1):
        raise ParameterError(
            N_("%(name)s must be a number of at least 1 (a street route is never shorter than "
               "the straight line), not %(value)s."),
            name="--detour-factor", value=detour_factor,
        )


def _check_amounts(frame: pd.DataFrame, file: str) -> None:
    """Name the file in the message (the pure function can only say sources or sinks)."""
    values = frame["mwh"].to_numpy(dtype=float, na_value=np.nan)
    ids = frame["id"].astype(str).to_numpy()
    missing = ~np.isfinite(values)
    if missing.any():
        raise ColumnError(
            N_("%(file)s: %(column)s is missing for id(s) %(ids)s."),
            file=file, column="mwh", ids=", ".join(ids[missing][:5]),
        )
    negative = values < 0
    if negative.any():
        raise ColumnError(
            N_("%(file)s: %(column)s is negative for id(s) %(ids)s."),
            file=file, column="mwh", ids=", ".join(ids[negative][:5]),
        )


# --------------------------------------------------------------------------------------------
# output


def _features(networks: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    table = networks.drop(columns="site_points").reset_index()
    for column in LIST_COLUMNS:
        lists = [[str(v) for v in ids] for ids in table[column]]
        table[column] = [json.dumps(ids) for ids in lists] if kind == "gpkg" else lists
    return gpd.GeoDataFrame(table[PROPERTIES], geometry=table.geometry, crs=networks.crs)




def _report(networks: gpd.GeoDataFrame, *, n_sinks: int, output: Path) -> None:
    for network_id, row in networks.iterrows():  # one line per network, for people to read
        numbers = {
            "id": network_id, "sources": int(row.n_sources), "sinks": int(row.n_sinks),
            "mwh": cli_number(row.sink_mwh), "viability": _(VIABILITY_LABELS[row.viability]),
        }
        if row.trench_length_m > 0:
            coverage = "-" if math.isnan(row.coverage) else cli_percent(row.coverage, 0)
            density = cli_number(row.heat_density_mwh_per_m, 2)
            click.echo(_(
                "Network %(id)s: %(sources)s source(s), %(sinks)s sink(s), %(mwh)s MWh/yr, "
                "trench %(trench)s m, %(density)s MWh/m per year: %(viability)s; coverage "
                "%(coverage)s.",
                trench=cli_number(row.trench_length_m), density=density, coverage=coverage,
                **numbers,
            ))
        else:
            click.echo(_(
                "Network %(id)s: %(sources)s source(s), %(sinks)s sink(s), %(mwh)s MWh/yr, no "
                "trench (one location): %(viability)s.", **numbers,
            ))
        if row.sinks_needing_heat_pump:
            count, mwh = int(row.sinks_needing_heat_pump), cli_number(row.mwh_needing_heat_pump)
            temperature = format(row.source_temperature_c, "g")
            click.echo("  " + _(
                "%(count)s sink(s) with %(mwh)s MWh/yr need more than %(temperature)s °C: "
                "a heat pump.", count=count, mwh=mwh, temperature=temperature,
            ))
    outside = n_sinks - int(networks["n_sinks"].sum()) if len(networks) else n_sinks
    click.echo(_(
        "%(networks)s candidate network(s), %(outside)s sink(s) in none; written to %(file)s.",
        networks=len(networks), outside=outside, file=output.name,
    ))

