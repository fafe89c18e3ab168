"""The coordinator's bundles: neighbours that can share one deal, totals per area, exports."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import sqlalchemy as sa
from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

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
from matchmaker.web.formatting import quantity
from matchmaker.web.forms import choices, show_number
from matchmaker.web.geojson import geojson_response
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


def _filters() -> tuple[BundleFilterForm, services.BundleFilter | None]:
    """The filters from the query string; ``None`` when a field is wrong (its message is on
    the form, the typed text kept)."""
    locale = str(get_locale())
    form = BundleFilterForm(request.args)
    form.product.choices = choices((p.code, p.name(locale)) for p in products())
    form.kring_id.choices = choices([(0, _("all kringen"))] + [
        (a.id, a.name) for a in db.session.scalars(
            sa.select(Area).where(Area.kind == AreaKind.KRING).order_by(Area.name))
    ])
    if not form.validate():
        return form, None
    return form, services.BundleFilter(
        product=form.product.data, max_gap_m=float(form.gap.data), stage=form.stage.data or "",
        kring_id=form.kring_id.data or None, area_kind=form.area_kind.data,
    )


def _valid_filters() -> tuple[BundleFilterForm, services.BundleFilter]:
    """For downloads and map data, which are only linked from a valid page: 400 otherwise."""
    form, filters = _filters()
    if filters is None:
        abort(400)
    return form, filters


def _args(form: BundleFilterForm) -> dict[str, Any]:
    return {"product": form.product.data, "gap": show_number(form.gap.data),
            "stage": form.stage.data,
            "kring_id": form.kring_id.data, "area_kind": form.area_kind.data}


@bp.route("/bundles")
@staff_required
def index() -> str | tuple[str, int]:
    form, filters = _filters()
    if filters is None:
        product = product_by_code(form.product.data) or product_by_code("solar_roof")
        return render_template("bundles/index.html", form=form, product=product, bundles=None,
                               args={}, locale=str(get_locale())), 422
    product = product_by_code(filters.product)
    if product is None:
        abort(404)
    bundles = services.bundle_demand(filters)
    args = _args(form)
    return render_template(
        "bundles/index.html", form=form, product=product, bundles=bundles, args=args,
        locale=str(get_locale()), geojson_url=url_for("bundles.geojson", **args),
        total=sum(bundles.points["quantity"], start=0),
    )


@bp.route("/bundles.geojson")
@staff_required
def geojson() -> Response:
    """Hulls (labelled with volume and number of sites) and the sites, WGS84."""
    _form, filters = _valid_filters()
    product = product_by_code(filters.product)
    if product is None:
        abort(404)
    bundles = services.bundle_demand(filters)
    summary, points = bundles.summary, bundles.points
    hulls = [{"kind": "bundle", "rank": int(row.rank), "n_sites": int(row.n_sites),
              "span_m": round(float(row.span_m)),
              "label": " · ".join([ngettext("%(num)s site", "%(num)s sites", int(row.n_sites)),
                                   quantity(row.total_quantity, product)])}
             for row in summary.itertuples()]
    ranks = summary["rank"].reindex(points["bundle_id"]).to_numpy()
    sites = [{"kind": "site", "rank": int(rank),
              "label": f"{site.organisation}: {quantity(site.quantity, product)}"}
             for rank, site in zip(ranks, points.itertuples(), strict=True)]
    return geojson_response([*summary.geometry, *points.geometry], [*hulls, *sites])


def _bundle_sites() -> tuple[BundleFilterForm, Any, Any, gpd.GeoDataFrame, Any]:
    form, filters = _valid_filters()
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
def multi_product() -> str | tuple[str, int]:
    form = MultiProductForm(request.args)
    if not form.validate():
        return render_template("bundles/multi_product.html", form=form, sites=None), 422
    sites, counts = services.multi_product_sites(max_gap_m=float(form.gap.data))
    catalogue = {p.code: p for p in products(active_only=False)}
    return render_template("bundles/multi_product.html", form=form, sites=sites, counts=counts,
                           combinations=services.product_combinations(sites),
                           catalogue=catalogue, locale=str(get_locale()))
