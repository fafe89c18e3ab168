"""Fibre demand checks for providers and coordinators; consent and data access for members."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response

from matchmaker.auth.decorators import member_required, role_required
from matchmaker.auth.models import Role, User
from matchmaker.campaigns.forms import LOCAL_TZ, end_of_day_utc
from matchmaker.database import set_write_intent, writes
from matchmaker.demand import services as demand_services
from matchmaker.demand.models import Demand, Product, Stage
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.fibre import services
from matchmaker.fibre.charts import trend_chart
from matchmaker.fibre.exports import addresses_csv, area_label, progress_download
from matchmaker.fibre.forms import (
    COUNT,
    PERCENT,
    ActionForm,
    CheckForm,
    ConsentForm,
    ExclusionForm,
    WhatIfForm,
)
from matchmaker.fibre.models import FibreCheck, FibreExclusion, Grouping
from matchmaker.i18n import translate_error
from matchmaker.members.models import Site
from matchmaker.security import recent_login_required
from matchmaker.web.forms import apply_service_error, area_choices, choices
from matchmaker.web.geometry import drawn_polygon

bp = Blueprint("fibre", __name__, url_prefix="/fibre")
fibre_roles = role_required(Role.PROVIDER, Role.COORDINATOR, Role.ADMIN)


@bp.before_request
def pages_may_write() -> None:
    """A page may take the day's snapshot (see services.refresh): write from the start, so
    SQLite queues it behind other writers instead of failing to upgrade a read."""
    set_write_intent(True)


def _locale() -> str:
    return str(get_locale())


def _check(check_id: int) -> FibreCheck:
    """The check if the user may see it; 404 otherwise (another provider's check does not
    exist for you)."""
    check = db.get_or_404(FibreCheck, check_id)
    if not services.can_see(check, current_user):
        abort(404)
    return check


def _area_choices() -> list[Any]:
    from matchmaker.campaigns.services import areas_for_choice

    return area_choices(areas_for_choice())


def _check_form(check: FibreCheck | None = None) -> CheckForm:
    form = CheckForm(obj=check if request.method == "GET" else None)
    form.provider_id.choices = choices((u.id, services.provider_label(u))
                                       for u in services.providers())
    form.counted_uses.choices = choices((u, u) for u in services.BAG_USES)
    form.area_ids.choices = _area_choices()
    if request.method == "GET":
        if check is not None:
            form.provider_id.data = check.provider_id
            form.threshold_kind.data = PERCENT if check.threshold_percent is not None else COUNT
            form.threshold_value.data = (check.threshold_percent.normalize()
                                         if check.threshold_percent is not None
                                         else Decimal(check.threshold_count or 0))
            form.counted_uses.data = check.uses
            form.deadline.data = check.deadline.astimezone(LOCAL_TZ).date()
            form.grouping.data = check.grouping.value
            form.area_ids.data = [r.area_id for r in check.regions if r.area_id]
            drawn = next((r for r in check.regions if r.area_id is None), None)
            if drawn is not None:
                import shapely

                from geo.crs import geometry_to_wgs84

                form.polygon.data = shapely.to_geojson(geometry_to_wgs84(drawn.geometry))
        else:
            form.threshold_value.data = services.DEFAULT_PERCENT
            if current_user.role == Role.PROVIDER:
                form.provider_id.data = current_user.id
    return form


def _settings(form: CheckForm) -> services.CheckSettings:
    if current_user.role == Role.PROVIDER:
        provider: User | None = current_user._get_current_object()
    else:
        provider = db.session.get(User, form.provider_id.data) if form.provider_id.data else None
    value = form.threshold_value.data
    percent = count = None
    if form.threshold_kind.data == COUNT:
        if value is None or value != value.to_integral_value():
            raise ServiceError(N_("Enter a whole number of addresses."), field="threshold_value")
        count = int(value)
    else:
        percent = value
    return services.CheckSettings(
        title=form.title.data or "", provider=provider, deadline=end_of_day_utc(form.deadline.data),
        threshold_percent=percent, threshold_count=count,
        counted_uses=list(form.counted_uses.data or []),
        grouping=Grouping(form.grouping.data or Grouping.PER_AREA.value),
        area_ids=list(form.area_ids.data or []), geometry=drawn_polygon(form.polygon.data),
    )


def _form_error(form: Any, err: ServiceError) -> None:
    if not apply_service_error(form, err, translate_error(err)):
        flash(translate_error(err), "error")


@bp.route("/checks")
@fibre_roles
@writes
def checks() -> str:
    services.refresh()
    checks = services.checks_for(current_user)
    states = services.progress_for(checks, trend_days=1)
    rows = [(c, states[c.id]) for c in checks]
    return render_template("fibre/checks.html", rows=rows, area_label=area_label)


def _edit(check: FibreCheck | None) -> Response | tuple[str, int]:
    form = _check_form(check)
    if form.validate_on_submit():
        try:
            settings = _settings(form)
            if check is None:
                check = services.create_check(settings, actor=current_user)
            else:
                services.update_check(check, settings, actor=current_user)
            services.refresh()
        except ServiceError as err:
            _form_error(form, err)
            return render_template("fibre/edit.html", form=form, check=check), err.status
        flash(_("The demand check is saved."), "success")
        return redirect(url_for("fibre.check", check_id=check.id))
    return render_template("fibre/edit.html", form=form, check=check), (
        422 if form.errors else 200)


@bp.route("/checks/new", methods=["GET", "POST"])
@fibre_roles
def new() -> Response | tuple[str, int]:
    return _edit(None)


@bp.route("/checks/<int:check_id>/edit", methods=["GET", "POST"])
@fibre_roles
def edit(check_id: int) -> Response | tuple[str, int]:
    return _edit(_check(check_id))


def _what_if(check: FibreCheck) -> tuple[WhatIfForm, dict[str, Any], bool]:
    """The what-if options from the query string; the check itself never changes."""
    form = WhatIfForm(request.args)
    form.group.choices = choices((r.id, r.name or _("Drawn area")) for r in check.regions)
    if not request.args.get("what_if"):
        form.threshold_kind.data = PERCENT if check.threshold_percent is not None else COUNT
        form.threshold_value.data = (check.threshold_percent.normalize()
                                     if check.threshold_percent is not None
                                     else Decimal(check.threshold_count or 0))
        form.grouping.data = check.grouping.value
        return form, {}, False
    if not form.validate():
        return form, {}, False
    options: dict[str, Any] = {}
    value = form.threshold_value.data
    if value is not None:
        if form.threshold_kind.data == COUNT:
            options["threshold_count"] = int(value)
        else:
            options["threshold_percent"] = value.quantize(Decimal("0.01"))
    if form.grouping.data:
        options["grouping"] = Grouping(form.grouping.data)
    if form.group.data and len(form.group.data) > 1:
        options["groups"] = [list(form.group.data)]
    return form, options, True


@bp.route("/checks/<int:check_id>")
@fibre_roles
@writes
def check(check_id: int) -> tuple[str, int]:
    return _check_page(_check(check_id))


def _check_page(check: FibreCheck, *, exclusion_form: ExclusionForm | None = None,
                status: int = 200) -> tuple[str, int]:
    services.refresh()
    state = services.progress(check)
    form, options, active = _what_if(check)
    what_if = services.progress(check, trend_days=1, **options) if active else None
    if form.errors and status == 200:
        status = 422
    charts = {row.key: trend_chart(row.trend, row.needed) for row in [*state.areas, *state.groups]}
    return render_template(
        "fibre/check.html", check=check, state=state, charts=charts, what_if=what_if,
        what_if_form=form, exclusion_form=exclusion_form or ExclusionForm(formdata=None),
        action_form=ActionForm(), area_label=area_label, locale=_locale(),
        today=services.today(), geojson_url=url_for("fibre.progress_geojson", check_id=check.id),
    ), status


@bp.route("/checks/<int:check_id>/progress.geojson", endpoint="progress_geojson")
@fibre_roles
@writes
def progress_geojson_view(check_id: int) -> Response:
    return progress_download(_check(check_id), "geojson")


@bp.route("/checks/<int:check_id>/progress.csv", endpoint="progress_csv")
@fibre_roles
@writes
def progress_csv_view(check_id: int) -> Response:
    return progress_download(_check(check_id), "csv")


@bp.route("/checks/<int:check_id>/addresses")
@fibre_roles
@recent_login_required
@writes
def addresses(check_id: int) -> str:
    check = _check(check_id)
    rows = services.consented_addresses(check, actor=current_user, via="web")
    return render_template("fibre/addresses.html", check=check, rows=rows)


@bp.route("/checks/<int:check_id>/addresses.csv", endpoint="addresses_csv")
@fibre_roles
@recent_login_required
@writes
def addresses_csv_view(check_id: int) -> Response:
    check = _check(check_id)
    rows = services.consented_addresses(check, actor=current_user, via="csv")
    return addresses_csv(check, rows)


@bp.route("/checks/<int:check_id>/exclusions", methods=["POST"])
@fibre_roles
def add_exclusion(check_id: int) -> Response | tuple[str, int]:
    check = _check(check_id)
    form = ExclusionForm()
    if not form.validate_on_submit():
        return _check_page(check, exclusion_form=form, status=422)
    try:
        services.add_exclusion(check, postcode=form.postcode.data or "",
                               house_number=form.house_number.data or "",
                               reason=form.reason.data, note=form.note.data or "",
                               actor=current_user)
    except ServiceError as err:
        if not apply_service_error(form, err, translate_error(err)):
            flash(translate_error(err), "error")
        return _check_page(check, exclusion_form=form, status=err.status)
    flash(_("The address no longer counts for this check."), "success")
    return redirect(url_for("fibre.check", check_id=check.id, _anchor="exclusions"))


@bp.route("/checks/<int:check_id>/exclusions/<int:exclusion_id>/delete", methods=["POST"])
@fibre_roles
def remove_exclusion(check_id: int, exclusion_id: int) -> Response:
    check = _check(check_id)
    exclusion = db.first_or_404(sa.select(FibreExclusion).where(
        FibreExclusion.id == exclusion_id, FibreExclusion.check_id == check.id))
    if not ActionForm().validate_on_submit():
        abort(400)
    services.remove_exclusion(exclusion, actor=current_user)
    flash(_("The address counts again."), "info")
    return redirect(url_for("fibre.check", check_id=check.id, _anchor="exclusions"))


# --- members: consent and who saw their data ----------------------------------------------------


def _own_demand(demand_id: int) -> Demand:
    return db.first_or_404(sa.select(Demand).join(Demand.site).where(
        Demand.id == demand_id, Site.organisation_id == current_user.organisation_id))


@bp.route("/consents")
@member_required
def consents() -> str:
    org = current_user.organisation
    demands = list(db.session.scalars(
        sa.select(Demand).join(Demand.site).join(Demand.product)
        .where(Site.organisation_id == org.id, Demand.stage != Stage.WITHDRAWN)
        .options(contains_eager(Demand.site))
        .order_by(Product.sort_order, Site.id)))
    provider_list = services.providers()
    consents = demand_services.consents_for(demands)
    rows = []
    for demand in demands:
        given = consents.get(demand.id, [])
        form = ConsentForm(prefix=f"d{demand.id}")
        form.provider_id.choices = choices(
            (p.id, services.provider_label(p)) for p in provider_list
            if p.id not in {c.provider_id for c in given})
        rows.append((demand, given, form))
    return render_template("fibre/consents.html", rows=rows, action_form=ActionForm(),
                           log=services.data_access_log(org), locale=_locale(),
                           label=services.provider_label)


@bp.route("/consents/<int:demand_id>/grant", methods=["POST"])
@member_required
@recent_login_required
def grant_consent(demand_id: int) -> Response:
    demand = _own_demand(demand_id)
    form = ConsentForm(prefix=f"d{demand.id}")
    form.provider_id.choices = choices((p.id, p.email) for p in services.providers())
    if not form.validate_on_submit():
        abort(400)
    provider = db.session.get(User, form.provider_id.data)
    assert provider is not None
    demand_services.grant_consent(demand, provider, actor=current_user)
    flash(_("%(provider)s may now see your company name and address for this demand.",
            provider=services.provider_label(provider)), "success")
    return redirect(url_for("fibre.consents"))


@bp.route("/consents/<int:demand_id>/<int:provider_id>/withdraw", methods=["POST"])
@member_required
@recent_login_required
def withdraw_consent(demand_id: int, provider_id: int) -> Response:
    demand = _own_demand(demand_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    provider = db.get_or_404(User, provider_id)
    if not demand_services.withdraw_consent(demand, provider, actor=current_user):
        abort(404)
    flash(_("Consent withdrawn: %(provider)s no longer sees your company name and address "
            "for this demand.", provider=services.provider_label(provider)), "info")
    return redirect(url_for("fibre.consents"))
