"""Bundles of demand for the coordinator: by distance (neighbours) and by area.

Rows come from the database, the grouping from :mod:`geo.bundling`; nothing here writes to
the database. Files of every bundle are written by a job (:func:`write_file`).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import current_app

from geo.bundling import bundle_by_area, bundle_by_distance, summarize_bundles
from geo.crs import RD_NEW
from matchmaker import progress as job_progress
from matchmaker.auth.models import User
from matchmaker.caching import VersionedCache, version_of
from matchmaker.demand.models import Demand, Product, Stage
from matchmaker.extensions import db
from matchmaker.frames import point_frame
from matchmaker.members.models import Organisation, Site
from matchmaker.register.models import Area, AreaKind
from matchmaker.web.exports import stamp, write_vector_layers

DEFAULT_GAP_M = 250.0
MIN_GAP_M, MAX_GAP_M = 10.0, 5000.0

POINT_COLUMNS = [
    "demand_id", "site_id", "organisation_id", "organisation", "kvk_number", "kring", "bag_id",
    "street", "house_number", "addition", "postcode", "city", "quantity", "stage",
    "consent_providers", "contact_name", "contact_email", "contact_phone", "x", "y",
]


@dataclass
class BundleFilter:
    product: str
    max_gap_m: float = DEFAULT_GAP_M
    stage: str = ""
    kring_id: int | None = None
    area_kind: str = AreaKind.PARK.value


def demand_points(filters: BundleFilter) -> gpd.GeoDataFrame:
    """One point per site with demand for the product (withdrawn left out unless asked for),
    in site order so that bundle ids are stable for the same data."""
    kring = sa.orm.aliased(Area)
    query = (
        sa.select(
            Demand.id, Site.id, Organisation.id, Organisation.name, Organisation.kvk_number,
            kring.name, Site.bag_id, Site.street, Site.house_number, Site.addition,
            Site.postcode, Site.city, Demand.quantity, Demand.stage, Demand.consent_providers,
            Organisation.contact_name, Organisation.contact_email, Organisation.contact_phone,
            Site.x, Site.y,
        )
        .join(Demand.site).join(Site.organisation).join(Demand.product)
        .outerjoin(kring, Organisation.kring_id == kring.id)
        .where(Product.code == filters.product)
        .order_by(Site.id)
    )
    if filters.stage:
        query = query.where(Demand.stage == Stage(filters.stage))
    else:
        query = query.where(Demand.stage != Stage.WITHDRAWN)
    if filters.kring_id:
        query = query.where(Organisation.kring_id == filters.kring_id)
    frame = pd.DataFrame(db.session.execute(query).all(), columns=POINT_COLUMNS)
    frame["stage"] = frame["stage"].astype(str)  # StrEnum → its value
    return point_frame(frame)


def areas_frame(kind: AreaKind | str) -> gpd.GeoDataFrame:
    areas = list(db.session.scalars(
        sa.select(Area).where(Area.kind == AreaKind(kind)).order_by(Area.name)
    ))
    return gpd.GeoDataFrame({"name": [a.name for a in areas], "area_id": [a.id for a in areas]},
                            geometry=[a.geometry for a in areas], crs=RD_NEW)


@dataclass
class Bundles:
    points: gpd.GeoDataFrame  # one row per site, with bundle_id and area
    summary: gpd.GeoDataFrame  # one row per bundle, largest volume first, with rank
    area_totals: pd.DataFrame  # one row per area (and one for sites outside every area)


#: Bundles per filter, exact for one version of the demand tables (matchmaker.caching): at
#: province scale bundling every solar roof takes a second, reading it back nothing.
_BUNDLES = VersionedCache(size=16)


def bundle_demand(filters: BundleFilter) -> Bundles:
    """Sites with demand for the product, bundled by distance and by area. The result is
    shared between requests (cached): callers make new frames, never change these."""
    key = (filters.product, filters.max_gap_m, filters.stage, filters.kring_id,
           filters.area_kind)
    return _BUNDLES.get(key, version_of("demand"), lambda: _bundle_demand(filters))


def _bundle_demand(filters: BundleFilter) -> Bundles:
    points = demand_points(filters)
    points["bundle_id"] = bundle_by_distance(points, max_gap_m=filters.max_gap_m)
    areas = areas_frame(filters.area_kind)
    points["area"] = bundle_by_area(points, areas) if len(areas) else pd.Series(
        pd.NA, index=points.index, dtype="string")
    quantity = points["quantity"].astype(float)  # exact totals are summed separately below
    summary = summarize_bundles(points, points["bundle_id"], quantity=quantity,
                                organisation="organisation_id")
    # Exact totals for negotiation: sum the decimals, not the floats.
    summary["total_quantity"] = points.groupby("bundle_id")["quantity"].sum().reindex(
        summary.index, fill_value=Decimal(0))
    summary["anchor_site_id"] = points.groupby("bundle_id")["site_id"].first().reindex(
        summary.index)
    summary["areas"] = points.groupby("bundle_id")["area"].agg(
        lambda a: ", ".join(sorted({str(v) for v in a.dropna()}))).reindex(summary.index)
    summary = summary.sort_values(["total_quantity", "n_sites"], ascending=False, kind="stable")
    summary["rank"] = np.arange(1, len(summary) + 1)
    return Bundles(points, summary, _area_totals(points))


def drawable(geometries: gpd.GeoSeries) -> gpd.GeoSeries:
    """Hulls as a map or a GIS file should have them: a zero-length line (two sites at one
    address) becomes the point it is."""
    lines = geometries.geom_type.isin(["LineString", "MultiLineString"]).to_numpy() \
        & (geometries.length.to_numpy() == 0)
    if not lines.any():
        return geometries
    result = geometries.copy()
    result[lines] = geometries[lines].centroid
    return result


def _area_totals(points: gpd.GeoDataFrame) -> pd.DataFrame:
    if points.empty:
        return pd.DataFrame(columns=["area", "n_sites", "n_organisations", "total_quantity"])
    grouped = points.assign(area=points["area"].astype("object").where(
        points["area"].notna(), "")).groupby("area")
    totals = pd.DataFrame({
        "n_sites": grouped["site_id"].nunique(),
        "n_organisations": grouped["organisation_id"].nunique(),
        "total_quantity": grouped["quantity"].sum(),
    }).reset_index()
    return totals.sort_values("total_quantity", ascending=False, kind="stable")


def bundle_of_site(bundles: Bundles, site_id: int) -> tuple[pd.Series, gpd.GeoDataFrame] | None:
    """The summary row and the sites of the bundle that holds ``site_id``."""
    match = bundles.points[bundles.points["site_id"] == site_id]
    if match.empty:
        return None
    bundle_id = match["bundle_id"].iloc[0]
    return (bundles.summary.loc[bundle_id],
            bundles.points[bundles.points["bundle_id"] == bundle_id])


def multi_product_sites(*, max_gap_m: float) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Sites that want two or more products (one site visit can serve them), bundled.

    Returns the sites (with ``products``, a sorted tuple of codes, and ``bundle_id``) and one
    row per bundle with the number of sites and how many sites want each product.
    """
    rows = db.session.execute(
        sa.select(Site.id, Organisation.name, Site.street, Site.house_number, Site.addition,
                  Site.postcode, Site.city, Site.x, Site.y, Product.code)
        .join(Demand.site).join(Site.organisation).join(Demand.product)
        .where(Demand.stage != Stage.WITHDRAWN)
        .order_by(Site.id, Product.sort_order)
    ).all()
    frame = pd.DataFrame(rows, columns=["site_id", "organisation", "street", "house_number",
                                        "addition", "postcode", "city", "x", "y", "product"])
    per_site = frame.groupby("site_id", sort=True).agg(
        organisation=("organisation", "first"), street=("street", "first"),
        house_number=("house_number", "first"), addition=("addition", "first"),
        postcode=("postcode", "first"), city=("city", "first"), x=("x", "first"),
        y=("y", "first"), products=("product", tuple),
    ).reset_index()
    per_site = per_site[per_site["products"].map(len) >= 2].reset_index(drop=True)
    sites = point_frame(per_site)
    sites["bundle_id"] = bundle_by_distance(sites, max_gap_m=max_gap_m)
    order = list(db.session.scalars(sa.select(Product.code).order_by(Product.sort_order)))
    exploded = sites[["bundle_id", "products"]].explode("products")
    counts = pd.crosstab(exploded["bundle_id"], exploded["products"])
    counts = counts[[code for code in order if code in counts.columns]]
    counts.insert(0, "n_sites", sites.groupby("bundle_id").size())
    counts = counts.sort_values("n_sites", ascending=False, kind="stable")
    counts["number"] = np.arange(1, len(counts) + 1)
    sites["bundle_number"] = counts["number"].reindex(sites["bundle_id"]).to_numpy()
    return sites.sort_values(["bundle_number", "site_id"]), counts


def product_combinations(sites: gpd.GeoDataFrame) -> pd.Series:
    """How many sites want each combination of products, most common first."""
    return sites["products"].value_counts()


# --- files of bundles ------------------------------------------------------------------------

#: The columns of the files of bundles (their labels are in the views).
EXPORT_COLUMNS = [
    "bundle", "demand_id", "site_id", "bag_id", "organisation", "kvk_number", "kring", "street",
    "house_number", "addition", "postcode", "city", "area", "product", "quantity", "unit",
    "stage", "consent_providers", "contact_name", "contact_email", "contact_phone",
]


def site_rows(sites: gpd.GeoDataFrame, ranks: Any, product: Product, locale: str
              ) -> gpd.GeoDataFrame:
    """The sites of bundles as the files show them: the bundle's number as on the page."""
    return sites.assign(
        bundle=ranks, product=product.name(locale), unit=product.unit,
        kring=sites["kring"].fillna(""), bag_id=sites["bag_id"].fillna(""),
        area=sites["area"].astype("object").where(sites["area"].notna(), ""),
        stage=sites["stage"].map(Stage))


def vector_sites(table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The sites as a vector file holds them (ids and numbers as text, as in the CSV)."""
    return gpd.GeoDataFrame(table[EXPORT_COLUMNS].assign(
        stage=table["stage"].map(str), quantity=table["quantity"].map(float),
        demand_id=table["demand_id"].astype(str), site_id=table["site_id"].astype(str),
        house_number=table["house_number"].astype(str)), geometry=table.geometry, crs=table.crs)


def hull_frame(summary: Any, product: Product) -> gpd.GeoDataFrame:
    """The bundles' hulls with their number, as on the page (a zero-length one is a point)."""
    return gpd.GeoDataFrame({
        "bundle": summary["rank"].astype(int).to_numpy(),
        "sites": summary["n_sites"].astype(int).to_numpy(),
        "organisations": summary["n_organisations"].astype(int).to_numpy(),
        "quantity": summary["total_quantity"].map(float).to_numpy(),
        "unit": product.unit, "span_m": summary["span_m"].round(1).to_numpy(),
        "areas": summary["areas"].fillna("").to_numpy(),
    }, geometry=drawable(summary.geometry).to_numpy(), crs=summary.crs)


# A file of every bundle can be large (a GeoPackage of 30,000 sites takes seconds to write and
# cannot be sent while it is written): it is written by a job into the instance folder, and
# its page shows the progress and then a download link. Files stay a day.
FILE_FORMATS = {"geojson": "GeoJSON", "gpkg": "GPKG"}
FILE_LIFETIME_S = 24 * 3600


def files_folder() -> Path:
    folder = Path(current_app.instance_path) / "bundle-files"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _meta_path(key: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", key):
        raise ValueError(key)
    return files_folder() / f"{key}.json"


def _write_meta(key: str, meta: dict[str, Any]) -> None:
    path = _meta_path(key)
    part = path.with_suffix(".json.part")
    part.write_text(json.dumps(meta))
    part.replace(path)


def prepare_file(filters: BundleFilter, *, fmt: str, locale: str, actor: User) -> str:
    """Register a file of every bundle for ``actor``; returns its key. The caller submits
    :func:`write_file` as a job with :func:`file_job_args`. Removes files older than a day."""
    if fmt not in FILE_FORMATS:
        raise ValueError(fmt)
    now = time.time()
    for old in files_folder().iterdir():
        if now - old.stat().st_mtime > FILE_LIFETIME_S:
            old.unlink(missing_ok=True)
    key = secrets.token_hex(16)
    _write_meta(key, {"user_id": actor.id, "fmt": fmt, "locale": locale,
                      "filters": asdict(filters), "status": "queued",
                      "filename": f"bundels-{filters.product}-{stamp()}.{fmt}"})
    return key


def file_state(key: str, *, user: User) -> dict[str, Any] | None:
    """Status (``queued``, ``running``, ``done``, ``failed``), share done, rows written and
    the file name; ``None`` for a file that does not exist or is someone else's."""
    try:
        meta = json.loads(_meta_path(key).read_text())
    except (ValueError, OSError):
        return None
    if meta.get("user_id") != user.id:
        return None
    seen = job_progress.progress(f"bundle-file:{key}") or {}
    done, total = int(seen.get("done", 0)), int(seen.get("total", 0))
    status = meta["status"]
    share = 1.0 if status in ("done", "failed") else (min(done / total, 1.0) if total else 0.0)
    return {"status": status, "progress": round(share, 4), "done": done, "total": total,
            "filename": meta["filename"], "fmt": meta["fmt"]}


def file_path(key: str) -> Path:
    meta = json.loads(_meta_path(key).read_text())
    return files_folder() / f"{key}.{meta['fmt']}"


def write_file(key: str) -> None:
    """The job: compute the bundles (or take them from the cache) and write the file, the
    progress in rows; the file appears under its name only when it is complete."""
    meta = json.loads(_meta_path(key).read_text())
    progress_key = f"bundle-file:{key}"
    _write_meta(key, {**meta, "status": "running"})
    target = files_folder() / f"{key}.{meta['fmt']}"
    part = target.with_name(f"{key}.part.{meta['fmt']}")  # GDAL wants the suffix
    try:
        filters = BundleFilter(**meta["filters"])
        product = db.session.scalar(sa.select(Product).where(Product.code == filters.product))
        if product is None:
            raise ValueError(filters.product)
        bundles = bundle_demand(filters)
        ranks = bundles.summary["rank"].reindex(bundles.points["bundle_id"]).to_numpy()
        table = site_rows(bundles.points, ranks, product, meta["locale"])
        table = table.iloc[pd.Index(ranks).argsort(kind="stable")]
        layers = {"bundles": hull_frame(bundles.summary, product), "sites": vector_sites(table)}
        total = sum(len(f) for f in layers.values())
        written = 0
        job_progress.set_progress(progress_key, done=0, total=total)

        def on_rows(n: int) -> None:
            nonlocal written
            written += n
            job_progress.set_progress(progress_key, done=written, total=total)

        part.unlink(missing_ok=True)
        write_vector_layers(layers, part, driver=FILE_FORMATS[meta["fmt"]], on_rows=on_rows)
        part.replace(target)
    except Exception:
        part.unlink(missing_ok=True)
        _write_meta(key, {**meta, "status": "failed"})
        raise
    _write_meta(key, {**meta, "status": "done"})
