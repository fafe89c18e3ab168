from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask import Response as FlaskResponse
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from geo.addresses import AddressError, parse_house_number
from geo.crs import rd_to_wgs84
from matchmaker.audit.services import record
from matchmaker.auth.decorators import member_required
from matchmaker.auth.forms import legal_form_choices
from matchmaker.database import writes
from matchmaker.demand import services as demand_services
from matchmaker.demand.models import Demand, Stage
from matchmaker.errors import Conflict, ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error
from matchmaker.members import gdpr, services
from matchmaker.members.forms import (
    DemandForm,
    EraseForm,
    NewSiteForm,
    OrganisationForm,
    SiteAttributesForm,
)
from matchmaker.members.models import Site
from matchmaker.security import recent_login_required
from matchmaker.web.forms import apply_service_error, choices
from matchmaker.web.lookup import own_site

bp = Blueprint("members", __name__)

ATTRIBUTE_FIELDS = services.SITE_ATTRIBUTES


def _error(form: Any, err: ServiceError) -> None:
    """Show a refused change next to its field. The request ends in a 4xx, so nothing of it is
    kept: roll back now, so that the page shows what is stored (a failed flush, such as a
    stale version, would otherwise leave the session unusable for rendering)."""
    db.session.rollback()
    if not apply_service_error(form, err, translate_error(err)):
        flash(translate_error(err), "error")


def _point(site: Site) -> dict[str, float]:
    lon, lat = rd_to_wgs84([site.x], [site.y])
    return {"lat": round(float(lat[0]), 6), "lon": round(float(lon[0]), 6)}


@bp.route("/dashboard")
@member_required
def dashboard() -> str:
    org = current_user.organisation
    config = current_app.config
    sites = [
        {
            "site": site,
            "point": _point(site),
            "flags": demand_services.site_flags(site, config),
            "suggestions": demand_services.suggestions(site, config),
            "demands": {d.product.code: d for d in site.demands},
        }
        for site in db.session.scalars(
            sa.select(Site).where(Site.organisation_id == org.id)
            .options(selectinload(Site.demands)).order_by(Site.id))
    ]
    from matchmaker.campaigns.services import can_register, member_campaigns
    from matchmaker.fibre.services import member_progress

    # Group buys a new member can join right away: open for registration on their sites.
    open_buys = [view for view in member_campaigns(org)
                 if not view.joined and can_register(view.campaign)]
    return render_template("members/dashboard.html", org=org, sites=sites,
                           products=demand_services.products(), locale=str(get_locale()),
                           fibre_checks=member_progress(org), open_buys=open_buys)


@bp.route("/organisation", methods=["GET", "POST"])
@member_required
def organisation() -> str | Response | tuple[str, int]:
    org = current_user.organisation
    form = OrganisationForm(obj=org)
    form.legal_form.choices = legal_form_choices()
    form.kring_id.choices = choices([(0, _("— no kring —"))] + [
        (k.id, k.name) for k in services.kringen()
    ])
    if request.method == "GET":
        form.kring_id.data = org.kring_id or 0
        form.legal_form.data = org.legal_form.value
    if form.validate_on_submit():
        try:
            services.update_organisation(
                org, actor=current_user, name=form.name.data, kvk_number=form.kvk_number.data,
                legal_form=form.legal_form.data, kring_id=form.kring_id.data or None,
                contact_name=form.contact_name.data, contact_email=form.contact_email.data,
                contact_phone=form.contact_phone.data,
            )
        except ServiceError as err:
            _error(form, err)
            return render_template("members/organisation.html", form=form), err.status
        flash(_("The company details are saved."), "success")
        return redirect(url_for("members.dashboard"))
    return render_template("members/organisation.html", form=form), 422 if form.errors else 200


def _attributes(form: SiteAttributesForm) -> dict[str, Any]:
    return {name: getattr(form, name).data for name in ATTRIBUTE_FIELDS}


@bp.route("/sites/new", methods=["GET", "POST"])
@member_required
def new_site() -> str | Response | tuple[str, int]:
    form = NewSiteForm()
    needs_map = False
    if form.validate_on_submit():
        try:
            number, addition = parse_house_number(form.house_number.data)
        except AddressError as err:
            form.house_number.errors.append(translate_error(err))
        else:
            try:
                lat = float(form.lat.data) if form.lat.data else None
                lon = float(form.lon.data) if form.lon.data else None
            except ValueError:
                lat = lon = None
            try:
                site = services.add_site(
                    current_user.organisation, actor=current_user, postcode=form.postcode.data,
                    house_number=number, addition=form.addition.data or addition,
                    lon=lon, lat=lat, street=form.street.data or "", city=form.city.data or "",
                    **_attributes(form),
                )
            except ServiceError as err:
                needs_map = err.field == "location"
                if not needs_map:  # the map notice shows the location error itself
                    _error(form, err)
                return render_template("members/site_new.html", form=form, needs_map=needs_map,
                                       error=translate_error(err)), err.status
            flash(_("The site %(address)s is added.", address=site.address), "success")
            return redirect(url_for("members.dashboard"))
    return render_template("members/site_new.html", form=form, needs_map=needs_map, error=None), (
        422 if form.errors else 200
    )


@bp.route("/sites/<int:site_id>/edit", methods=["GET", "POST"])
@member_required
def edit_site(site_id: int) -> str | Response | tuple[str, int]:
    site = own_site(site_id)
    form = SiteAttributesForm(obj=site)
    if request.method == "GET":
        form.energy_label.data = site.energy_label or ""
        form.tenure.data = site.tenure.value
    if form.validate_on_submit():
        try:
            services.update_site(site, actor=current_user, **_attributes(form))
        except ServiceError as err:
            _error(form, err)
            return render_template("members/site_edit.html", form=form, site=site), err.status
        flash(_("The site is saved."), "success")
        return redirect(url_for("members.dashboard"))
    return render_template("members/site_edit.html", form=form, site=site), (
        422 if form.errors else 200
    )


@bp.route("/sites/<int:site_id>/delete", methods=["POST"])
@member_required
def delete_site(site_id: int) -> Response:
    site = own_site(site_id)
    address = site.address
    try:
        services.delete_site(site, actor=current_user)
    except Conflict as err:
        # Back on the dashboard with what to do in that group buy's state.
        flash(translate_error(err), "error")
        return redirect(url_for("members.dashboard"))
    flash(_("The site %(address)s is removed.", address=address), "info")
    return redirect(url_for("members.dashboard"))


@bp.route("/sites/<int:site_id>/demand/<product_code>", methods=["GET", "POST"])
@member_required
def demand(site_id: int, product_code: str) -> str | Response | tuple[str, int]:
    site = own_site(site_id)
    product = demand_services.product_by_code(product_code)
    if product is None or not product.active:
        abort(404)
    existing = next((d for d in site.demands if d.product_id == product.id), None)
    suggestion = demand_services.suggestions(site, current_app.config).get(product.code)
    form = DemandForm(obj=existing)
    current = None
    if request.method == "GET":
        if existing is None:
            form.quantity.data = suggestion.quantity if suggestion else (
                1 if product.integer_only else None)
        else:
            form.stage.data = (Stage.INTEREST.value if existing.stage == Stage.WITHDRAWN
                               else existing.stage.value)
            form.version.data = existing.version
    if form.validate_on_submit():
        try:
            demand_services.register_demand(
                site, product, actor=current_user, quantity=form.quantity.data,
                quantity_min=form.quantity_min.data, quantity_max=form.quantity_max.data,
                stage=form.stage.data, consent_providers=form.consent_providers.data,
                note=form.note.data or "",
                expected_version=form.version.data,
            )
        except ServiceError as err:
            _error(form, err)
            status = err.status
            if isinstance(err, Conflict) and existing is not None:
                # Show what is stored now; saving again deliberately overwrites it.
                form.version.data = existing.version
                form.version.raw_data = []  # render the stored version, not the one posted
                current = existing
        else:
            flash(_("Your demand for %(product)s is saved.",
                    product=product.name(str(get_locale()))), "success")
            return redirect(url_for("members.dashboard"))
    else:
        status = 422 if form.errors else 200
    return render_template("members/demand.html", form=form, site=site, product=product,
                           existing=existing, suggestion=suggestion, current=current,
                           locale=str(get_locale())), status


@bp.route("/sites/<int:site_id>/demand/<product_code>/withdraw", methods=["POST"])
@member_required
def withdraw(site_id: int, product_code: str) -> Response:
    site = own_site(site_id)
    item: Demand | None = next((d for d in site.demands if d.product.code == product_code), None)
    if item is None:
        abort(404)
    demand_services.withdraw_demand(item, actor=current_user)
    flash(_("Your demand is withdrawn."), "info")
    return redirect(url_for("members.dashboard"))


# --- the organisation's data (AVG/GDPR) -------------------------------------------------------

@bp.route("/organisation/data")
@member_required
def data() -> str:
    return render_template("members/data.html", org=current_user.organisation,
                           form=EraseForm())


@bp.route("/organisation/data.zip")
@member_required
@recent_login_required
@writes
def data_export() -> FlaskResponse:
    org = current_user.organisation
    record(current_user, "organisation.export", org)
    return FlaskResponse(gdpr.export_archive(org), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="gegevens-{org.kvk_number}.zip"'})


@bp.route("/organisation/erase", methods=["POST"])
@member_required
@recent_login_required
def erase() -> str | Response | tuple[str, int]:
    org = current_user.organisation
    form = EraseForm()
    if not form.validate_on_submit() or form.confirm_name.data.strip() != org.name:
        form.confirm_name.errors = [_("Type the company name exactly as shown to confirm.")]
        return render_template("members/data.html", org=org, form=form), 422
    gdpr.erase_organisation(org, actor=current_user)
    logout_user()
    session.clear()
    flash(_("Your organisation's personal data is erased and your accounts are closed."),
          "info")
    return redirect(url_for("main.index"))
