"""The coordinator's bundles: neighbours that can share one deal, totals per area, exports."""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from geo.crs import rd_to_wgs84
from matchmaker.auth.decorators import staff_required
from matchmaker.bundles import services
from matchmaker.bundles.forms import BundleFilterForm, MultiProductForm
from matchmaker.demand.services import product_by_code, products
from matchmaker.errors import N_
from matchmaker.extensions import db
from matchmaker.jobs import submit
from matchmaker.register.models import Area, AreaKind
from matchmaker.security import recent_login_required
from matchmaker.web.exports import (
    VECTOR_MIMETYPES,
    Id,
    csv_response,
    stamp,
    vector_layers_response,
)
from matchmaker.web.formatting import quantity
from matchmaker.web.forms import choices, show_number
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
    _form, filters = _valid_filters()
    product = product_by_code(filters.product)
    if product is None:
        abort(404)
    summary = services.bundle_demand(filters).summary
    several = summary[summary["n_sites"] > 1]
    hulls = [{"kind": "bundle", "rank": int(row.rank), "n_sites": int(row.n_sites),
              "span_m": round(float(row.span_m)),
              "label": " · ".join([ngettext("%(num)s site", "%(num)s sites", int(row.n_sites)),
                                   quantity(row.total_quantity, product)])}
             for row in several.itertuples()]
    return geojson_response(services.drawable(several.geometry), hulls)


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


def _csv(table: gpd.GeoDataFrame, name: str) -> Response:
    ids = {"bag_id", "kvk_number"}

    def rows() -> Any:
        for _index, r in table.iterrows():
            yield [*(Id(r[c] or None) if c in ids else r[c] for c in services.EXPORT_COLUMNS),
                   round(r.geometry.x, 2), round(r.geometry.y, 2)]

    return csv_response([*(_(label) for label in EXPORT_LABELS), _("X (RD New, m)"),
                         _("Y (RD New, m)")], rows(), f"{name}.csv")


@bp.route("/bundles/export.<any(csv,geojson,gpkg):fmt>")
@staff_required
@recent_login_required
def export(fmt: str) -> Response:
    """One bundle for negotiation, with contact details (coordinators only): its sites, and in
    GeoJSON and GeoPackage also its hull."""
    _form, product, summary, sites, bundles = _bundle_sites()
    locale = str(get_locale())
    rank = int(summary["rank"])
    name = f"bundel-{product.code}-{rank}-{stamp()}"
    table = services.site_rows(sites, rank, product, locale)
    if fmt == "csv":
        return _csv(table, name)
    hull = services.hull_frame(bundles.summary[bundles.summary["rank"] == rank], product)
    return vector_layers_response({"sites": services.vector_sites(table), "hull": hull},
                                  driver="GeoJSON" if fmt == "geojson" else "GPKG",
                                  filename=f"{name}.{fmt}")


@bp.route("/bundles/export-all.<any(csv):fmt>")
@staff_required
@recent_login_required
def export_all(fmt: str) -> Response:
    """Every bundle of the product in one CSV file (contact details: coordinators only), the
    sites with the number of their bundle, written while the client reads from the bundles
    computed for the page (cached). GeoJSON and GeoPackage: :func:`start_file`."""
    _form, filters = _filters()
    product = product_by_code(filters.product) if filters else None
    if filters is None or product is None:
        abort(404)
    bundles = services.bundle_demand(filters)
    ranks = bundles.summary["rank"].reindex(bundles.points["bundle_id"]).to_numpy()
    table = services.site_rows(bundles.points, ranks, product, str(get_locale()))
    table = table.iloc[pd.Index(ranks).argsort(kind="stable")]
    return _csv(table, f"bundels-{product.code}-{stamp()}")


@bp.route("/bundles/export-all.<any(geojson,gpkg):fmt>", methods=["POST"])
@staff_required
@recent_login_required
def start_file(fmt: str) -> Response:
    """Every bundle with its hull and sites as GeoJSON or GeoPackage: too large to write while
    the browser waits at province scale, so a job writes it and the file's page shows the
    progress, then the download link."""
    _form, filters = _filters()
    if filters is None or product_by_code(filters.product) is None:
        abort(404)
    key = services.prepare_file(filters, fmt=fmt, locale=str(get_locale()), actor=current_user)
    submit(services.write_file, key)
    return redirect(url_for("bundles.file", key=key), 303)


def _file_state(key: str) -> dict[str, Any]:
    state = services.file_state(key, user=current_user)
    if state is None:
        abort(404)
    return state


@bp.route("/bundles/files/<key>")
@staff_required
def file(key: str) -> str:
    state = _file_state(key)
    return render_template("bundles/file.html", key=key, state=state,
                           running=state["status"] in ("queued", "running"))


@bp.route("/bundles/files/<key>/status.json")
@staff_required
def file_status(key: str) -> Response:
    state = _file_state(key)
    return Response(json.dumps({k: state[k] for k in ("status", "progress", "done", "total")}),
                    mimetype="application/json")


@bp.route("/bundles/files/<key>/download")
@staff_required
@recent_login_required
def download_file(key: str) -> Response:
    state = _file_state(key)
    if state["status"] != "done":
        abort(404)
    return send_file(services.file_path(key), as_attachment=True,
                     download_name=state["filename"],
                     mimetype=VECTOR_MIMETYPES[services.FILE_FORMATS[state["fmt"]]])


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
