"""The work behind ``matchmaker match`` and ``matchmaker verify``: files in, files out.

Kept apart from :mod:`matchmaker.energy.cli` so that the command line imports pandas,
geopandas and the solvers only when a command runs, never for ``--help``.
"""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from geo.certificate import Checker, StepProofs, Verdict
from geo.certificate_file import CertificateWriter, Header, read_header, read_proofs
from geo.columnar import parse_numbers, read_csv_table, write_csv
from geo.crs import RD_NEW, rd_to_wgs84
from geo.errors import N_, ColumnError, FileFormatError, ParameterError
from geo.io import read_points
from geo.match_problem import build_problem
from geo.matching import MatchResult, instance_of, match_energy
from geo.profiles import (
    PV_YIELD_KWH_PER_KWP,
    Profile,
    consumption_profile,
    pv_profile,
    step_weights,
)
from geo.validation import unique_ids

#: FLOWS as CSV, or as GeoParquet with a line from producer to consumer (RD New).
FLOWS_SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".geoparquet": "parquet"}


@dataclass(frozen=True)
class Matched:
    """A matching with the sites it was computed for (their locations draw the flows)."""

    result: MatchResult
    producers: gpd.GeoDataFrame
    consumers: gpd.GeoDataFrame


def flows_kind(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` by FLOWS' suffix; anything else is refused before solving."""
    kind = FLOWS_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ParameterError(N_("%(file)s: unsupported output type %(suffix)s; use .csv or "
                                ".parquet."), file=path.name, suffix=path.suffix or "(none)")
    return kind


def run_match(
    producers_path: Path, consumers_path: Path, *, max_distance_m: float, mode: str,
    certify: bool, cross_check: int = 0, certificate: Path | None = None,
) -> Matched:
    producers, consumers, producer_profile, consumer_profile = read_inputs(
        producers_path, consumers_path, mode=mode)
    writer = None
    if certificate is not None:
        writer = _CertificateSink(certificate, mode=mode, max_distance_m=max_distance_m)
        writer.open(unique_ids(producers, name="producers", as_text=True),
                    unique_ids(consumers, name="consumers", as_text=True),
                    steps=len(step_weights(mode)))
    try:
        result = match_energy(
            producers, consumers, max_distance_m=max_distance_m, mode=mode,
            producer_profile=producer_profile, consumer_profile=consumer_profile,
            certify_solution=certify, cross_check_steps=cross_check,
            prove=writer.write if writer is not None else None,
        )
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    if writer is not None:
        writer.finish()
    return Matched(result, producers, consumers)


def read_inputs(
    producers_path: Path, consumers_path: Path, *, mode: str,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, Profile | None, Profile | None]:
    """The producers and consumers files, and their profiles in the profile modes."""
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
    return producers, consumers, producer_profile, consumer_profile


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


def write_flows(matched: Matched, output: Path) -> None:
    """FLOWS: one row per pair (kWh per year to 0.001, distance to 0.1 m); as GeoParquet with a
    line from the producer to the consumer in RD New. Raises ``OSError`` when it cannot be
    written."""
    result = matched.result
    columns = ["producer_id", "consumer_id", "kwh", "distance_m"]
    if "hours" in result.flows.columns:
        columns.append("hours")
    table = result.flows[columns].copy()
    table["kwh"] = table["kwh"].round(3)
    table["distance_m"] = table["distance_m"].round(1)
    if flows_kind(output) == "csv":
        write_csv(table, output)
        return
    start = _coordinates(matched.producers, table["producer_id"])
    end = _coordinates(matched.consumers, table["consumer_id"])
    lines = shapely.linestrings(np.stack([start, end], axis=1)) if len(table) else []
    gpd.GeoDataFrame(table, geometry=lines, crs=RD_NEW).to_parquet(output, index=False)


def _coordinates(sites: gpd.GeoDataFrame, ids: pd.Series) -> np.ndarray:
    at = pd.Index(sites["id"].astype(str)).get_indexer(ids.astype(str))
    return np.asarray(shapely.get_coordinates(np.asarray(sites.geometry.array)[at]))


class _CertificateSink:
    """Writes the proofs to a temporary file beside the target, moved into place at the end."""

    def __init__(self, path: Path, *, mode: str, max_distance_m: float) -> None:
        self.path, self.mode, self.max_distance_m = path, mode, float(max_distance_m)
        self.tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        self.writer: CertificateWriter | None = None

    def write(self, proofs: StepProofs) -> None:
        if self.writer is None:
            raise RuntimeError("the certificate sink was not opened")  # pragma: no cover
        self.writer(proofs)

    def open(self, producer_ids: object, consumer_ids: object, steps: int) -> None:
        self.writer = CertificateWriter(
            self.tmp, Header(mode=self.mode, max_distance_m=self.max_distance_m, steps=steps),
            np.asarray(producer_ids, dtype=object), np.asarray(consumer_ids, dtype=object))

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()
            os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        if self.writer is not None:
            with suppress(Exception):
                self.writer.close()
        with suppress(FileNotFoundError):
            self.tmp.unlink()


@dataclass(frozen=True)
class Verification:
    """What ``matchmaker verify`` found: the checker's verdict and whether FLOWS agrees."""

    verdict: Verdict
    mode: str
    flows_problem: str  # "" when FLOWS holds exactly the certificate's yearly flows

    @property
    def proven(self) -> bool:
        return self.verdict.ok and not self.flows_problem


def verify(producers_path: Path, consumers_path: Path, flows_path: Path,
           certificate_path: Path) -> Verification:
    """Check a certificate file against the input files, and FLOWS against the certificate.

    The instance (sites, limits per step, candidate pairs) is built again from PRODUCERS and
    CONSUMERS with the mode and maximum distance the certificate names; nothing of the run
    that wrote it is used. Unreadable files raise :class:`geo.errors.GeoError`.
    """
    header = read_header(certificate_path, name=certificate_path.name)
    producers, consumers, producer_profile, consumer_profile = read_inputs(
        producers_path, consumers_path, mode=header.mode)
    problem = build_problem(
        producers, consumers, max_distance_m=header.max_distance_m, mode=header.mode,
        producer_profile=producer_profile, consumer_profile=consumer_profile,
        pair_same_id=header.pair_same_id)
    if header.steps != problem.n_steps:
        raise FileFormatError(N_("%(file)s is not a certificate file (%(reason)s)."),
                              file=certificate_path.name,
                              reason=f"{header.steps} steps for {header.mode} mode")
    checker = Checker(instance_of(problem, producers, consumers))
    n = problem.n_producers + problem.n_consumers + len(checker.pair_p)
    yearly: dict[tuple[int, int], float] = {}
    for proofs in read_proofs(certificate_path, producer_ids=problem.producer_ids,
                              consumer_ids=problem.consumer_ids, steps=problem.n_steps,
                              block=max(1, 4_000_000 // max(1, n))):
        checker.check(proofs)
        wh = proofs.flow_wh * problem.weights[proofs.steps[proofs.flow_row]]
        for p, c, v in zip(proofs.flow_producer.tolist(), proofs.flow_consumer.tolist(),
                           wh.tolist(), strict=True):
            yearly[(p, c)] = yearly.get((p, c), 0.0) + v
    return Verification(checker.verdict(), header.mode,
                        _compare_flows(flows_path, yearly, problem.producer_ids,
                                       problem.consumer_ids))


def _compare_flows(path: Path, yearly: dict[tuple[int, int], float],
                   producer_ids: np.ndarray, consumer_ids: np.ndarray) -> str:
    """"" when FLOWS lists exactly the certificate's pairs with its kWh per year (to the
    0.001 kWh FLOWS is written with), else what differs."""
    table = read_flows(path)
    p_index = pd.Index(producer_ids.astype(str))
    c_index = pd.Index(consumer_ids.astype(str))
    p = p_index.get_indexer(table["producer_id"])
    c = c_index.get_indexer(table["consumer_id"])
    if (p < 0).any() or (c < 0).any():
        k = int(np.flatnonzero((p < 0) | (c < 0))[0])
        return (f"{path.name} line {k + 2}: {table['producer_id'].iloc[k]} -> "
                f"{table['consumer_id'].iloc[k]} is not a pair of the input")
    listed = {(int(a), int(b)): float(v) for a, b, v in zip(p, c, table["kwh"], strict=True)}
    for key in sorted(set(yearly) | set(listed)):
        ours = round(yearly.get(key, 0.0) / 1000.0, 3)
        theirs = listed.get(key, 0.0)
        if abs(ours - theirs) > 0.0005 + 1e-12 * abs(ours):
            return (f"{path.name}: {producer_ids[key[0]]} -> {consumer_ids[key[1]]} has "
                    f"{theirs} kWh, the certificate {ours} kWh")
    return ""


def read_flows(path: Path) -> pd.DataFrame:
    """FLOWS as written by ``matchmaker match`` (CSV or GeoParquet): producer_id, consumer_id,
    kwh, ... with the ids as text."""
    if not path.exists():
        raise FileFormatError(N_("%(file)s does not exist."), file=path.name)
    if flows_kind(path) == "csv":
        table, first_line = read_csv_table(path).table, 2
    else:
        try:
            table, first_line = pq.read_table(path), 1
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileFormatError(N_("%(file)s cannot be read as (Geo)Parquet: %(reason)s"),
                                  file=path.name, reason=str(exc).splitlines()[0]) from exc
    missing = {"producer_id", "consumer_id", "kwh"} - set(table.column_names)
    if missing:
        raise ColumnError(N_("%(name)s: missing column(s) %(columns)s."), name=path.name,
                          columns=", ".join(sorted(missing)))
    kwh, bad = parse_numbers(table["kwh"])
    bad |= np.isnan(kwh)
    if bad.any():
        raise ColumnError(N_("%(file)s: %(column)s is missing or not a number on line(s) "
                             "%(lines)s."), file=path.name, column="kwh",
                          lines=", ".join(str(i + first_line) for i in np.flatnonzero(bad)[:5]))
    return pd.DataFrame({
        "producer_id": pc.cast(table["producer_id"], pa.string()).to_pandas(),
        "consumer_id": pc.cast(table["consumer_id"], pa.string()).to_pandas(),
        "kwh": kwh,
    })
