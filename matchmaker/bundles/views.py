"""The coordinator's bundles: neighbours that can share one deal, totals per area, exports."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from geo.crs import rd_to_wgs84
from matchmaker.auth.decorators import staff_required
from matchmaker.bundles import services
from matchmaker.bundles.forms import BundleFilterForm, MultiProductForm
from matchmaker.demand.models import Stage
from matchmaker.demand.services import product_by_code, products
from matchmaker.errors import N_
from matchmaker.extensions import db
from matchmaker.register.models import Area, AreaKind
from matchmaker.security import recent_login_required
from matchmaker.web.exports import Id, csv_response, stamp, vector_response
from matchmaker.web.formatting import number
from matchmaker.web.forms import choices
from matchmaker.web.geojson import geojson_response
from matchmaker.web.paging import page_number
from matchmaker.web.printing import svg_map

bp = Blueprint("bundles", __name__, url_prefix="/coordinator")

#: The column labels of the CSV export, in the order of ``EXPORT_COLUMNS``.
EXPORT_LABELS = [
    N_("Bundle"), N_("Demand id"), N_("Site id"), N_("BAG id"), N_("Organisation"),
    N_("KvK number"), N_("Kring"), N_("Street"), N_("House number"), N_("Addition"),
    N_("Postcode"), N_("City"), N_("Area"), N_("Product"), N_("Quantity"), N_("Unit"),
    N_("Stage"), N_("Providers may see it"), N_("Contact"), N_("E-mail"), N_("Phone"),
]
EXPORT_COLUMNS = [
    "bundle", "demand_id", "site_id", "bag_id", "organisation", "kvk_number", "kring", "street",
    "house_number", "addition", "postcode", "city", "area", "product", "quantity", "unit",
    "stage", "consent_providers", "contact_name", "contact_email", "contact_phone",
]


def _filters() -> tuple[BundleFilterForm, services.BundleFilter]:
    locale = str(get_locale())
    form = BundleFilterForm(request.args)
    form.product.choices = choices((p.code, p.name(locale)) for p in products())
    form.kring_id.choices = choices([(0, _("all kringen"))] + [
        (a.id, a.name) for a in db.session.scalars(
            sa.select(Area).where(Area.kind == AreaKind.KRING).order_by(Area.name))
    ])
    if not form.validate():
        abort(400)
    return form, services.BundleFilter(
        product=form.product.data, max_gap_m=float(form.gap.data), stage=form.stage.data or "",
        kring_id=form.kring_id.data or None, area_kind=form.area_kind.data,
    )


def _args(form: BundleFilterForm) -> dict[str, Any]:
    return {"product": form.product.data, "gap": f"{form.gap.data:g}", "stage": form.stage.data,
            "kring_id": form.kring_id.data, "area_kind": form.area_kind.data}


@bp.route("/bundles")
@staff_required
def index() -> str | tuple[str, int]:
    form, filters = _filters()
    product = product_by_code(filters.product)
    if product is None:
        abort(404)
    bundles = services.bundle_demand(filters)
    args = _args(form)
    per_page = current_app.config["PAGE_SIZE"]
    pages = max(1, -(-len(bundles.summary) // per_page))
    page = min(page_number(), pages)
    sites_args = {"product": filters.product, "stage": filters.stage,
                  "kring_id": filters.kring_id or ""}
    return render_template(
        "bundles/index.html", form=form, product=product, bundles=bundles, args=args,
        rows=bundles.summary.iloc[(page - 1) * per_page:page * per_page], page=page,
        pages=pages, locale=str(get_locale()), geojson_url=url_for("bundles.geojson", **args),
        sites_url=url_for("demand.overview_map", **{k: v for k, v in sites_args.items() if v}),
        site_url=url_for("demand.site_detail", site_id=0).replace("/0.json", "/{id}.json"),
        extent=_extent(bundles), total=sum(bundles.points["quantity"], start=0),
    )


def _extent(bundles: services.Bundles) -> list[float] | None:
    """[south, west, north, east] around the sites, for opening the map on its data."""
    if bundles.points.empty:
        return None
    minx, miny, maxx, maxy = bundles.points.total_bounds
    lon, lat = rd_to_wgs84([minx, maxx], [miny, maxy])
    return [round(float(lat[0]), 6), round(float(lon[0]), 6), round(float(lat[1]), 6),
            round(float(lon[1]), 6)]


@bp.route("/bundles.geojson")
@staff_required
def geojson() -> Response:
    """The hulls of the bundles of two or more sites, labelled with their number (as in the
    table), volume and number of sites, WGS84. The sites themselves come clustered per
    viewport (the demand map's endpoint), so this stays small at province scale."""
    _form, filters = _filters()
    product = product_by_code(filters.product)
    if product is None:
        abort(404)
    summary = services.bundle_demand(filters).summary
    several = summary[summary["n_sites"] > 1]
    hulls = [{"kind": "bundle", "rank": int(row.rank), "n_sites": int(row.n_sites),
              "span_m": round(float(row.span_m)),
              "label": " · ".join([ngettext("%(num)s site", "%(num)s sites", int(row.n_sites)),
                                   f"{number(row.total_quantity)} {product.unit}"])}
             for row in several.itertuples()]
    return geojson_response(services.drawable(several.geometry), hulls)


def _bundle_sites() -> tuple[BundleFilterForm, Any, Any, gpd.GeoDataFrame, Any]:
    form, filters = _filters()
    product = product_by_code(filters.product)
    site_id = request.args.get("site", type=int)
    if product is None or site_id is None:
        abort(404)
    bundles = services.bundle_demand(filters)
    found = services.bundle_of_site(bundles, site_id)
    if found is None:
        abort(404)
    summary, sites = found
    return form, product, summary, sites, bundles


@bp.route("/bundles/export.<any(csv,geojson,gpkg):fmt>")
@staff_required
@recent_login_required
def export(fmt: str) -> Response:
    """One bundle for negotiation, with contact details (coordinators only)."""
    _form, product, summary, sites, _bundles = _bundle_sites()
    locale = str(get_locale())
    name = f"bundel-{product.code}-{int(summary['rank'])}-{stamp()}"
    table = sites.assign(
        bundle=str(int(summary["rank"])), demand_id=sites["demand_id"].astype(str),
        site_id=sites["site_id"].astype(str), bag_id=sites["bag_id"].fillna(""),
        house_number=sites["house_number"].astype(str), kring=sites["kring"].fillna(""),
        area=sites["area"].astype("object").where(sites["area"].notna(), ""),
        product=product.name(locale), unit=product.unit,
        consent_providers=sites["consent_providers"].map({True: "ja", False: "nee"}),
    )
    if fmt == "csv":
        ids = {"bag_id", "kvk_number"}
        rows = (
            [*(Id(r[c] or None) if c in ids else r[c] for c in EXPORT_COLUMNS),
             round(r.geometry.x, 2), round(r.geometry.y, 2)]
            for _, r in sites.assign(
                bundle=int(summary["rank"]), product=product.name(locale), unit=product.unit,
                kring=sites["kring"].fillna(""), bag_id=sites["bag_id"].fillna(""),
                area=sites["area"].astype("object").where(sites["area"].notna(), ""),
                stage=sites["stage"].map(Stage)).iterrows()
        )
        return csv_response([*(_(label) for label in EXPORT_LABELS),
                             _("X (RD New, m)"), _("Y (RD New, m)")], rows, f"{name}.csv")
    frame = gpd.GeoDataFrame(table[EXPORT_COLUMNS].assign(
        quantity=table["quantity"].map(lambda q: float(q))), geometry=table.geometry)
    if fmt == "geojson":
        return vector_response(frame, driver="GeoJSON", filename=f"{name}.geojson", layer=name)
    return vector_response(frame, driver="GPKG", filename=f"{name}.gpkg", layer="bundle")


@bp.route("/bundles/print")
@staff_required
@recent_login_required
def print_summary() -> str:
    form, product, summary, sites, _bundles = _bundle_sites()
    drawing = svg_map(summary.geometry, sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy())
    return render_template("bundles/print.html", form=form, product=product, summary=summary,
                           sites=sites, drawing=drawing, locale=str(get_locale()))


@bp.route("/multi-product")
@staff_required
def multi_product() -> str:
    form = MultiProductForm(request.args)
    if not form.validate():
        abort(400)
    sites, counts = services.multi_product_sites(max_gap_m=float(form.gap.data))
    catalogue = {p.code: p for p in products(active_only=False)}
    return render_template("bundles/multi_product.html", form=form, sites=sites, counts=counts,
                           combinations=services.product_combinations(sites),
                           catalogue=catalogue, locale=str(get_locale()))
