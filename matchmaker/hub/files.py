"""The analysis behind ``matchmaker hub``: read and check the two files, analyse, write
HUB.json and print a summary (the command itself is in ``cli.py``, so that its help loads no
geospatial libraries)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import pandas as pd

from geo.crs import to_rd
from geo.errors import N_, FileFormatError, GeoError, ParameterError
from geo.hub import (
    DEFAULT_CURTAIL_HOURS,
    HubAnalysis,
    analyse,
    check_sites,
    matched_within_distance,
)
from geo.hub_lp import Battery, lowest_reachable_kw, size_battery
from geo.hub_profiles import HubProfiles, long_profiles, resolve_columns
from geo.io import read_csv_text, read_points, sniff_delimiter
from matchmaker.cli_support import InputError, _, cli_number, cli_percent, replacing


def run(*, sites_path: Path, profiles_path: Path, output_path: Path, curtail_hours: float,
        target_take_kw: float | None, battery_efficiency: float,
        max_distance_m: float | None) -> None:
    try:
        _check_options(curtail_hours, target_take_kw, battery_efficiency, max_distance_m)
        sites = read_sites(sites_path)
        profiles = read_profiles(profiles_path, site_ids=sites["id"].tolist())
        hours = sorted({*DEFAULT_CURTAIL_HOURS, curtail_hours})
        analysis = analyse(profiles, contracted_take_kw=sites["contracted_take_kw"],
                           contracted_feed_kw=sites["contracted_feed_kw"], curtail_hours=hours)
        battery = None
        if target_take_kw is not None:
            battery = size_battery(analysis.net_kw, target_take_kw=target_take_kw,
                                   efficiency=battery_efficiency)
        matched = None
        if max_distance_m is not None:
            if not isinstance(sites, gpd.GeoDataFrame):
                raise ParameterError(N_("%(file)s: --max-distance-m needs site locations (x,y "
                                        "or lon,lat)."), file=sites_path.name)
            matched = matched_within_distance(sites, profiles.take_kwh, profiles.feed_kwh,
                                              max_distance_m=max_distance_m)
    except GeoError as err:
        raise InputError.from_geo(err) from err
    document = hub_document(analysis, profiles, curtail_hours=curtail_hours, battery=battery,
                            efficiency=battery_efficiency, matched_kwh=matched,
                            max_distance_m=max_distance_m)
    try:
        with replacing(output_path) as tmp:
            tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    except OSError as err:
        raise InputError(_("%(file)s cannot be written: %(reason)s", file=output_path.name,
                           reason=err.strerror or str(err))) from err
    _report(document, output_path)


def _check_options(curtail_hours: float, target: float | None, efficiency: float,
                   distance: float | None) -> None:
    if not (math.isfinite(curtail_hours) and 0 <= curtail_hours <= 8784):
        raise ParameterError(N_("--curtail-hours must be between 0 and 8784 hours."))
    if target is not None and not (math.isfinite(target) and target >= 0):
        raise ParameterError(N_("--target-take-kw must be 0 kW or more."))
    if not (math.isfinite(efficiency) and 0 < efficiency <= 1):
        raise ParameterError(N_("--battery-efficiency is between 0 and 1 (0.9 is 90 %)."))
    if distance is not None and not (math.isfinite(distance) and distance > 0):
        raise ParameterError(N_("--max-distance-m must be a positive number of metres."))


# --- input -------------------------------------------------------------------------------------


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".geoparquet", ".pq"):
        return "parquet"
    raise FileFormatError(
        N_("%(file)s: unsupported file type %(suffix)s; use CSV or Parquet."),
        file=path.name, suffix=suffix or "(none)")


def _exists(path: Path) -> None:
    if not path.exists():
        raise FileFormatError(N_("%(file)s does not exist."), file=path.name)


def read_sites(path: Path) -> pd.DataFrame:
    """The sites file as a validated frame (a GeoDataFrame in RD New when it has locations)."""
    _exists(path)
    if _kind(path) == "csv":
        frame = read_csv_text(path)
        if {"x", "y"} <= set(frame.columns) or {"lon", "lat"} <= set(frame.columns):
            frame = read_points(path, required=("id",))
        return check_sites(frame, name=path.name)
    frame = _read_parquet(path, geo=True)
    if isinstance(frame, gpd.GeoDataFrame):
        frame = to_rd(frame)
    return check_sites(frame, name=path.name, first_line=1)


def read_profiles(path: Path, *, site_ids: list[str]) -> HubProfiles:
    """The long-form profiles, validated and pivoted (errors name CSV lines or Parquet rows)."""
    _exists(path)
    if _kind(path) == "csv":
        frame = _fast_csv(path)
        if frame is None:  # the careful reader, whose errors name the lines
            frame = read_csv_text(path)
        return long_profiles(frame, site_ids=site_ids, name=path.name,
                             decimal_comma=bool(frame.attrs.get("decimal_comma")))
    return long_profiles(_read_parquet(path, geo=False), site_ids=site_ids, name=path.name,
                         first_line=1)


def _fast_csv(path: Path) -> pd.DataFrame | None:
    """A year of 200 sites is 7 million rows: read numbers as numbers (pyarrow's CSV reader for
    commas, pandas' C reader for Dutch semicolons and decimal commas). ``None`` when that fails;
    the text reader then finds and names what is wrong."""
    sep = sniff_delimiter(path)
    try:
        header = pd.read_csv(path, sep=sep, nrows=0, encoding="utf-8-sig").columns
        columns = resolve_columns([str(c) for c in header], name=path.name)
        dtype = {columns["timestamp"]: "string", columns["site_id"]: "string",
                 columns["take_kwh"]: "float64", columns["feed_kwh"]: "float64"}
        if sep == ",":
            return pd.read_csv(path, engine="pyarrow", dtype=dtype, encoding="utf-8-sig")
        return pd.read_csv(path, sep=sep, decimal=",", dtype=dtype, encoding="utf-8-sig",
                           keep_default_na=False, na_values=[""], skipinitialspace=True)
    except (GeoError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError):
        return None


def _read_parquet(path: Path, *, geo: bool) -> pd.DataFrame:
    try:
        if geo:
            import pyarrow.parquet as pq

            metadata = pq.read_schema(path).metadata or {}
            if b"geo" in metadata:
                return gpd.read_parquet(path)
        return pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as exc:
        raise FileFormatError(N_("%(file)s cannot be read as Parquet: %(reason)s"),
                              file=path.name, reason=str(exc).splitlines()[0]) from exc


# --- output ------------------------------------------------------------------------------------


def _round(value: float | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def hub_document(analysis: HubAnalysis, profiles: HubProfiles, *, curtail_hours: float,
                 battery: Battery | None, efficiency: float, matched_kwh: float | None,
                 max_distance_m: float | None) -> dict[str, Any]:
    """The analysis as plain JSON-ready values (kW, kWh; times in ISO 8601 UTC)."""
    table = analysis.curtailment
    chosen = table.loc[table["hours"] == curtail_hours].iloc[0]
    document: dict[str, Any] = {
        "sites": profiles.n_sites,
        "quarter_hours": profiles.n_steps,
        "start": profiles.index[0].isoformat(),
        "end": (profiles.index[-1] + pd.Timedelta(minutes=15)).isoformat(),
        "group_peak_take_kw": _round(analysis.group_peak_take_kw),
        "group_peak_take_at": analysis.group_peak_take_at.isoformat(),
        "group_peak_feed_kw": _round(analysis.group_peak_feed_kw),
        "group_peak_feed_at": (analysis.group_peak_feed_at.isoformat()
                               if analysis.group_peak_feed_at is not None else None),
        "sum_contracted_take_kw": _round(analysis.sum_contracted_take_kw),
        "sum_contracted_feed_kw": _round(analysis.sum_contracted_feed_kw),
        "sum_own_peak_take_kw": _round(analysis.sum_own_peak_take_kw),
        "sum_own_peak_feed_kw": _round(analysis.sum_own_peak_feed_kw),
        "simultaneity_take": _round(analysis.simultaneity_take, 4),
        "simultaneity_feed": _round(analysis.simultaneity_feed, 4),
        "freed_take_kw": _round(analysis.freed_take_kw),
        "freed_feed_kw": _round(analysis.freed_feed_kw),
        "exchanged_kwh": _round(analysis.exchanged_kwh),
        "total_take_kwh": _round(analysis.total_take_kwh),
        "total_feed_kwh": _round(analysis.total_feed_kwh),
        "curtail_hours": curtail_hours,
        "capacity_take_kw_for_curtail_hours": _round(chosen["capacity_take_kw"]),
        "freed_take_kw_for_curtail_hours": _round(chosen["freed_take_kw"]),
        "curtailed_kwh": _round(chosen["curtailed_kwh"]),
        "curtailment": [{k: _round(v) for k, v in row.items()}
                        for row in table.to_dict("records")],
        "participants": [
            {"site_id": str(row["site_id"]),
             **{k: _round(v, 4 if k == "share_of_group_peak" else 3) for k, v in row.items()
                if k != "site_id"}}
            for row in analysis.participants.to_dict("records")
        ],
    }
    if battery is not None:
        document.update({
            "target_take_kw": battery.target_take_kw,
            "battery_efficiency": efficiency,
            "battery_feasible": battery.feasible,
            "battery_kwh": _round(battery.kwh),
            "battery_kw": _round(battery.kw),
            "lowest_reachable_take_kw": _round(lowest_reachable_kw(analysis.net_kw,
                                                                   efficiency=efficiency)),
        })
    if matched_kwh is not None:
        document.update({"max_distance_m": max_distance_m,
                         "matched_within_distance_kwh": _round(matched_kwh)})
    return document


def _report(doc: dict[str, Any], output: Path) -> None:
    click.echo(_("Hub of %(sites)s sites over %(steps)s quarter hours.",
                 sites=cli_number(doc["sites"]), steps=cli_number(doc["quarter_hours"])))
    click.echo(_("Group peak: %(take)s kW take, %(feed)s kW feed-in; contracted together "
                 "%(contract)s kW take, %(contract_feed)s kW feed-in.",
                 take=cli_number(doc["group_peak_take_kw"], 1),
                 feed=cli_number(doc["group_peak_feed_kw"], 1),
                 contract=cli_number(doc["sum_contracted_take_kw"], 1),
                 contract_feed=cli_number(doc["sum_contracted_feed_kw"], 1)))
    if doc["simultaneity_take"] is not None:
        click.echo(_("Simultaneity: %(share)s of the sum of the sites' own peaks (%(kw)s kW).",
                     share=cli_percent(doc["simultaneity_take"]),
                     kw=cli_number(doc["sum_own_peak_take_kw"], 1)))
    click.echo(_("A group contract frees %(kw)s kW of take capacity.",
                 kw=cli_number(doc["freed_take_kw"], 1)))
    click.echo(_("With %(hours)s hours of curtailment a year the group needs %(kw)s kW.",
                 hours=cli_number(doc["curtail_hours"], 1),
                 kw=cli_number(doc["capacity_take_kw_for_curtail_hours"], 1)))
    click.echo(_("Exchanged inside the hub: %(kwh)s kWh.",
                 kwh=cli_number(doc["exchanged_kwh"])))
    if "matched_within_distance_kwh" in doc:
        click.echo(_("The matching within %(m)s m exchanges %(kwh)s kWh.",
                     m=cli_number(doc["max_distance_m"]),
                     kwh=cli_number(doc["matched_within_distance_kwh"])))
    if "battery_feasible" in doc:
        if doc["battery_feasible"]:
            click.echo(_("Shared battery for at most %(target)s kW: %(kwh)s kWh, %(kw)s kW.",
                         target=cli_number(doc["target_take_kw"], 1),
                         kwh=cli_number(doc["battery_kwh"], 1),
                         kw=cli_number(doc["battery_kw"], 1)))
        else:
            click.echo(_("No battery keeps the group at %(target)s kW; the lowest reachable "
                         "peak is %(lowest)s kW.",
                         target=cli_number(doc["target_take_kw"], 1),
                         lowest=cli_number(doc["lowest_reachable_take_kw"], 1)))
    click.echo(_("Written to %(file)s.", file=output.name))
