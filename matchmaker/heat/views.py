"""Shared heat: members enter heat data and see their candidate network; coordinators see all
networks by viability, what would tip them, and export them for the municipality."""

from __future__ import annotations

import math
from typing import Any

import shapely
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from matchmaker.auth.decorators import member_required, staff_required
from matchmaker.errors import ServiceError
from matchmaker.heat import services
from matchmaker.heat.forms import HeatFilterForm, HeatForm
from matchmaker.i18n import translate_error
from matchmaker.web.exports import stamp, vector_layers_response
from matchmaker.web.forms import apply_service_error, show_number
from matchmaker.web.geojson import geojson_response
from matchmaker.web.lookup import own_site
from matchmaker.web.printing import svg_map

bp = Blueprint("heat", __name__)


@bp.route("/sites/<int:site_id>/heat", methods=["GET", "POST"])
@member_required
def site_heat(site_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    site = own_site(site_id)
    source, sink = services.heat_assets(site)
    form = HeatForm()
    if request.method == "GET":
        if source is not None:
            form.source_mwh.data, form.source_temperature_c.data = (source.annual_mwh,
                                                                    source.temperature_c)
            form.source_months.data = ([] if source.months_available is None
                                       else services.months_of(source.months_available))
        if sink is not None:
            form.sink_mwh.data, form.sink_gas_m3.data = sink.annual_mwh, sink.gas_m3
            form.sink_temperature_class.data = services.temperature_class_of(sink.temperature_c)
        form.share_name.data = bool((source and source.share_name) or (sink and sink.share_name))
    status = 422 if form.is_submitted() and not form.validate() else 200
    if form.is_submitted() and status == 200:
        try:
            services.save_heat(
                site, actor=current_user, source_mwh=form.source_mwh.data,
                source_temperature_c=form.source_temperature_c.data,
                source_months=form.source_months.data or [], sink_mwh=form.sink_mwh.data,
                sink_gas_m3=form.sink_gas_m3.data,
                sink_temperature_class=form.sink_temperature_class.data,
                share_name=form.share_name.data,
            )
        except ServiceError as err:
            if not apply_service_error(form, err, translate_error(err)):
                flash(translate_error(err), "error")
            status = err.status
        else:
            flash(_("The heat data of this site is saved."), "success")
            return redirect(url_for("heat.my_networks"))
    return render_template("heat/site.html", site=site, form=form), status


@bp.route("/heat")
@member_required
def my_networks() -> str:
    analysis = services.analyse()
    org = current_user.organisation
    return render_template("heat/my_networks.html", analysis=analysis,
                           networks=services.networks_of(analysis, org),
                           unconnected=services.unconnected_sinks(analysis, org),
                           sites={s.id: s for s in org.sites},
                           potential_mwh=services.POTENTIAL_MWH_PER_ADDRESS)


def _analysis(*, strict: bool = True) -> tuple[HeatFilterForm, services.HeatAnalysis | None]:
    """The analysis for the query string's filters. A wrong filter is a 400 for downloads
    (``strict``) and ``None`` for the page, which shows the message next to the field."""
    form = HeatFilterForm(request.args)
    if not form.validate():
        if strict:
            abort(400)
        return form, None
    return form, services.analyse(max_gap_m=float(form.gap.data),
                                  detour_factor=float(form.detour.data))


def _args(form: HeatFilterForm) -> dict[str, Any]:
    return {"gap": show_number(form.gap.data), "detour": show_number(form.detour.data)}


@bp.route("/coordinator/heat")
@staff_required
def networks() -> str | tuple[str, int]:
    form, analysis = _analysis(strict=False)
    if analysis is None:
        return render_template("heat/networks.html", form=form, analysis=None, args={}), 422
    return render_template("heat/networks.html", form=form, analysis=analysis, args=_args(form),
                           potential_mwh=services.POTENTIAL_MWH_PER_ADDRESS)


@bp.route("/coordinator/heat.geojson")
@staff_required
def networks_geojson() -> Response:
    """Trench sketches coloured by viability, and the sources and sinks, in WGS84."""
    _form, analysis = _analysis()
    geometries: list[Any] = []
    properties: list[dict[str, Any]] = []
    trenches = services.drawable(analysis.networks.geometry)
    for (network_id, n), trench in zip(analysis.networks.iterrows(), trenches, strict=True):
        density = n["heat_density_mwh_per_m"]
        geometries.append(trench)
        properties.append({"kind": "network", "network_id": int(network_id),
                           "viability": n["viability"],
                           "density": None if math.isnan(density) else round(float(density), 3)})
    for frame, kind in ((analysis.sources, "source"), (analysis.sinks, "sink")):
        for row in frame.itertuples():
            geometries.append(row.geometry)
            properties.append({
                "kind": kind, "name": row.organisation, "mwh": round(float(row.mwh), 1),
                "network_id": None if row.network_id != row.network_id else int(row.network_id)})
    return geojson_response(geometries, properties)


@bp.route("/coordinator/heat/export.<any(geojson,gpkg):fmt>")
@staff_required
def export(fmt: str) -> Response:
    """Networks, their sites and the possible joiners of critical networks (numbered as on
    the page): GeoPackage layers, or one GeoJSON with a ``layer`` property."""
    _form, analysis = _analysis()
    return vector_layers_response(services.export_layers(analysis),
                                  driver="GeoJSON" if fmt == "geojson" else "GPKG",
                                  filename=f"warmtenetten-{stamp()}.{fmt}")


@bp.route("/coordinator/heat/print")
@staff_required
def print_summary() -> str:
    form, analysis = _analysis()
    x, y = services.site_points(analysis)
    drawing = None
    if len(x):
        drawing = svg_map(None, x, y, lines=shapely.union_all(
            [g for g in analysis.networks.geometry if not g.is_empty]) if len(
            analysis.networks) else None)
    return render_template("heat/print.html", form=form, analysis=analysis, drawing=drawing,
                           potential_mwh=services.POTENTIAL_MWH_PER_ADDRESS)
