"""``matchmaker match``: match surplus producers with nearby consumers from two point files.

Works without the web app or a database: files in, a CSV of flows out, totals on stdout.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pandas as pd

from geo.crs import rd_to_wgs84
from geo.errors import N_, GeoError, ParameterError
from geo.io import read_points
from geo.matching import CertificateError, MatchResult, match_energy
from geo.profiles import MODES, PV_YIELD_KWH_PER_KWP, consumption_profile, pv_profile
from matchmaker.cli_support import InputError, _, cli_number, cli_percent

HELP = """Match producers' surplus with consumers' demand within a maximum distance.

PRODUCERS is a CSV (x,y in RD New or lon,lat), GeoJSON or GeoPackage with the columns
id and surplus_kwh (yearly surplus) and optionally feed_in_kw (feed-in limit). CONSUMERS has id
and demand_kwh (yearly demand) and optionally category (a BDEW load profile: g0 to g6, l0 to
l2). The same id in both files is the same site, and a site is not paired with itself.

The matched energy is maximal and, among maximal solutions, the energy x distance is minimal.
Every time step is proven so by an exact duality certificate (a cut and node potentials,
checked in whole numbers by an independent checker); --cross-check N also solves N sampled
steps again with HiGHS.

Modes: annual matches the yearly amounts. typical_day (12 months x 24 hours) and hourly
(8760 hours) spread the yearly amounts over standard profiles first: a producer's surplus
follows the PV shape of a clear-sky year at its location (a simplification: what is left after
the site's own use is even more concentrated around midday), a consumer's demand follows its
category's profile (g0, business in general, when there is no category column); energy is
then matched hour by hour.

FLOWS gets producer_id, consumer_id, kwh (per year) and distance_m, plus hours (hours per year
in which the pair shares energy) in the profile modes.
"""


@click.command("match", help=HELP)
@click.argument("producers", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("consumers", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--max-distance-m", type=float, default=2000.0, show_default=True,
              help="Largest distance between a producer and a consumer, in metres.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV file for the flows (FLOWS.csv).")
@click.option("--mode", type=click.Choice(MODES), default="annual", show_default=True,
              help="Time resolution of the matching.")
@click.option("--certify/--no-certify", default=True, show_default=True,
              help="Prove every step optimal with the exact duality certificate.")
@click.option("--cross-check", "cross_check", type=click.IntRange(min=0), default=0,
              show_default=True, metavar="N",
              help="Also solve N randomly chosen time steps again with HiGHS and compare.")
def match_command(
    producers: Path, consumers: Path, max_distance_m: float, output: Path, mode: str,
    certify: bool, cross_check: int,
) -> None:
    try:
        result = _run(producers, consumers, max_distance_m=max_distance_m, mode=mode,
                      certify=certify, cross_check=cross_check)
    except GeoError as err:
        raise InputError.from_geo(err) from err
    except CertificateError as err:
        raise click.ClickException(str(err)) from err
    try:
        _write_flows(result, output)
    except OSError as err:
        raise InputError.from_geo(ParameterError(
            N_("%(file)s cannot be written: %(reason)s"), file=output.name,
            reason=err.strerror or str(err),
        )) from err
    _report(result, output)


def _run(
    producers_path: Path, consumers_path: Path, *, max_distance_m: float, mode: str,
    certify: bool, cross_check: int = 0,
) -> MatchResult:
    producers = read_points(
        producers_path, required=("id", "surplus_kwh"), numeric=("surplus_kwh", "feed_in_kw")
    )
    consumers = read_points(consumers_path, required=("id", "demand_kwh"), numeric=("demand_kwh",))
    producer_profile = consumer_profile = None
    if mode != "annual":
        # Validate the yearly amounts first so that a bad value names its file and id.
        _check_amounts(producers, "surplus_kwh", producers_path.name)
        _check_amounts(consumers, "demand_kwh", consumers_path.name)
        lon, lat = rd_to_wgs84(producers.geometry.x.to_numpy(), producers.geometry.y.to_numpy())
        producer_profile = pv_profile(
            lon=lon, lat=lat, kwp=producers["surplus_kwh"].to_numpy() / PV_YIELD_KWH_PER_KWP,
            annual_yield_kwh_per_kwp=PV_YIELD_KWH_PER_KWP, mode=mode,
        )
        category: object = "g0"
        if "category" in consumers.columns:
            category = consumers["category"].fillna("g0").astype(str).to_numpy()
        consumer_profile = consumption_profile(
            annual_kwh=consumers["demand_kwh"].to_numpy(), category=category, mode=mode  # type: ignore[arg-type]
        )
    return match_energy(
        producers, consumers, max_distance_m=max_distance_m, mode=mode,
        producer_profile=producer_profile, consumer_profile=consumer_profile,
        certify_solution=certify, cross_check_steps=cross_check,
    )


def _check_amounts(frame: pd.DataFrame, column: str, file: str) -> None:
    from geo.errors import ColumnError

    values = frame[column].to_numpy(dtype=float)
    ids = frame["id"].astype(str).to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        raise ColumnError(
            N_("%(file)s: %(column)s is missing for id(s) %(ids)s."),
            file=file, column=column, ids=", ".join(ids[bad][:5]),
        )
    negative = values < 0
    if negative.any():
        raise ColumnError(
            N_("%(file)s: %(column)s is negative for id(s) %(ids)s."),
            file=file, column=column, ids=", ".join(ids[negative][:5]),
        )


def _write_flows(result: MatchResult, output: Path) -> None:
    columns = ["producer_id", "consumer_id", "kwh", "distance_m"]
    if "hours" in result.flows.columns:
        columns.append("hours")
    table = result.flows[columns].copy()
    table["kwh"] = table["kwh"].round(3)
    table["distance_m"] = table["distance_m"].round(1)
    table.to_csv(output, index=False)


def _report(result: MatchResult, output: Path) -> None:
    t = result.totals
    click.echo(_("Matched: %(kwh)s kWh per year in %(pairs)s pairs (%(mode)s).",
                 kwh=cli_number(t.matched_kwh, 1), pairs=cli_number(len(result.flows)),
                 mode=result.mode))
    click.echo(_("Surplus used: %(share)s of %(kwh)s kWh.",
                 share=cli_percent(t.surplus_used_share), kwh=cli_number(t.surplus_kwh, 1)))
    click.echo(_("Demand covered: %(share)s of %(kwh)s kWh.",
                 share=cli_percent(t.demand_covered_share), kwh=cli_number(t.demand_kwh, 1)))
    click.echo(_("Energy x distance: %(value)s kWh x m.",
                 value=cli_number(t.energy_distance_kwh_m)))
    cert = result.certificate
    if cert is None:
        click.echo(_("Certificate: not checked."))
    else:
        click.echo(_(
            "Certificate: %(verdict)s by the exact duality certificate on %(n)s of %(total)s "
            "steps: matched %(matched)s kWh = cut %(cut)s kWh, energy x distance %(cost)s = "
            "dual %(dual)s kWh x m (%(seconds)s s).",
            verdict=_("proven optimal") if cert.ok else _("NOT PROVEN"),
            n=cli_number(cert.steps_checked), total=cli_number(cert.steps_total),
            matched=cli_number(cert.matched_wh / 1000, 3), cut=cli_number(cert.cut_wh / 1000, 3),
            cost=cli_number(cert.cost / 1e4, 1), dual=cli_number(cert.dual_cost / 1e4, 1),
            seconds=cli_number(cert.seconds, 2),
        ))
    second = result.cross_check
    if second is not None:
        msgid, params = second.scope()
        scope = _(msgid, **{k: v if k == "seed" else cli_number(v) for k, v in params.items()})
        # The solvers' objective (distances in whole decimetres): it can differ slightly from
        # the exact energy x distance above.
        click.echo(_(
            "Cross-check: %(verdict)s by %(solver)s on %(scope)s: matched %(ours)s vs %(ref)s "
            "kWh, energy x distance %(cost)s vs %(ref_cost)s kWh x m (%(seconds)s s).",
            verdict=_("optimal, confirmed") if second.ok else _("NOT CONFIRMED"),
            solver=second.solver, scope=scope, ours=cli_number(second.matched_wh / 1000, 3),
            ref=cli_number(second.reference_matched_wh / 1000, 3),
            cost=cli_number(second.cost / 1e4, 1),
            ref_cost=cli_number(second.reference_cost / 1e4, 1),
            seconds=cli_number(second.seconds, 1),
        ))
    click.echo(_("Flows written to %(file)s.", file=output.name))
