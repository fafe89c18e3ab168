"""Energy hubs: coordinators build a hub, analyse it as a job and read its numbers; members give
consent per hub (on the site's Energie page)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from geo.errors import GeoError
from matchmaker.auth.decorators import member_required, staff_required
from matchmaker.database import writes
from matchmaker.energy.models import RunStatus
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.hub import services
from matchmaker.hub.forms import (
    ORDER_LABELS,
    SOURCE_LABELS,
    ActionForm,
    AddSiteForm,
    ConsentForm,
    NewHubForm,
    ParametersForm,
    result_labels,
)
from matchmaker.hub.models import Hub, HubAnalysis, HubSource
from matchmaker.hub.services import battery, charts, dossier
from matchmaker.i18n import translate, translate_error
from matchmaker.jobs import submit
from matchmaker.register.models import Area, AreaKind
from matchmaker.web.forms import apply_service_error, choices
from matchmaker.web.geometry import drawn_polygon
from matchmaker.web.lookup import own_site

bp = Blueprint("hub", __name__)

STAGE_LABELS = {
    "": _l("waiting for a worker"),
    "profiles": _l("collecting the quarter-hour profiles"),
    "analysis": _l("peaks and duration curve"),
    "battery": _l("sizing the battery"),
    "shifting": _l("shifting flexible use"),
    "matching": _l("comparing with energy matching"),
    "saving": _l("saving"),
    "done": _l("done"),
}


def _hub_or_404(hub_id: int) -> Hub:
    return db.get_or_404(Hub, hub_id)


def _analysis_or_404(hub: Hub, analysis_id: int) -> HubAnalysis:
    analysis: HubAnalysis = db.first_or_404(sa.select(HubAnalysis).where(
        HubAnalysis.id == analysis_id, HubAnalysis.hub_id == hub.id))
    return analysis


def _fail(form: Any, err: ServiceError | GeoError) -> None:
    if not (isinstance(err, ServiceError) and apply_service_error(form, err,
                                                                  translate_error(err))):
        flash(translate_error(err), "error")
    db.session.rollback()


# --- the list and a new hub --------------------------------------------------------------------


def _new_form() -> NewHubForm:
    form = NewHubForm()
    areas = list(db.session.scalars(sa.select(Area).where(
        Area.kind.in_([AreaKind.PARK, AreaKind.KRING])).order_by(Area.name)))
    form.park_id.choices = choices((a.id, a.name) for a in areas if a.kind == AreaKind.PARK)
    form.kring_id.choices = choices((a.id, a.name) for a in areas if a.kind == AreaKind.KRING)
    return form


@bp.route("/coordinator/hubs", methods=["GET", "POST"])
@staff_required
def index() -> str | WerkzeugResponse | tuple[str, int]:
    form = _new_form()
    status = 200
    if form.validate_on_submit():
        try:
            source = HubSource(form.source.data)
            seed = (services.find_site(form.postcode.data or "", form.house_number.data)
                    if source == HubSource.BUNDLE else None)
            hub = services.create_hub(
                actor=current_user, name=form.name.data, source=source,
                area_id=form.park_id.data if source == HubSource.PARK else form.kring_id.data,
                geometry=drawn_polygon(form.polygon.data) if source == HubSource.AREA else None,
                seed=seed, max_gap_m=form.max_gap_m.data)
        except ServiceError as err:
            _fail(form, err)
            status = err.status
        else:
            flash(_("The hub is made. Members decide on their Energy page whether their profile "
                    "may be used."), "success")
            return redirect(url_for("hub.detail", hub_id=hub.id))
    elif form.is_submitted():
        status = 422
    return render_template("hub/index.html", form=form, hubs=services.hubs(),
                           source_labels=SOURCE_LABELS), status


# --- one hub -----------------------------------------------------------------------------------


def _chart_labels() -> dict[str, str]:
    return {"contracts": _("sum of the contracts"), "capacity": _("capacity needed"),
            "group": _("group"), "with_plans": _("group with all expansion plans"),
            "battery": _("battery")}


def _page(hub: Hub, **forms: Any) -> str:
    latest = services.latest_analysis(hub)
    done = latest if latest is not None and latest.status == RunStatus.DONE else (
        services.latest_analysis(hub, done=True))
    params = forms.pop("params", None) or ParametersForm(formdata=None, obj=None)
    if not params.is_submitted():
        params.curtail_hours.data = hub.curtail_hours
        params.target_take_kw.data = hub.target_take_kw
        params.battery_efficiency_percent.data = round(hub.battery_efficiency * 100, 1)
        params.plan_order.data = hub.plan_order.value
        params.max_distance_m.data = hub.max_distance_m
    context: dict[str, Any] = {"add_form": AddSiteForm(formdata=None), **forms}
    result = done.result if done is not None else None
    if done is not None and result is not None:
        labels = _chart_labels()
        context.update(
            duration=charts.duration_chart(result, labels),
            battery_chart=charts.battery_chart(result, labels),
            names=services.participant_names(done, named_only=False),
            consent_changed=services.consent_changed(done),
            month_ticks=charts.month_ticks(),
        )
    members = services.member_rows(hub)
    return render_template(
        "hub/detail.html", hub=hub, members=members, latest=latest, done=done, result=result,
        params=params, action=ActionForm(formdata=None), stage_labels=STAGE_LABELS,
        order_labels=ORDER_LABELS, **result_labels(),
        consented=sum(1 for m, _s in members if m.consent_profile),
        **context)


@bp.route("/coordinator/hubs/<int:hub_id>")
@staff_required
def detail(hub_id: int) -> str:
    return _page(_hub_or_404(hub_id))


@bp.route("/coordinator/hubs/<int:hub_id>/parameters", methods=["POST"])
@staff_required
def parameters(hub_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    hub = _hub_or_404(hub_id)
    form = ParametersForm()
    if not form.validate_on_submit():
        return _page(hub, params=form), 422
    try:
        services.update_parameters(
            hub, actor=current_user, curtail_hours=float(form.curtail_hours.data or 0),
            target_take_kw=form.target_take_kw.data,
            battery_efficiency_percent=float(form.battery_efficiency_percent.data or 0),
            plan_order=form.plan_order.data, max_distance_m=form.max_distance_m.data)
    except ServiceError as err:
        _fail(form, err)
        return _page(hub, params=form), err.status
    flash(_("The parameters are saved; analyse again to see their effect."), "success")
    return redirect(url_for("hub.detail", hub_id=hub.id))


@bp.route("/coordinator/hubs/<int:hub_id>/sites", methods=["POST"])
@staff_required
def add_site(hub_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    hub = _hub_or_404(hub_id)
    form = AddSiteForm()
    if not form.validate_on_submit():
        return _page(hub, add_form=form), 422
    try:
        services.add_site(hub, services.find_site(form.postcode.data, form.house_number.data),
                          actor=current_user)
    except ServiceError as err:
        _fail(form, err)
        return _page(hub, add_form=form), err.status
    flash(_("The site is added to the hub."), "success")
    return redirect(url_for("hub.detail", hub_id=hub.id, _anchor="participants"))


@bp.route("/coordinator/hubs/<int:hub_id>/sites/<int:site_id>/remove", methods=["POST"])
@staff_required
def remove_site(hub_id: int, site_id: int) -> WerkzeugResponse:
    hub = _hub_or_404(hub_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.remove_site(hub, site_id, actor=current_user)
    except ServiceError:
        abort(404)
    flash(_("The site is removed from the hub."), "info")
    return redirect(url_for("hub.detail", hub_id=hub.id, _anchor="participants"))


@bp.route("/coordinator/hubs/<int:hub_id>/analyse", methods=["POST"])
@staff_required
def analyse(hub_id: int) -> WerkzeugResponse:
    hub = _hub_or_404(hub_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        analysis = services.start_analysis(hub, actor=current_user)
    except ServiceError as err:
        flash(translate_error(err), "error")
        db.session.rollback()
        return redirect(url_for("hub.detail", hub_id=hub.id))
    db.session.commit()  # the job (inline or on a worker) must see the analysis
    submit(services.execute_analysis, analysis.id)
    return redirect(url_for("hub.detail", hub_id=hub.id, _anchor="analysis"))


@bp.route("/coordinator/hubs/<int:hub_id>/analyses/<int:analysis_id>/status.json")
@staff_required
def status(hub_id: int, analysis_id: int) -> Response:
    analysis = _analysis_or_404(_hub_or_404(hub_id), analysis_id)
    return Response(json.dumps({
        "status": analysis.status.value, "progress": analysis.progress,
        "stage": str(STAGE_LABELS.get(analysis.stage, analysis.stage)),
    }), mimetype="application/json")


@bp.route("/coordinator/hubs/<int:hub_id>/analyses/<int:analysis_id>/heatmap.png")
@staff_required
def heat_map(hub_id: int, analysis_id: int) -> Response:
    analysis = _analysis_or_404(_hub_or_404(hub_id), analysis_id)
    net = dossier.net_kw(analysis)
    if net is None:
        abort(404)
    image, _scale = charts.heat_map_png(net)
    return Response(image, mimetype="image/png")


@bp.route("/coordinator/hubs/<int:hub_id>/analyses/<int:analysis_id>/dossier.zip")
@staff_required
@writes  # the download is in the audit log
def download_dossier(hub_id: int, analysis_id: int) -> Response | WerkzeugResponse:
    hub = _hub_or_404(hub_id)
    analysis = _analysis_or_404(hub, analysis_id)
    try:
        data = dossier.build(analysis, actor=current_user, chart_labels=_chart_labels(),
                             table_labels=result_labels())
    except ServiceError as err:
        flash(translate_error(err), "error")
        return redirect(url_for("hub.detail", hub_id=hub.id, _anchor="analysis"))
    filename = f"energiehub-{hub.id}-dossier-{analysis.id}.zip"
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/coordinator/hubs/<int:hub_id>/analyses/<int:analysis_id>/summary")
@staff_required
def summary(hub_id: int, analysis_id: int) -> str:
    """The printable summary (also in the dossier), names only with consent."""
    hub = _hub_or_404(hub_id)
    analysis = _analysis_or_404(hub, analysis_id)
    if analysis.result is None:
        abort(404)
    return dossier.summary_html(analysis, chart_labels=_chart_labels(),
                                table_labels=result_labels(), standalone=False)


@bp.route("/coordinator/hubs/<int:hub_id>/analyses/<int:analysis_id>/battery-campaign",
          methods=["POST"])
@staff_required
def battery_campaign(hub_id: int, analysis_id: int) -> WerkzeugResponse:
    hub = _hub_or_404(hub_id)
    analysis = _analysis_or_404(hub, analysis_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        campaign = battery.start_campaign(
            hub, analysis, actor=current_user,
            title=_("Shared battery %(hub)s", hub=hub.name),
            description=battery.description(analysis, translate))
    except ServiceError as err:
        flash(translate_error(err), "error")
        db.session.rollback()
        return redirect(url_for("hub.detail", hub_id=hub.id, _anchor="battery"))
    flash(_("A draft group buy for the shared battery is made; check it and open it."),
          "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


# --- members: consent per hub ------------------------------------------------------------------


@bp.route("/sites/<int:site_id>/hubs/<int:hub_id>/consent", methods=["POST"])
@member_required
def consent(site_id: int, hub_id: int) -> WerkzeugResponse:
    site = own_site(site_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        member = services.set_consent(site, hub_id, actor=current_user,
                                      profile=bool(form.consent_profile.data),
                                      name=bool(form.consent_name.data))
    except ServiceError:
        abort(404)
    if member.consent_profile:
        flash(_("Thank you: %(hub)s may use the profile of this site.", hub=member.hub.name),
              "success")
    else:
        flash(_("%(hub)s will not use the profile of this site.", hub=member.hub.name), "info")
    return redirect(url_for("energy.site_energy", site_id=site.id, _anchor="hubs"))
