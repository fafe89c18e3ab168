"""Energy: members enter PV and use (or upload meter data) and read their matches; coordinators
run the matching and see who could supply whom."""

from __future__ import annotations

import json
from typing import Any

import shapely
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from geo.errors import GeoError
from matchmaker.auth.decorators import member_required, staff_required
from matchmaker.energy import grid, services
from matchmaker.energy.forms import (
    KIND_LABELS,
    MODE_LABELS,
    SHAPE_LABELS,
    ElectricityForm,
    ExpansionPlanForm,
    GridContractForm,
    MeterUploadForm,
    QuarterHourUploadForm,
    RunForm,
)
from matchmaker.energy.models import AssetKind, MatchRun, RunStatus
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.hub.services import site_hubs
from matchmaker.i18n import translate_error
from matchmaker.jobs import submit
from matchmaker.members.models import Site
from matchmaker.web.exports import csv_response
from matchmaker.web.forms import apply_service_error
from matchmaker.web.geojson import geojson_response
from matchmaker.web.lookup import own_site

bp = Blueprint("energy", __name__)

#: Matches listed on the run page (largest first); all of them are in the CSV.
TABLE_ROWS = 100
#: What the progress bar says in each stage of a run (``services.RUN_STAGES``; "" = queued).
STAGE_LABELS = {
    "": _l("waiting for a worker"),
    "profiles": _l("building the profiles"),
    "solving": _l("matching and proving, step by step"),
    "certifying": _l("cross-checking with HiGHS"),
    "saving": _l("saving the matches"),
    "done": _l("done"),
}
#: A run's status in the list of runs.
STATUS_LABELS = {
    RunStatus.QUEUED: _l("waiting"),
    RunStatus.RUNNING: _l("running"),
    RunStatus.DONE: _l("done"),
    RunStatus.FAILED: _l("failed"),
}


@bp.app_template_filter("run_stage")
def stage_label(stage: str) -> str:
    return str(STAGE_LABELS.get(stage, stage))


@bp.app_template_filter("run_mode")
def run_mode_filter(mode: str) -> str:
    return str(MODE_LABELS.get(mode, mode))


@bp.app_template_filter("run_status")
def run_status_filter(status: RunStatus) -> str:
    return str(STATUS_LABELS[status])


# --- members -----------------------------------------------------------------------------------

@bp.route("/sites/<int:site_id>/energy", methods=["GET", "POST"])
@member_required
def site_energy(site_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    site = own_site(site_id)
    pv = services.asset(site, AssetKind.PV)
    use = services.asset(site, AssetKind.CONSUMPTION)
    form = ElectricityForm()
    if request.method == "GET":
        form.pv_kwp.data = pv.capacity_kw if pv and not pv.planned else None
        form.pv_planned.data = bool(pv and pv.planned)
        form.tilt_deg.data = pv.tilt_deg if pv else None
        form.azimuth_deg.data = pv.azimuth_deg if pv else None
        form.feed_in_limit_kw.data = pv.feed_in_limit_kw if pv else None
        form.annual_use_kwh.data = use.annual_kwh if use else None
        form.profile_category.data = use.profile_category if use else "g0"
        form.share_name.data = bool((pv and pv.share_name) or (use and use.share_name))
    status = 200
    if form.validate_on_submit():
        try:
            services.save_electricity(
                site, actor=current_user, pv_kwp=form.pv_kwp.data,
                pv_planned=form.pv_planned.data, tilt_deg=form.tilt_deg.data,
                azimuth_deg=form.azimuth_deg.data, feed_in_limit_kw=form.feed_in_limit_kw.data,
                annual_use_kwh=form.annual_use_kwh.data,
                profile_category=form.profile_category.data, share_name=form.share_name.data,
            )
        except ServiceError as err:
            if not apply_service_error(form, err, translate_error(err)):
                flash(translate_error(err), "error")
            status = err.status
        else:
            flash(_("The energy data of this site is saved."), "success")
            return redirect(url_for("energy.site_energy", site_id=site.id))
    elif form.errors:
        status = 422
    return _site_page(site, form=form), status


def _site_page(site: Site, **forms: Any) -> str:
    """The site's Energie page: PV and use, meter data, and what energy hubs need (contract,
    quarter hours, expansion plans, flexibility, consent per hub)."""
    grid_connection = grid.connection(site)
    grid_form = forms.pop("grid_form", None) or GridContractForm(formdata=None)
    if grid_connection is not None and not grid_form.is_submitted():
        grid_form.contracted_take_kw.data = grid_connection.contracted_take_kw
        grid_form.contracted_feed_kw.data = grid_connection.contracted_feed_kw
        grid_form.shiftable_percent.data = (round(grid_connection.shiftable_share * 100, 1)
                                            if grid_connection.shiftable_share else None)
        grid_form.shift_start_hour.data = grid_connection.shift_start_hour
        grid_form.shift_end_hour.data = grid_connection.shift_end_hour
    context = {
        "form": ElectricityForm(formdata=None), "upload": MeterUploadForm(formdata=None),
        "quarter_upload": QuarterHourUploadForm(formdata=None),
        "plan_form": ExpansionPlanForm(formdata=None), **forms,
    }
    return render_template(
        "energy/site.html", site=site, grid_form=grid_form, grid=grid_connection,
        pv=services.asset(site, AssetKind.PV), use=services.asset(site, AssetKind.CONSUMPTION),
        plans=grid.plans(site), hub_memberships=site_hubs(site),
        profile=grid.profile_summary(site), kind_labels=KIND_LABELS,
        shape_labels=SHAPE_LABELS, **context)


@bp.route("/sites/<int:site_id>/energy/meter", methods=["POST"])
@member_required
def upload_meter(site_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    site = own_site(site_id)
    upload = MeterUploadForm()
    if upload.validate_on_submit():
        file = upload.file.data
        try:
            services.upload_meter_data(site, actor=current_user, kind=AssetKind(upload.kind.data),
                                       data=file.read(), filename=file.filename or "meter.csv")
        except (GeoError, ServiceError) as err:
            upload.file.errors.append(translate_error(err))
        else:
            flash(_("The meter data is stored; this site's profile is now measured."), "success")
            return redirect(url_for("energy.site_energy", site_id=site.id))
    return _site_page(site, upload=upload), 400


@bp.route("/sites/<int:site_id>/energy/meter/<any(pv,consumption):kind>/delete",
          methods=["POST"])
@member_required
def delete_meter(site_id: int, kind: str) -> WerkzeugResponse:
    site = own_site(site_id)
    services.remove_meter_data(site, actor=current_user, kind=AssetKind(kind))
    flash(_("The meter data is removed; the profile is estimated again."), "info")
    return redirect(url_for("energy.site_energy", site_id=site.id))


@bp.route("/sites/<int:site_id>/energy/grid", methods=["POST"])
@member_required
def save_grid(site_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    site = own_site(site_id)
    form = GridContractForm()
    if not form.validate_on_submit():
        return _site_page(site, grid_form=form), 422
    try:
        grid.save_contract(
            site, actor=current_user, contracted_take_kw=form.contracted_take_kw.data,
            contracted_feed_kw=form.contracted_feed_kw.data,
            shiftable_percent=form.shiftable_percent.data,
            shift_start_hour=form.shift_start_hour.data, shift_end_hour=form.shift_end_hour.data)
    except ServiceError as err:
        if not apply_service_error(form, err, translate_error(err)):
            flash(translate_error(err), "error")
        db.session.rollback()
        return _site_page(site, grid_form=form), err.status
    flash(_("The grid connection of this site is saved."), "success")
    return redirect(url_for("energy.site_energy", site_id=site.id, _anchor="grid"))


@bp.route("/sites/<int:site_id>/energy/quarter-hours", methods=["POST"])
@member_required
def upload_quarter_hours(site_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    site = own_site(site_id)
    upload = QuarterHourUploadForm()
    if upload.validate_on_submit():
        file = upload.file.data
        try:
            grid.upload_quarter_hours(site, actor=current_user, data=file.read(),
                                      filename=file.filename or "kwartierwaarden.csv")
        except (GeoError, ServiceError) as err:
            upload.file.errors.append(translate_error(err))
        else:
            flash(_("The quarter-hour data is stored; energy hubs now use the measured "
                    "profile of this site."), "success")
            return redirect(url_for("energy.site_energy", site_id=site.id, _anchor="grid"))
    return _site_page(site, quarter_upload=upload), 400


@bp.route("/sites/<int:site_id>/energy/quarter-hours/delete", methods=["POST"])
@member_required
def delete_quarter_hours(site_id: int) -> WerkzeugResponse:
    site = own_site(site_id)
    grid.remove_quarter_hours(site, actor=current_user)
    flash(_("The quarter-hour data is removed; energy hubs use the estimate again."), "info")
    return redirect(url_for("energy.site_energy", site_id=site.id, _anchor="grid"))


@bp.route("/sites/<int:site_id>/energy/plans", methods=["POST"])
@member_required
def add_plan(site_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    site = own_site(site_id)
    form = ExpansionPlanForm()
    if not form.validate_on_submit():
        return _site_page(site, plan_form=form), 422
    try:
        grid.add_plan(site, actor=current_user, kind=form.kind.data,
                      direction=form.direction.data, kw=form.kw.data,
                      from_year=form.from_year.data, shape=form.shape.data or None,
                      waiting_since=form.waiting_since.data, note=form.note.data or "")
    except ServiceError as err:
        if not apply_service_error(form, err, translate_error(err)):
            flash(translate_error(err), "error")
        db.session.rollback()
        return _site_page(site, plan_form=form), err.status
    flash(_("The expansion plan is added."), "success")
    return redirect(url_for("energy.site_energy", site_id=site.id, _anchor="plans"))


@bp.route("/sites/<int:site_id>/energy/plans/<int:plan_id>/delete", methods=["POST"])
@member_required
def delete_plan(site_id: int, plan_id: int) -> WerkzeugResponse:
    site = own_site(site_id)
    try:
        grid.delete_plan(site, plan_id, actor=current_user)
    except ServiceError:
        abort(404)
    flash(_("The expansion plan is removed."), "info")
    return redirect(url_for("energy.site_energy", site_id=site.id, _anchor="plans"))


@bp.route("/energy/quarter-hour-example.csv")
@member_required
def quarter_hour_example() -> Response:
    header, *rows = [line.split(";") for line in grid.quarter_hour_template().splitlines()]
    return csv_response(header, rows, "kwartierwaarden.csv")


@bp.route("/energy/meter-example.csv")
@member_required
def meter_example() -> Response:
    header, *rows = [line.split(";") for line in services.meter_template().splitlines()]
    return csv_response(header, rows, "meterdata.csv")


@bp.route("/energy/matches")
@member_required
def my_matches() -> str:
    run = services.latest_run()
    org = current_user.organisation
    matches = services.member_matches(run, org) if run else []
    what_ifs = {}
    if run is not None:
        with_energy = services.sites_with_energy(list(org.sites)) | {
            m.own_site.id for m in matches}
        energy = services.site_energy(run.mode) if with_energy else None
        for site in org.sites:
            if site.id in with_energy:
                what_ifs[site.id] = services.what_if(run, site, energy)
    return render_template("energy/my_matches.html", run=run, matches=matches,
                           what_ifs=what_ifs, sites=org.sites, extra_kwp=services.EXTRA_KWP,
                           shift_share=services.SHIFT_SHARE)


# --- coordinators ------------------------------------------------------------------------------

@bp.route("/coordinator/energy")
@staff_required
def runs() -> str:
    form = RunForm(formdata=None)
    return render_template("energy/runs.html", form=form, runs=services.recent_runs())


@bp.route("/coordinator/energy/runs", methods=["POST"])
@staff_required
def start_run() -> str | WerkzeugResponse | tuple[str, int]:
    form = RunForm()
    if not form.validate_on_submit():
        return render_template("energy/runs.html", form=form, runs=services.recent_runs()), 422
    try:
        run = services.start_run(actor=current_user, mode=form.mode.data,
                                 max_distance_m=float(form.max_distance_m.data))
    except ServiceError as err:
        flash(translate_error(err), "error")
        return redirect(url_for("energy.runs"))
    db.session.commit()  # the job (inline or on a worker) must see the run
    submit(services.execute_run, run.id)
    return redirect(url_for("energy.run", run_id=run.id))


def _run_or_404(run_id: int) -> MatchRun:
    return db.get_or_404(MatchRun, run_id)


@bp.route("/coordinator/energy/runs/<int:run_id>")
@staff_required
def run(run_id: int) -> str:
    run = _run_or_404(run_id)
    before = services.previous_run(run) if run.status == RunStatus.DONE else None
    sites = services.run_sites(run)
    return render_template(
        "energy/run.html", run=run, sites=sites, before=before, shown=TABLE_ROWS,
        changes=services.changes(run, before) if before else None,
        co2_kg=services.co2_avoided_kg(run), locale=str(get_locale()),
    )


@bp.route("/coordinator/energy/runs/<int:run_id>.csv")
@staff_required
def run_csv(run_id: int) -> Response:
    """Every match of a run, for a spreadsheet (ids as text)."""
    run = _run_or_404(run_id)
    sites = services.run_sites(run)
    rows = [[m.producer_site_id, sites[m.producer_site_id].organisation.name,
             m.consumer_site_id, sites[m.consumer_site_id].organisation.name,
             round(m.kwh, 1), round(m.distance_m, 1), m.hours] for m in run.matches]
    return csv_response([_("Producer site id"), _("Producer"), _("Consumer site id"),
                         _("Consumer"), _("kWh per year"), _("Distance (m)"),
                         _("Hours per year")], rows, f"koppelingen-run-{run.id}.csv")


@bp.route("/coordinator/energy/runs/<int:run_id>/status.json")
@staff_required
def run_status(run_id: int) -> Response:
    run = _run_or_404(run_id)
    return Response(json.dumps({"status": run.status.value, "progress": run.progress,
                                "stage": stage_label(run.stage)}), mimetype="application/json")


@bp.route("/coordinator/energy/runs/<int:run_id>.geojson")
@staff_required
def run_geojson(run_id: int) -> Response:
    """Lines between partners (width by kWh) in WGS84."""
    run = _run_or_404(run_id)
    sites = services.run_sites(run)
    peak = max((m.kwh for m in run.matches), default=1.0) or 1.0
    lines = [shapely.LineString([(sites[m.producer_site_id].x, sites[m.producer_site_id].y),
                                 (sites[m.consumer_site_id].x, sites[m.consumer_site_id].y)])
             for m in run.matches]
    return geojson_response(lines, [
        {"kwh": round(m.kwh), "distance_m": round(m.distance_m),
         "weight": round(1.5 + 8.5 * m.kwh / peak, 2),
         "producer": sites[m.producer_site_id].organisation.name,
         "consumer": sites[m.consumer_site_id].organisation.name} for m in run.matches])
