"""The coordinator's overview of all demand: table, map, totals and CSV export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from matchmaker.auth.decorators import staff_required
from matchmaker.demand import services
from matchmaker.demand.forms import OverviewFilterForm
from matchmaker.demand.models import Stage
from matchmaker.frames import stream_rows
from matchmaker.security import recent_login_required
from matchmaker.web.clusters import viewport_from_request
from matchmaker.web.exports import Id, csv_response, stamp
from matchmaker.web.forms import choices
from matchmaker.web.geojson import geojson_stream_response
from matchmaker.web.paging import page_number

bp = Blueprint("demand", __name__, url_prefix="/coordinator")


def _filter_form(version: int | None = None
                 ) -> tuple[OverviewFilterForm, services.OverviewFilter]:
    """The filters of the query string, validated against the current options (400 when one
    does not validate: a link to an area that no longer exists, a product code made up)."""
    options = services.filter_choices(str(get_locale()), version=version)
    form = OverviewFilterForm(request.args)
    form.product.choices = choices([("", _("all products")), *options.products])
    form.kring_id.choices = choices([(0, _("all kringen")), *options.kringen])
    form.area_id.choices = choices([(0, _("all areas")), *options.areas])
    if request.args and not form.validate():
        abort(400)
    return form, services.OverviewFilter(
        q=form.q.data or "", product=form.product.data or "", kring_id=form.kring_id.data or None,
        area_id=form.area_id.data or None, stage=form.stage.data or "",
    )


@bp.route("/demand")
@staff_required
def overview() -> str:
    """The same for every staff member: the content is rendered once per version of the demand
    tables, language and query string (:func:`services.overview_rendered`); the frame around it
    (menu, messages, the form tokens) is the user's own and rendered every time."""
    locale = str(get_locale())
    version = services.demand_version()  # one read for the options, totals, table and extent

    def content() -> Markup:
        form, filters = _filter_form(version)
        args = {k: v for k, v in request.args.items() if k != "page"}
        result = services.overview_page(filters, page=page_number(),
                                        per_page=current_app.config["PAGE_SIZE"])
        every_product = services.products(active_only=False)
        return Markup(render_template(
            "demand/_overview.html", form=form, locale=locale,
            totals=services.overview_totals(filters, version=version),
            rows=result.items, count=result.total, page=result.page,
            pages=max(result.pages, 1), args=args,
            map_url=url_for("demand.overview_map", **args),
            site_url=url_for("demand.site_detail", site_id=0).replace("/0.json", "/{id}.json"),
            extent=services.map_extent(filters, version=version),
            product_colors={p.code: p.color for p in every_product},
            product_names={p.code: p.name(locale) for p in every_product},
            geojson_url=url_for("demand.overview_geojson", **args),
            csv_url=url_for("demand.overview_csv", **args),
            areas_url=url_for("main.areas_geojson"),
        ))

    variant = (locale, tuple(request.args.items(multi=True)))
    return render_template("demand/overview.html",
                           content=services.overview_rendered(variant, content, version=version))


@bp.route("/demand/map.json")
@staff_required
def overview_map() -> Response:
    """The map's sites for one viewport: clusters per zoom, lone sites by id (no names)."""
    _form, filters = _filter_form()
    data = services.map_clusters(filters, viewport_from_request())
    return Response(json.dumps(data), mimetype="application/geo+json")


@bp.route("/demand/sites/<int:site_id>.json")
@staff_required
def site_detail(site_id: int) -> Response:
    """What a click on a site shows: the company, the address and its demand."""
    site = services.site_demand(site_id)
    if site is None:
        abort(404)
    locale = str(get_locale())
    return Response(json.dumps({
        "site_id": site.id, "organisation": site.organisation.name, "address": site.address,
        "demand": [{"product": d.product.name(locale), "quantity": f"{d.quantity.normalize():f}",
                    "unit": d.product.unit, "stage": d.stage.value}
                   for d in site.demands if d.stage != Stage.WITHDRAWN],
    }, ensure_ascii=False), mimetype="application/json")


@bp.route("/demand.csv")
@staff_required
@recent_login_required
def overview_csv() -> Response:
    """Every row matching the filters, for a Dutch spreadsheet; streamed from a server-side
    cursor as the client reads (the first bytes at once, the same memory for any size)."""
    _form, filters = _filter_form()
    query = services.export_query(filters, locale=str(get_locale()))
    header = [
        _("Demand id"), _("Organisation"), _("KvK number"), _("Kring"), _("Site id"),
        _("BAG id"), _("Street"), _("House number"), _("Addition"), _("Postcode"), _("City"),
        _("X (RD New, m)"), _("Y (RD New, m)"), _("Product"), _("Quantity"), _("Unit"),
        _("Minimum"), _("Maximum"), _("Stage"), _("Providers may see it"), _("Contact"),
        _("E-mail"), _("Phone"), _("Changed"),
    ]

    def rows() -> Iterator[list[Any]]:
        for (demand_id, org, kvk, kring, site_id, bag_id, street, number, addition, postcode,
             city, x, y, product, _code, quantity, unit, low, high, stage, consent, contact,
             email, phone, changed) in stream_rows(query):
            yield [demand_id, org, Id(kvk), kring or "", site_id, Id(bag_id), street, number,
                   addition, postcode, city, round(x, 2), round(y, 2), product, quantity, unit,
                   low, high, stage, consent, contact, email, phone, changed]

    return csv_response(header, rows(), f"vraag-{stamp()}.csv")


@bp.route("/demand.geojson")
@staff_required
def overview_geojson() -> Response:
    """Sites with their demand as RFC 7946 GeoJSON (WGS84), one feature per site, streamed
    from a server-side cursor (the first bytes at once, the same memory for any size)."""
    _form, filters = _filter_form()
    query = services.export_query(filters, locale=str(get_locale()), by_site=True)

    def features() -> Iterator[tuple[float, float, dict[str, Any]]]:
        current: dict[str, Any] | None = None
        where = (0.0, 0.0)
        for (_demand_id, org, _kvk, _kring, site_id, _bag, street, number, addition, postcode,
             city, x, y, product, code, quantity, unit, _low, _high, stage, *_rest) \
                in stream_rows(query):
            if current is None or current["site_id"] != str(site_id):
                if current is not None:
                    yield (*where, current)
                address = f"{street} {number}{addition and '-' + addition}".strip()
                current = {"site_id": str(site_id), "organisation": org,
                           "address": f"{address}, {postcode} {city}".strip(", "),
                           "products": [], "demand": []}
                where = (float(x), float(y))
            current["products"].append(code)
            current["demand"].append({"product": product,
                                      "quantity": f"{quantity.normalize():f}", "unit": unit,
                                      "stage": stage.value})
        if current is not None:
            yield (*where, current)

    return geojson_stream_response(features(), f"vraag-{stamp()}.geojson")
