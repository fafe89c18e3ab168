"""``matchmaker match``: match surplus producers with nearby consumers from two point files.

Works without the web app or a database: files in, the flows out (CSV or GeoParquet), totals on
stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from matchmaker.cli_support import InputError, _, cli_number, cli_percent

if TYPE_CHECKING:
    from geo.matching import MatchResult

#: The modes of ``geo.profiles.MODES``, written out so that --help imports no numpy.
MODES = ("annual", "typical_day", "hourly")

HELP = """Match producers' surplus with consumers' demand within a maximum distance.

PRODUCERS is a CSV (x,y in RD New or lon,lat), GeoJSON, GeoPackage or GeoParquet with the columns
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
in which the pair shares energy) in the profile modes; as .parquet it is GeoParquet with a line
from the producer to the consumer (RD New).
"""


@click.command("match", help=HELP)
@click.argument("producers", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("consumers", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--max-distance-m", type=float, default=2000.0, show_default=True,
              help="Largest distance between a producer and a consumer, in metres.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File for the flows: FLOWS.csv, or FLOWS.parquet (GeoParquet, a line from "
                   "producer to consumer in RD New).")
@click.option("--mode", type=click.Choice(MODES), default="annual", show_default=True,
              help="Time resolution of the matching.")
@click.option("--certify/--no-certify", default=True, show_default=True,
              help="Prove every step optimal with the exact duality certificate.")
@click.option("--cross-check", "cross_check", type=click.IntRange(min=0), default=0,
              show_default=True, metavar="N",
              help="Also solve N randomly chosen time steps again with HiGHS and compare.")
@click.option("--certificate", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the certificate (flows, cut and potentials per step; Parquet) to "
                   "this file, for `matchmaker verify`.")
def match_command(
    producers: Path, consumers: Path, max_distance_m: float, output: Path, mode: str,
    certify: bool, cross_check: int, certificate: Path | None,
) -> None:
    from geo.certificate import CertificateError
    from geo.errors import N_, GeoError, ParameterError
    from matchmaker.energy.analysis import flows_kind, run_match, write_flows

    try:
        flows_kind(output)
        matched = run_match(producers, consumers, max_distance_m=max_distance_m, mode=mode,
                            certify=certify, cross_check=cross_check, certificate=certificate)
    except GeoError as err:
        raise InputError.from_geo(err) from err
    except CertificateError as err:
        raise click.ClickException(str(err)) from err
    except OSError as err:
        raise InputError.from_geo(ParameterError(
            N_("%(file)s cannot be written: %(reason)s"), file=certificate.name if certificate
            else output.name, reason=err.strerror or str(err),
        )) from err
    try:
        write_flows(matched, output)
    except OSError as err:
        raise InputError.from_geo(ParameterError(
            N_("%(file)s cannot be written: %(reason)s"), file=output.name,
            reason=err.strerror or str(err),
        )) from err
    _report(matched.result, output)
    if certificate is not None:
        click.echo(_("Certificate written to %(file)s.", file=certificate.name))


VERIFY_HELP = """Check that FLOWS is proven optimal by CERTIFICATE, without trusting our solver.

PRODUCERS and CONSUMERS are the input files of `matchmaker match`, FLOWS its --output and
CERTIFICATE its --certificate (the layout is in the README). The candidate pairs and the limits
per step are built again from the input files; per step the flows must be feasible, a cut must
hold exactly the matched energy (so no more can be matched) and the potentials must satisfy
complementary slackness with equal primal and dual objectives (so no flow of that energy is
shorter), all in whole numbers. FLOWS must hold the certificate's flows per year.

Prints one line. Exit code 0: proven optimal; 1: not proven; 2: a file cannot be read.
"""


@click.command("verify", help=VERIFY_HELP)
@click.argument("producers", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("consumers", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("flows", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("certificate", type=click.Path(dir_okay=False, path_type=Path))
def verify_command(producers: Path, consumers: Path, flows: Path, certificate: Path) -> None:
    from geo.errors import GeoError
    from matchmaker.energy.analysis import verify

    try:
        found = verify(producers, consumers, flows, certificate)
    except GeoError as err:
        raise InputError.from_geo(err) from err
    v = found.verdict
    if found.proven:
        click.echo(_(
            "Proven optimal: %(steps)s steps (%(mode)s); matched %(kwh)s kWh = the cut, energy "
            "x distance %(cost)s kWh x m = the dual objective.",
            steps=cli_number(v.steps_checked), mode=found.mode,
            kwh=cli_number(v.matched_wh / 1000, 3), cost=cli_number(v.cost / 1e4, 1)))
        return
    if v.ok:
        reason = found.flows_problem
    else:
        reason = v.examples[0] if v.examples else (
            f"{v.steps_checked} of {v.steps_total} steps checked")
    click.echo(_("NOT proven optimal: %(reason)s", reason=reason))
    raise SystemExit(1)


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
