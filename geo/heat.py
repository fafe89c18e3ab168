"""Shared heat: which heat sources have enough demand nearby for a small heat network.

Pure functions over GeoDataFrames in RD New (EPSG:28992); no Flask, no database.

- :func:`candidate_networks` groups heat sources and heat sinks (buildings that need heat) by
  single linkage (:func:`geo.bundling.bundle_by_distance`): sites joined by a chain of steps of at
  most ``max_gap_m`` form a group, and a group that holds at least one source is a *candidate
  network* (sinks alone have nothing to share). Per network it estimates the trench, the linear
  heat density and its viability class, the coverage and the sinks that need a heat pump.
- :func:`assign_sites` tells each source and sink which network it is in, and each sink the
  temperature it needs and whether it needs a heat pump there.
- :func:`tipping_candidates` answers "what would tip it": which nearby sites, if they joined,
  would lift a network to a viability class, and how many it takes.
- :func:`gas_to_heat_mwh`, :func:`sink_temperatures` and :func:`viability_class` are the small
  conversions the others use, public so that the app states the same numbers.

Trench length
    The minimum spanning tree (MST) over a network's sites, Euclidean in RD New, times a street
    detour factor (default 1.3, an assumption: pipes follow streets, not straight lines; it is
    returned as a column so that it stays visible). The MST of every network comes from one
    Euclidean MST over the sites of all networks: that tree is contained in the Delaunay
    triangulation, and the part of it inside a single-linkage group is the MST of that group
    (the groups are what is left of the MST after cutting its edges longer than the gap, and
    by the cycle property a subtree of an MST is an MST of its vertices). So there is no loop
    over networks and no pairwise distance matrix.

Linear heat density (lijnwarmtedichtheid)
    The sinks' heat demand in MWh per year over the trench metres, MWh/(m·a). Classes
    (DESIGN.md, from district-heating planning practice): ``good`` above 1.5, ``sufficient``
    from 0.5 up to and including 1.5, ``critical`` below 0.5. Both boundaries belong to
    ``sufficient``: 0.5 is the lowest density planners accept and 1.5 is not yet "above 1.5".
    A network without trench (one site, or all its sites at one location) has no density: it
    is ``NaN`` and the class is ``critical``. Honestly: there is no network to build yet, only
    a source; :func:`tipping_candidates` says what it would take to make one.

Module size
    Over the house limit of about 600 lines on purpose: the networks, the site assignment and
    "what would tip it" share one private layout (:class:`_Layout`: the groups, the spanning
    tree and the per-network sums), and splitting them would make that layout public API.
    The input checks live in :mod:`geo.validation`, the triangulation in :mod:`geo.proximity`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, overload

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree

from geo.bundling import bundle_by_distance
from geo.crs import RD_NEW, require_finite_points, require_rd
from geo.errors import N_, ColumnError, ParameterError, format_labels
from geo.proximity import delaunay_sides
from geo.validation import (
    amounts,
    id_labels,
    optional_numbers,
    positive_metres,
    positive_number,
    real,
    require_columns,
    require_detour,
    require_frame,
    unique_ids,
)

__all__ = [
    "BOILER_EFFICIENCY",
    "DETOUR_FACTOR",
    "GAS_HEATING_VALUE_MJ_PER_M3",
    "GOOD_DENSITY_MWH_PER_M",
    "SUFFICIENT_DENSITY_MWH_PER_M",
    "TEMPERATURE_CLASSES",
    "VIABILITY_CLASSES",
    "SiteAssignment",
    "Tipping",
    "assign_sites",
    "candidate_networks",
    "gas_to_heat_mwh",
    "sink_temperatures",
    "tipping_candidates",
    "viability_class",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# --------------------------------------------------------------------------------------------
# numbers (DESIGN.md section 5; each with its source)

#: Lower heating value (onderwaarde) of Groningen-quality natural gas, MJ per normal m³: the
#: Dutch "m³ aardgasequivalent" used by RVO and CBS (the upper heating value is 35.17 MJ/m³).
#: 31.65 MJ/m³ / 3.6 MJ/kWh ≈ 8.79 kWh/m³.
GAS_HEATING_VALUE_MJ_PER_M3: Final = 31.65
#: Share of the gas energy that reaches the building as heat: a seasonal efficiency of 0.9 on
#: the lower heating value (an assumption for a mixed stock: condensing boilers reach about
#: 0.95-1.0 in practice, old non-condensing ones about 0.8). 1 m³ of gas ≈ 7.9 kWh of heat.
BOILER_EFFICIENCY: Final = 0.9
#: Street detour factor for trenches over the straight MST (DESIGN.md: an assumption; visible).
DETOUR_FACTOR: Final = 1.3
#: Supply temperature (°C) a building needs, per temperature class. Conventions, configurable:
#: ``low`` 40 °C is the middle of the low-temperature band (LT, 30-50 °C: floor heating, low-
#: temperature radiators) in Dutch heat-transition practice; ``medium`` 55 °C is the
#: "medium-temperature application" of the EU ecodesign rules for heaters (Regulation (EU)
#: 813/2013; its low-temperature application is 35 °C); ``high`` 70 °C is the lower edge of
#: the high-temperature band (HT, 70 °C and up) that existing radiator systems in poorly
#: insulated buildings need.
TEMPERATURE_CLASSES: Final[Mapping[str, float]] = {"low": 40.0, "medium": 55.0, "high": 70.0}
#: Linear heat density classes, MWh per metre of trench per year (DESIGN.md section 5).
GOOD_DENSITY_MWH_PER_M: Final = 1.5
SUFFICIENT_DENSITY_MWH_PER_M: Final = 0.5
#: Viability classes from worst to best.
VIABILITY_CLASSES: Final = ("critical", "sufficient", "good")

_MJ_PER_MWH: Final = 3600.0
#: A boiler efficiency above this is a typing error (condensing boilers reach ~1.07 on the LHV).
_MAX_EFFICIENCY: Final = 1.1
_MONTHS: Final = 12.0


# --------------------------------------------------------------------------------------------
# conversions


@overload
def gas_to_heat_mwh(
    gas_m3: float, *, heating_value_mj_per_m3: float = ..., boiler_efficiency: float = ...
) -> float: ...
@overload
def gas_to_heat_mwh(
    gas_m3: npt.NDArray[Any] | Sequence[float], *, heating_value_mj_per_m3: float = ...,
    boiler_efficiency: float = ...,
) -> FloatArray: ...
@overload
def gas_to_heat_mwh(
    gas_m3: pd.Series, *, heating_value_mj_per_m3: float = ..., boiler_efficiency: float = ...
) -> pd.Series: ...
def gas_to_heat_mwh(
    gas_m3: npt.ArrayLike | pd.Series,
    *,
    heating_value_mj_per_m3: float = GAS_HEATING_VALUE_MJ_PER_M3,
    boiler_efficiency: float = BOILER_EFFICIENCY,
) -> FloatArray | pd.Series | float:
    """Heat demand in MWh per year from natural gas use in m³ per year.

    ``MWh = m³ × heating value (MJ/m³) / 3600 (MJ/MWh) × boiler efficiency``; by default
    31.65 MJ/m³ (Groningen gas, lower heating value) and 0.9, so 1000 m³ ≈ 7.9 MWh of heat.
    The gas a boiler burns is more than the heat the building needs; a heat network replaces
    the heat, not the gas. A Series stays a Series (same index, named ``mwh``), a scalar a float.

    >>> round(gas_to_heat_mwh(10_000), 3)
    79.125
    >>> gas_to_heat_mwh([0, 1000], boiler_efficiency=1.0).round(4).tolist()
    [0.0, 8.7917]
    """
    heating_value = positive_number(heating_value_mj_per_m3, name="heating_value_mj_per_m3")
    efficiency = real(boiler_efficiency)
    if not (0 < efficiency <= _MAX_EFFICIENCY):
        raise ParameterError(
            N_("%(name)s must be above 0 and at most %(max)s, not %(value)s."),
            name="boiler_efficiency", max=_MAX_EFFICIENCY, value=boiler_efficiency,
        )
    if isinstance(gas_m3, pd.Series):
        values = pd.to_numeric(gas_m3, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            values = np.asarray(gas_m3, dtype=float)
        except (TypeError, ValueError):
            values = np.array(math.nan)
    if not np.isfinite(values).all():
        raise ParameterError(N_("%(name)s must be finite numbers."), name="gas_m3")
    if (values < 0).any():
        raise ParameterError(N_("%(name)s must not be negative."), name="gas_m3")
    mwh = values * (heating_value / _MJ_PER_MWH * efficiency)
    if isinstance(gas_m3, pd.Series):
        return pd.Series(mwh, index=gas_m3.index, name="mwh", dtype="float64")
    if mwh.ndim == 0:
        return float(mwh)
    return mwh


def viability_class(density_mwh_per_m: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """The viability class of linear heat densities (MWh/(m·a)).

    ``good`` above 1.5, ``sufficient`` from 0.5 to 1.5 inclusive, ``critical`` below 0.5 and
    for a missing density (no trench, so no network yet).

    >>> viability_class([0.49, 0.5, 1.5, 1.51, float("nan")]).tolist()
    ['critical', 'sufficient', 'sufficient', 'good', 'critical']
    """
    density = np.asarray(density_mwh_per_m, dtype=float)
    with np.errstate(invalid="ignore"):
        good = density > GOOD_DENSITY_MWH_PER_M
        sufficient = density >= SUFFICIENT_DENSITY_MWH_PER_M
    return np.select([good, sufficient], ["good", "sufficient"], "critical").astype(object)


def sink_temperatures(
    sinks: gpd.GeoDataFrame | pd.DataFrame,
    *,
    temperature_classes: Mapping[str, float] = TEMPERATURE_CLASSES,
) -> pd.Series:
    """The supply temperature (°C) each sink needs; a float Series aligned to ``sinks``.

    From ``temperature_c`` where it is given, else from ``temperature_class`` (``low``,
    ``medium``, ``high`` by default; case and surrounding spaces do not matter) through
    ``temperature_classes``; ``NaN`` where neither is known.

    >>> import pandas as pd
    >>> sinks = pd.DataFrame({"temperature_c": [None, 65.0, None],
    ...                       "temperature_class": ["Low", "low", None]})
    >>> sink_temperatures(sinks).tolist()
    [40.0, 65.0, nan]
    """
    classes = _temperature_classes(temperature_classes)
    labels = id_labels(sinks)
    values = np.full(len(sinks), np.nan)
    if "temperature_class" in sinks.columns:
        raw = sinks["temperature_class"]
        given = raw.notna().to_numpy()
        names = raw.astype("string").str.strip().str.lower()
        known = names.isin(list(classes)).fillna(False).to_numpy(dtype=bool)
        unknown = given & ~known
        if unknown.any():
            raise ColumnError(
                N_("%(name)s: unknown temperature_class for id(s) %(ids)s; use one of "
                   "%(classes)s."),
                name="sinks", ids=format_labels(labels[unknown]), classes=", ".join(classes),
            )
        values[known] = names[known].map(classes).to_numpy(dtype=float)
    if "temperature_c" in sinks.columns:
        degrees = optional_numbers(sinks, "temperature_c", name="sinks", labels=labels)
        values = np.where(np.isnan(degrees), values, degrees)
    return pd.Series(values, index=sinks.index, name="temperature_c", dtype="float64")


# --------------------------------------------------------------------------------------------
# candidate networks


class SiteAssignment(NamedTuple):
    """Per site: the network it belongs to (see :func:`assign_sites`)."""

    #: Aligned to the sources: ``network_id`` (Int64).
    sources: pd.DataFrame
    #: Aligned to the sinks: ``network_id`` (Int64, missing outside every network),
    #: ``temperature_c`` (needed), ``source_temperature_c`` (the network's best source) and
    #: ``needs_heat_pump`` (boolean, missing when either temperature is unknown).
    sinks: pd.DataFrame


@dataclass(frozen=True)
class _Layout:
    """Sources and sinks stacked (sources first) with their network codes (-1: none)."""

    n_sources: int
    x: FloatArray
    y: FloatArray
    ids: npt.NDArray[np.object_]
    mwh: FloatArray
    network: IntArray
    n_networks: int
    source_temperature: FloatArray  # per source
    source_months: FloatArray  # per source
    sink_temperature: FloatArray  # per sink (needed)
    best_temperature: FloatArray  # per network
    needs_heat_pump: pd.arrays.BooleanArray  # per sink


def candidate_networks(
    sources: gpd.GeoDataFrame,
    sinks: gpd.GeoDataFrame,
    *,
    max_gap_m: float,
    detour_factor: float = DETOUR_FACTOR,
    temperature_classes: Mapping[str, float] = TEMPERATURE_CLASSES,
) -> gpd.GeoDataFrame:
    """Candidate heat networks: groups of sites within chains of ``max_gap_m`` with a source.

    ``sources`` (heat on offer) need ``id`` and ``mwh`` (MWh/yr available) and may have
    ``temperature_c`` (supply temperature) and ``months`` (months per year available, 0-12).
    ``sinks`` (heat demand) need ``id`` and ``mwh`` (MWh/yr; see :func:`gas_to_heat_mwh`) and
    may have ``temperature_c`` or ``temperature_class`` (see :func:`sink_temperatures`). Both
    are RD New points; ``mwh`` is finite and not negative; ids are unique per frame. An id in
    both frames is one building that both offers and needs heat: it is listed once.

    Returns one row per network, indexed by ``network_id`` 0, 1, ... in the order of each
    network's first source in ``sources``:

    - ``site_ids``, ``source_ids``, ``sink_ids``: lists of ids (sources first, input order);
    - ``n_sources``, ``n_sinks``, ``source_mwh``, ``sink_mwh``;
    - ``coverage``: ``min(1, source_mwh / sink_mwh)``, the share of the sinks' demand the
      sources can supply over a year (``NaN`` without demand: nothing to cover);
    - ``mst_length_m``: the straight minimum spanning tree over the sites; ``detour_factor``;
      ``trench_length_m`` = the two multiplied;
    - ``heat_density_mwh_per_m``: ``sink_mwh / trench_length_m`` (``NaN`` without trench) and
      ``viability`` (:func:`viability_class`);
    - ``source_temperature_c``: the best (highest) source temperature, ``source_months``: the
      most months a source is available (both ``NaN`` when unknown);
    - ``sinks_needing_heat_pump``, ``mwh_needing_heat_pump``: sinks that need a higher
      temperature than the best source gives, and their demand; ``sinks_temperature_unknown``:
      sinks for which that cannot be told;
    - ``site_points``: the sites as a MultiPoint (RD New; an extra geometry column, which
      :func:`tipping_candidates` reads; drop it before writing a file);
    - ``geometry``: the trench sketch, a MultiLineString of the MST edges in RD New (empty
      without trench).

    >>> import geopandas as gpd
    >>> sources = gpd.GeoDataFrame(
    ...     {"id": ["dc"], "mwh": [900.0], "temperature_c": [35.0]},
    ...     geometry=gpd.points_from_xy([0], [0]), crs="EPSG:28992")
    >>> sinks = gpd.GeoDataFrame(
    ...     {"id": ["pool", "office", "far"], "mwh": [300.0, 90.0, 50.0],
    ...      "temperature_class": ["low", "high", "low"]},
    ...     geometry=gpd.points_from_xy([100, 200, 5000], [0, 0, 0]), crs="EPSG:28992")
    >>> nets = candidate_networks(sources, sinks, max_gap_m=150)
    >>> row = nets.loc[0]
    >>> row.site_ids, row.viability
    (['dc', 'pool', 'office'], 'sufficient')
    >>> float(row.trench_length_m), round(float(row.heat_density_mwh_per_m), 2)
    (260.0, 1.5)
    >>> float(row.coverage), int(row.sinks_needing_heat_pump)
    (1.0, 2)
    """
    gap = _require_frames_and_gap(sources, sinks, max_gap_m)
    detour = require_detour(detour_factor)
    layout = _layout(sources, sinks, gap=gap, temperature_classes=temperature_classes)
    return _networks(layout, detour)


def assign_sites(
    sources: gpd.GeoDataFrame,
    sinks: gpd.GeoDataFrame,
    *,
    max_gap_m: float,
    temperature_classes: Mapping[str, float] = TEMPERATURE_CLASSES,
) -> SiteAssignment:
    """The network of every source and sink, and every sink's heat-pump need.

    Same inputs and network ids as :func:`candidate_networks`. A sink needs a heat pump when it
    needs a higher supply temperature than the best source of its network gives.

    >>> import geopandas as gpd
    >>> sources = gpd.GeoDataFrame({"id": ["s"], "mwh": [500.0], "temperature_c": [50.0]},
    ...                            geometry=gpd.points_from_xy([0], [0]), crs="EPSG:28992")
    >>> sinks = gpd.GeoDataFrame(
    ...     {"id": ["a", "b", "c"], "mwh": [100.0, 100.0, 100.0],
    ...      "temperature_c": [45.0, 70.0, 45.0]},
    ...     geometry=gpd.points_from_xy([80, 0, 900], [0, 90, 0]), crs="EPSG:28992")
    >>> sites = assign_sites(sources, sinks, max_gap_m=100)
    >>> sites.sinks.network_id.tolist(), sites.sinks.needs_heat_pump.tolist()
    ([0, 0, <NA>], [False, True, <NA>])
    """
    gap = _require_frames_and_gap(sources, sinks, max_gap_m)
    layout = _layout(sources, sinks, gap=gap, temperature_classes=temperature_classes)
    n = layout.n_sources
    code = pd.array(np.where(layout.network >= 0, layout.network, -1), dtype="Int64")
    code[layout.network < 0] = pd.NA
    sink_code = layout.network[n:]
    best = np.full(sink_code.size, np.nan)
    inside = sink_code >= 0
    best[inside] = layout.best_temperature[sink_code[inside]]
    return SiteAssignment(
        sources=pd.DataFrame({"network_id": code[:n]}, index=sources.index),
        sinks=pd.DataFrame(
            {
                "network_id": code[n:],
                "temperature_c": layout.sink_temperature,
                "source_temperature_c": best,
                "needs_heat_pump": layout.needs_heat_pump,
            },
            index=sinks.index,
        ),
    )


def _layout(
    sources: gpd.GeoDataFrame,
    sinks: gpd.GeoDataFrame,
    *,
    gap: float,
    temperature_classes: Mapping[str, float],
) -> _Layout:
    """Validate both frames, stack them and find the networks (one bundling run)."""
    for frame, name in ((sources, "sources"), (sinks, "sinks")):
        require_rd(frame, name=name)
        require_columns(frame, ("id", "mwh"), name=name)
        require_finite_points(frame, name=name)
    src_ids = unique_ids(sources, name="sources")
    sink_ids = unique_ids(sinks, name="sinks")
    src_mwh = amounts(sources, "mwh", name="sources", labels=src_ids)
    sink_mwh = amounts(sinks, "mwh", name="sinks", labels=sink_ids)
    src_temp = np.full(len(sources), np.nan)
    if "temperature_c" in sources.columns:
        src_temp = optional_numbers(sources, "temperature_c", name="sources", labels=src_ids)
    months = np.full(len(sources), np.nan)
    if "months" in sources.columns:
        months = optional_numbers(sources, "months", name="sources", labels=src_ids)
        bad = ~np.isnan(months) & ((months < 0) | (months > _MONTHS))
        if bad.any():
            raise ColumnError(
                N_("%(name)s: %(column)s must be between 0 and 12 for id(s) %(ids)s."),
                name="sources", column="months", ids=format_labels(src_ids[bad]),
            )
    need = sink_temperatures(sinks, temperature_classes=temperature_classes).to_numpy()

    n = len(sources)
    coords = np.concatenate(
        [shapely.get_coordinates(np.asarray(f.geometry.array)) for f in (sources, sinks)]
    ).reshape(-1, 2)
    x = np.ascontiguousarray(coords[:, 0])
    y = np.ascontiguousarray(coords[:, 1])
    stacked = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=RD_NEW)
    bundle = bundle_by_distance(stacked, max_gap_m=gap).to_numpy()
    # A bundle with a source is a network; number them by their first source.
    first_bundles = pd.unique(bundle[:n])  # in the order of their first source
    k = len(first_bundles)
    network_of_bundle = np.full(int(bundle.max()) + 1 if bundle.size else 0, -1, dtype=np.int64)
    network_of_bundle[first_bundles] = np.arange(k, dtype=np.int64)
    network = network_of_bundle[bundle] if bundle.size else np.empty(0, dtype=np.int64)

    best = np.full(k, np.nan)
    np.fmax.at(best, network[:n], src_temp)  # fmax skips unknown temperatures
    sink_net = network[n:]
    best_here = np.full(sink_net.size, np.nan)
    best_here[sink_net >= 0] = best[sink_net[sink_net >= 0]]
    known = (sink_net >= 0) & np.isfinite(need) & np.isfinite(best_here)
    with np.errstate(invalid="ignore"):
        hot = need > best_here
    needs = pd.array(np.where(known, hot, False), dtype="boolean")
    needs[~known] = pd.NA
    return _Layout(
        n_sources=n,
        x=x,
        y=y,
        ids=np.concatenate([src_ids, sink_ids]),
        mwh=np.concatenate([src_mwh, sink_mwh]),
        network=network,
        n_networks=k,
        source_temperature=src_temp,
        source_months=months,
        sink_temperature=need,
        best_temperature=best,
        needs_heat_pump=needs,
    )


def _networks(layout: _Layout, detour: float) -> gpd.GeoDataFrame:
    n, k = layout.n_sources, layout.n_networks
    net = layout.network
    src_net, sink_net = net[:n], net[n:]
    in_sink = sink_net >= 0

    n_sources = np.bincount(src_net, minlength=k).astype(np.int64)
    n_sinks = np.bincount(sink_net[in_sink], minlength=k).astype(np.int64)
    source_mwh = np.bincount(src_net, weights=layout.mwh[:n], minlength=k).astype(np.float64)
    sink_mwh = np.bincount(
        sink_net[in_sink], weights=layout.mwh[n:][in_sink], minlength=k
    ).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(sink_mwh > 0, np.minimum(1.0, source_mwh / sink_mwh), np.nan)

    # Trench: the Euclidean MST over the sites of all networks, cut to the edges inside one.
    rows = np.flatnonzero(net >= 0)
    ei, ej = (rows[e] for e in _spanning_edges(layout.x[rows], layout.y[rows]))
    keep = net[ei] == net[ej]
    ei, ej = ei[keep], ej[keep]
    edge_net = net[ei]
    dx, dy = layout.x[ej] - layout.x[ei], layout.y[ej] - layout.y[ei]
    edge_len = np.sqrt(dx * dx + dy * dy)
    mst = np.bincount(edge_net, weights=edge_len, minlength=k).astype(np.float64)
    trench = mst * detour
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(trench > 0, sink_mwh / trench, np.nan)

    months = np.full(k, np.nan)
    np.fmax.at(months, src_net, layout.source_months)
    needs = layout.needs_heat_pump.to_numpy(dtype=bool, na_value=False)
    unknown = layout.needs_heat_pump.isna() & in_sink
    hp_count = np.bincount(sink_net[needs], minlength=k).astype(np.int64)
    hp_mwh = np.bincount(sink_net[needs], weights=layout.mwh[n:][needs], minlength=k)
    n_unknown = np.bincount(sink_net[unknown], minlength=k).astype(np.int64)

    index = pd.RangeIndex(k, name="network_id")
    return gpd.GeoDataFrame(
        {
            "site_ids": _id_lists(layout, sources=True, sinks=True),
            "source_ids": _id_lists(layout, sources=True, sinks=False),
            "sink_ids": _id_lists(layout, sources=False, sinks=True),
            "n_sources": n_sources,
            "n_sinks": n_sinks,
            "source_mwh": source_mwh,
            "sink_mwh": sink_mwh,
            "coverage": coverage,
            "mst_length_m": mst,
            "detour_factor": np.full(k, detour),
            "trench_length_m": trench,
            "heat_density_mwh_per_m": density,
            "viability": viability_class(density),
            "source_temperature_c": layout.best_temperature,
            "source_months": months,
            "sinks_needing_heat_pump": hp_count,
            "mwh_needing_heat_pump": hp_mwh.astype(np.float64),
            "sinks_temperature_unknown": n_unknown,
            "site_points": gpd.GeoSeries(_site_points(layout), index=index, crs=RD_NEW),
        },
        geometry=gpd.GeoSeries(
            _trench_sketch(layout, ei, ej, edge_net, edge_len), index=index, crs=RD_NEW
        ),
        index=index,
        crs=RD_NEW,
    )


def _id_lists(layout: _Layout, *, sources: bool, sinks: bool) -> list[list[Any]]:
    """Per network the ids of its sources and/or sinks in input order, each id once."""
    n, k = layout.n_sources, layout.n_networks
    net = layout.network
    take = net >= 0
    if not sources:
        take[:n] = False
    if not sinks:
        take[n:] = False
    elif sources and n:
        # A building that is both a source and a sink of one network is listed once.
        src_keys = pd.MultiIndex.from_arrays([net[:n], layout.ids[:n]])
        sink_keys = pd.MultiIndex.from_arrays([net[n:], layout.ids[n:]])
        take[n:] &= ~sink_keys.isin(src_keys)
    rows = np.flatnonzero(take)
    rows = rows[np.argsort(net[rows], kind="stable")]
    counts = np.bincount(net[rows], minlength=k)
    return [part.tolist() for part in np.split(layout.ids[rows], np.cumsum(counts)[:-1])][:k]


def _site_points(layout: _Layout) -> npt.NDArray[np.object_]:
    rows = np.flatnonzero(layout.network >= 0)
    rows = rows[np.argsort(layout.network[rows], kind="stable")]
    out = np.empty(layout.n_networks, dtype=object)
    if rows.size:
        shapely.multipoints(
            np.column_stack([layout.x[rows], layout.y[rows]]),
            indices=layout.network[rows], out=out,
        )
    return out


def _trench_sketch(
    layout: _Layout, ei: IntArray, ej: IntArray, edge_net: IntArray, edge_len: FloatArray
) -> npt.NDArray[np.object_]:
    out = np.empty(layout.n_networks, dtype=object)
    drawn = np.flatnonzero(edge_len > 0)  # sites at one location need no pipe between them
    drawn = drawn[np.argsort(edge_net[drawn], kind="stable")]
    if drawn.size:
        ends = np.stack(
            [
                np.column_stack([layout.x[ei[drawn]], layout.y[ei[drawn]]]),
                np.column_stack([layout.x[ej[drawn]], layout.y[ej[drawn]]]),
            ],
            axis=1,
        )
        shapely.multilinestrings(shapely.linestrings(ends), indices=edge_net[drawn], out=out)
    empty = pd.isna(out)
    out[empty] = shapely.from_wkt("MULTILINESTRING EMPTY")
    return out


def _spanning_edges(x: FloatArray, y: FloatArray) -> tuple[IntArray, IntArray]:
    """Edges (row i, row j) of a Euclidean minimum spanning tree over the distinct locations.

    Sites at one location are represented by the first of them (they add no length). The
    candidate edges are the Delaunay triangulation's, which contains a Euclidean MST; Qhull
    leaves out points that (nearly) coincide with another, and those are joined to their
    nearest neighbour. Points that all lie on one line have no triangulation (Qhull refuses
    them as flat); their MST is the chain of neighbours along the line.
    """
    if x.size < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    unique, first = np.unique(np.column_stack([x, y]), axis=0, return_index=True)
    m = unique.shape[0]
    if m < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if m == 2:
        i, j = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    else:
        i, j = _delaunay_edges(unique)
    ux, uy = unique[:, 0], unique[:, 1]
    dx, dy = ux[i] - ux[j], uy[i] - uy[j]
    weight = np.sqrt(dx * dx + dy * dy)
    graph = coo_matrix((weight, (i, j)), shape=(m, m)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    return (
        first[tree.row.astype(np.int64)].astype(np.int64),
        first[tree.col.astype(np.int64)].astype(np.int64),
    )


def _delaunay_edges(xy: FloatArray) -> tuple[IntArray, IntArray]:
    """Distinct undirected edges ``i < j`` of a Delaunay triangulation of distinct points."""
    m = xy.shape[0]
    tri = delaunay_sides(xy)
    if tri is None:
        # Flat input: chain the points in their order along the main axis.
        centred = xy - xy.mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        order = np.argsort(centred @ axis, kind="stable").astype(np.int64)
        lo, hi = np.minimum(order[:-1], order[1:]), np.maximum(order[:-1], order[1:])
        return lo, hi
    i, j, left_out = tri
    if left_out.size:
        _, near = cKDTree(xy).query(xy[left_out], k=2)
        i = np.concatenate([i, left_out])
        j = np.concatenate([j, near[:, 1].astype(np.int64)])
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = np.unique(lo * m + hi)  # each shared triangle side once (a sparse sum would double it)
    return key // m, key % m


# --------------------------------------------------------------------------------------------
# what would tip it


@dataclass(frozen=True)
class Tipping:
    """What would tip a network to the ``target`` class (see :func:`tipping_candidates`)."""

    #: Joiners in the order they are added, indexed by ``n_joiners`` 1, 2, ...: ``id``,
    #: ``kind`` (``member`` or ``potential``), ``mwh``, ``distance_m`` (to the nearest site of
    #: the network as it stands), ``added_trench_m``, then the network with it and all rows
    #: before: ``trench_length_m``, ``sink_mwh``, ``heat_density_mwh_per_m``,
    #: ``gain_mwh_per_m`` (the density gained by this row), ``viability``,
    #: ``reaches_target``; ``geometry`` the joiner's location (RD New).
    candidates: gpd.GeoDataFrame
    target: str
    #: The density the target asks: at least 0.5 (sufficient) or above 1.5 (good).
    threshold_mwh_per_m: float
    density_now: float
    viability_now: str
    #: The smallest N along ``candidates`` whose joining reaches the target (0: reached
    #: already; ``None``: not within the list).
    n_needed: int | None
    #: The MWh/yr those N bring, the density and trench with them (``None`` when not reached).
    mwh_needed: float | None
    density_after: float | None
    trench_length_after_m: float | None

    @property
    def reached(self) -> bool:
        return self.n_needed is not None


_NETWORK_FIELDS: Final = ("site_ids", "sink_mwh", "trench_length_m", "detour_factor",
                          "site_points")


def tipping_candidates(
    network: pd.Series | pd.DataFrame,
    *,
    others: gpd.GeoDataFrame,
    potential: gpd.GeoDataFrame | None = None,
    target: str = "sufficient",
    limit: int = 10,
) -> Tipping:
    """Which sites, if they joined ``network``, would lift it to ``target``, and how many.

    ``network`` is one row of :func:`candidate_networks` (``networks.loc[i]``). ``others`` are
    sinks with registered heat use (``id``, ``mwh``; RD New points), ``potential`` are other
    addresses that could join, with an estimated ``mwh`` the caller chooses (for example a
    typical demand per address). Sites whose id is already in the network are skipped, and so
    are ``potential`` rows whose id is in ``others``.

    Joiners are added greedily, up to ``limit``: each time the one that gives the highest
    density (the largest gain), with its MWh added to the demand and ``detour_factor`` × its
    distance to the nearest site of the network *as it stands* (original sites and earlier
    joiners) added to the trench; a joiner at a site's location is free. That is Prim's
    algorithm on the chosen sites, so the estimated trench is the length of a spanning tree
    over network and joiners: the exact MST can be shorter, never longer. The estimated
    density is therefore never above the exact one, and a target reached here is reached
    (under the same detour factor). Greedy is not always optimal: the true smallest number of
    joiners can be lower than ``n_needed``, not higher (for these candidates). A network
    without trench (density ``NaN``) counts as density 0 for the gain.

    >>> import geopandas as gpd
    >>> sources = gpd.GeoDataFrame({"id": ["s"], "mwh": [500.0]},
    ...                            geometry=gpd.points_from_xy([0], [0]), crs="EPSG:28992")
    >>> sinks = gpd.GeoDataFrame({"id": ["a"], "mwh": [20.0]},
    ...                          geometry=gpd.points_from_xy([100], [0]), crs="EPSG:28992")
    >>> net = candidate_networks(sources, sinks, max_gap_m=100, detour_factor=1.0).loc[0]
    >>> net.viability
    'critical'
    >>> others = gpd.GeoDataFrame(
    ...     {"id": ["b", "c", "d"], "mwh": [40.0, 10.0, 5.0]},
    ...     geometry=gpd.points_from_xy([200, 0, 3000], [0, 50, 0]), crs="EPSG:28992")
    >>> tip = tipping_candidates(net, others=others)
    >>> tip.candidates.id.tolist(), tip.candidates.heat_density_mwh_per_m.round(3).tolist()
    (['b', 'c', 'd'], [0.3, 0.28, 0.025])
    >>> houses = gpd.GeoDataFrame({"id": ["h1"], "mwh": [90.0]},
    ...                           geometry=gpd.points_from_xy([100], [40]), crs="EPSG:28992")
    >>> tip = tipping_candidates(net, others=others, potential=houses)
    >>> tip.n_needed, tip.mwh_needed, round(tip.density_after, 3)
    (1, 90.0, 0.786)
    """
    fields = _network_fields(network)
    for frame, name in ((others, "others"), (potential, "potential")):
        if frame is None:
            continue
        require_frame(frame, name=name)
        require_rd(frame, name=name)
        require_columns(frame, ("id", "mwh"), name=name)
        require_finite_points(frame, name=name)
    if target not in VIABILITY_CLASSES[1:]:
        raise ParameterError(
            N_("target must be one of %(values)s, not %(value)s."),
            values=", ".join(VIABILITY_CLASSES[1:]), value=target,
        )
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1:
        raise ParameterError(
            N_("limit must be a positive whole number, not %(value)s."), value=limit
        )

    site_ids, sink_mwh, trench, detour, points = fields
    frames = [(others, "member", "others")]
    if potential is not None:
        frames.append((potential, "potential", "potential"))
    ids_parts, mwh_parts, xy_parts, kinds = [], [], [], []
    seen = pd.Index(site_ids, dtype=object)
    for frame, kind, name in frames:
        ids = unique_ids(frame, name=name)
        mwh = amounts(frame, "mwh", name=name, labels=ids)
        fresh = ~pd.Index(ids, dtype=object).isin(seen)
        seen = seen.append(pd.Index(ids, dtype=object))
        ids_parts.append(ids[fresh])
        mwh_parts.append(mwh[fresh])
        xy_parts.append(shapely.get_coordinates(np.asarray(frame.geometry.array))[fresh])
        kinds.append(np.full(int(fresh.sum()), kind, dtype=object))
    cand_ids = np.concatenate(ids_parts)
    cand_mwh = np.concatenate(mwh_parts)
    cand_xy = np.concatenate(xy_parts).reshape(-1, 2)
    cand_kind = np.concatenate(kinds)

    density_now = sink_mwh / trench if trench > 0 else math.nan
    viability_now = str(viability_class([density_now])[0])
    rank = VIABILITY_CLASSES.index(target)
    steps = min(limit, cand_ids.size)
    order = np.empty(steps, dtype=np.int64)
    dist_at = np.empty(steps)
    if steps:
        dist = cKDTree(shapely.get_coordinates(points)).query(cand_xy)[0]
        taken = np.zeros(cand_ids.size, dtype=bool)
        t, s = trench, sink_mwh
        # One pass per joiner (at most `limit`), each vectorised over all candidates.
        for step in range(steps):
            new_t = t + detour * dist
            with np.errstate(invalid="ignore", divide="ignore"):
                score = np.where(new_t > 0, (s + cand_mwh) / new_t, np.inf)
            score[taken] = -np.inf
            best = int(np.argmax(score))
            order[step], dist_at[step] = best, dist[best]
            t, s = float(new_t[best]), s + float(cand_mwh[best])
            taken[best] = True
            dx = cand_xy[:, 0] - cand_xy[best, 0]
            dy = cand_xy[:, 1] - cand_xy[best, 1]
            np.minimum(dist, np.sqrt(dx * dx + dy * dy), out=dist)

    added = detour * dist_at
    trench_after = trench + np.cumsum(added)
    mwh_after = sink_mwh + np.cumsum(cand_mwh[order])
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(trench_after > 0, mwh_after / trench_after, np.nan)
    before = np.nan_to_num(np.concatenate([[density_now], density[:-1]]))
    classes = viability_class(density)
    reaches = np.array([VIABILITY_CLASSES.index(c) >= rank for c in classes], dtype=bool)
    table = gpd.GeoDataFrame(
        {
            "id": cand_ids[order],
            "kind": cand_kind[order],
            "mwh": cand_mwh[order],
            "distance_m": dist_at,
            "added_trench_m": added,
            "trench_length_m": trench_after,
            "sink_mwh": mwh_after,
            "heat_density_mwh_per_m": density,
            "gain_mwh_per_m": np.nan_to_num(density) - before,
            "viability": classes,
            "reaches_target": reaches,
        },
        geometry=gpd.points_from_xy(cand_xy[order, 0], cand_xy[order, 1]),
        index=pd.RangeIndex(1, steps + 1, name="n_joiners"),
        crs=RD_NEW,
    )

    threshold = GOOD_DENSITY_MWH_PER_M if target == "good" else SUFFICIENT_DENSITY_MWH_PER_M
    n_needed: int | None = None
    mwh_needed: float | None = None
    density_after: float | None = None
    trench_out: float | None = None
    if VIABILITY_CLASSES.index(viability_now) >= rank:
        n_needed, mwh_needed, density_after, trench_out = 0, 0.0, density_now, trench
    elif reaches.any():
        at = int(np.argmax(reaches))
        n_needed = at + 1
        mwh_needed = float(mwh_after[at] - sink_mwh)
        density_after, trench_out = float(density[at]), float(trench_after[at])
    return Tipping(
        candidates=table,
        target=target,
        threshold_mwh_per_m=threshold,
        density_now=density_now,
        viability_now=viability_now,
        n_needed=n_needed,
        mwh_needed=mwh_needed,
        density_after=density_after,
        trench_length_after_m=trench_out,
    )


def _network_fields(
    network: pd.Series | pd.DataFrame,
) -> tuple[list[Any], float, float, float, shapely.Geometry]:
    if isinstance(network, pd.DataFrame) and len(network) == 1:
        network = network.iloc[0]
    row: pd.Series = network if isinstance(network, pd.Series) else pd.Series(dtype=object)
    values = [row.get(f) for f in _NETWORK_FIELDS]
    ids, points = values[0], values[4]
    sink_mwh, trench, detour = (real(v) for v in values[1:4])
    lacking = [
        field for field, bad in zip(_NETWORK_FIELDS, (
            not isinstance(ids, list | tuple | np.ndarray),
            not (math.isfinite(sink_mwh) and sink_mwh >= 0),
            not (math.isfinite(trench) and trench >= 0),
            not (math.isfinite(detour) and detour >= 1),
            not isinstance(points, shapely.Geometry) or bool(shapely.is_empty(points)),
        ), strict=True) if bad
    ]
    if lacking:
        raise ParameterError(
            N_("network must be one row of candidate_networks(); it lacks a valid %(fields)s."),
            fields=", ".join(lacking),
        )
    return list(ids), sink_mwh, trench, detour, points


# --------------------------------------------------------------------------------------------
# validation


def _require_frames_and_gap(
    sources: gpd.GeoDataFrame, sinks: gpd.GeoDataFrame, max_gap_m: float
) -> float:
    require_frame(sources, name="sources")
    require_frame(sinks, name="sinks")
    return positive_metres(max_gap_m, name="max_gap_m")


def _temperature_classes(classes: Mapping[str, float]) -> dict[str, float]:
    ok = isinstance(classes, Mapping) and all(isinstance(k, str) for k in classes)
    out = {str(k).strip().lower(): real(v) for k, v in classes.items()} if ok else {}
    if not out or not all(math.isfinite(v) for v in out.values()):
        raise ParameterError(
            N_("temperature_classes must map class names to temperatures in °C.")
        )
    return out
