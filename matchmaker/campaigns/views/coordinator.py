"""Group buy pages for coordinators: create, edit, invite, the steps, compare bids, exports."""

from __future__ import annotations

from typing import Any

import shapely
import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    render_template,
    request,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from geo.crs import geometry_to_wgs84
from matchmaker.auth.decorators import staff_required
from matchmaker.auth.models import User
from matchmaker.campaigns import services
from matchmaker.campaigns.forms import (
    ActionForm,
    CampaignForm,
    CancelForm,
    CloseEarlyForm,
    ExtendForm,
    SupplierForm,
    fill_tiers,
    tiers_from,
    to_local,
    to_utc,
)
from matchmaker.campaigns.models import (
    Bid,
    Campaign,
    CampaignState,
    InviteBy,
)
from matchmaker.campaigns.views.common import (
    _back,
    _campaign,
    _flash_error,
    _form_error,
    _locale,
    _manage_page,
    bp,
)
from matchmaker.demand.services import products
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.models import utcnow
from matchmaker.web.exports import csv_response, stamp
from matchmaker.web.forms import area_choices, choices
from matchmaker.web.geometry import drawn_polygon


def _campaign_form(campaign: Campaign | None = None) -> CampaignForm:
    locale = _locale()
    form = CampaignForm(obj=campaign if request.method == "GET" else None)
    form.product.choices = choices((p.code, p.name(locale)) for p in products())
    form.area_ids.choices = area_choices(services.areas_for_choice())
    if request.method == "GET" and campaign is not None:
        form.product.data = campaign.product.code
        form.area_ids.data = [a.id for a in campaign.areas]
        form.registration_deadline.data = to_local(campaign.registration_deadline)
        form.invite_by.data = campaign.invite_by.value
        form.threshold_quantity.data = (campaign.threshold_quantity.normalize()
                                        if campaign.threshold_quantity is not None else None)
        form.capacity_quantity.data = (campaign.capacity_quantity.normalize()
                                       if campaign.capacity_quantity is not None else None)
        if campaign.geometry is not None:
            form.polygon.data = shapely.to_geojson(geometry_to_wgs84(campaign.geometry))
        fill_tiers(form.tiers, services.tiers_of(campaign.tiers))
    return form


def _settings(form: CampaignForm) -> services.CampaignSettings:
    product = next((p for p in products() if p.code == form.product.data), None)
    if product is None:
        raise ServiceError(N_("Choose a product."), field="product")
    tiers, problem = tiers_from(form.tiers)
    if problem:
        form.tiers.errors = [problem]
        raise ServiceError(N_("Fill in both the volume and the unit price of each tier."),
                           field="tiers")
    return services.CampaignSettings(
        title=form.title.data or "", product=product, description=form.description.data or "",
        registration_deadline=to_utc(form.registration_deadline.data),
        decision_days=form.decision_days.data, threshold_quantity=form.threshold_quantity.data,
        threshold_sites=form.threshold_sites.data, capacity_quantity=form.capacity_quantity.data,
        allow_late_joiners=form.allow_late_joiners.data,
        invite_by=InviteBy(form.invite_by.data), area_ids=list(form.area_ids.data or []),
        geometry=drawn_polygon(form.polygon.data), tiers=tiers,
    )


@bp.route("/coordinator/campaigns")
@staff_required
def manage_list() -> str:
    campaigns = services.campaigns_for_staff()
    progress = services.progress_of(campaigns)
    rows = [(c, progress[c.id]) for c in campaigns]
    return render_template("campaigns/manage_list.html", rows=rows, locale=_locale())


@bp.route("/coordinator/campaigns/new", methods=["GET", "POST"])
@staff_required
def new() -> BaseResponse | tuple[str, int]:
    form = _campaign_form()
    if form.validate_on_submit():
        try:
            campaign = services.create_campaign(_settings(form), actor=current_user)
        except ServiceError as err:
            _form_error(form, err)
            return render_template("campaigns/edit.html", form=form, campaign=None), err.status
        flash(_("The group buy is saved as a draft. Check it, invite suppliers and open it."),
              "success")
        return _back("campaigns.manage", campaign)
    return render_template("campaigns/edit.html", form=form, campaign=None), (
        422 if form.errors else 200)


@bp.route("/coordinator/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(campaign_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _campaign(campaign_id)
    if campaign.state == CampaignState.OPEN:
        return _extend(campaign)
    if campaign.state != CampaignState.DRAFT:
        flash(_("Only a draft can be changed."), "error")
        return _back("campaigns.manage", campaign)
    form = _campaign_form(campaign)
    if form.validate_on_submit():
        try:
            services.update_campaign(campaign, _settings(form), actor=current_user)
        except ServiceError as err:
            _form_error(form, err)
            return render_template("campaigns/edit.html", form=form,
                                   campaign=campaign), err.status
        flash(_("The group buy is saved."), "success")
        return _back("campaigns.manage", campaign)
    return render_template("campaigns/edit.html", form=form, campaign=campaign), (
        422 if form.errors else 200)


def _extend(campaign: Campaign) -> BaseResponse | tuple[str, int]:
    form = ExtendForm(obj=campaign if request.method == "GET" else None)
    if request.method == "GET":
        form.registration_deadline.data = to_local(campaign.registration_deadline)
    if form.validate_on_submit():
        try:
            services.update_open_campaign(
                campaign, actor=current_user,
                registration_deadline=to_utc(form.registration_deadline.data),
                allow_late_joiners=form.allow_late_joiners.data,
                description=form.description.data or "",
            )
        except ServiceError as err:
            _form_error(form, err)
            return render_template("campaigns/extend.html", form=form,
                                   campaign=campaign), err.status
        flash(_("The group buy is saved."), "success")
        return _back("campaigns.manage", campaign)
    return render_template("campaigns/extend.html", form=form, campaign=campaign), (
        422 if form.errors else 200)


@bp.route("/coordinator/campaigns/<int:campaign_id>")
@staff_required
def manage(campaign_id: int) -> tuple[str, int]:
    return _manage_page(_campaign(campaign_id))


TRANSITION_DONE = {
    "open": N_("The group buy is open; invited by e-mail: %(count)s."),
    "bidding": N_("Registration is closed and the suppliers are invited to bid."),
    "decide": N_("Decision made."),
}


@bp.route("/coordinator/campaigns/<int:campaign_id>/<any(open,bidding,decide):action>",
          methods=["POST"])
@staff_required
def transition(campaign_id: int, action: str) -> BaseResponse | tuple[str, int]:
    campaign = _campaign(campaign_id)
    form = CloseEarlyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if action == "open":
            count = services.open_campaign(campaign, actor=current_user)
            flash(_(TRANSITION_DONE["open"], count=ngettext(
                "%(num)s organisation", "%(num)s organisations", count)), "success")
        elif action == "bidding":
            services.start_bidding(campaign, actor=current_user,
                                   close_early=bool(form.close_early.data))
            flash(_(TRANSITION_DONE["bidding"]), "success")
        else:
            go = services.decide(campaign, actor=current_user)
            flash(_("Go: the group buy is contracted and the supplier can download the "
                    "hand-off.") if go else
                  _("No go: too few acceptances. The group buy is cancelled and everyone is "
                    "told."), "success" if go else "info")
    except ServiceError as err:
        _flash_error(err)
        return _manage_page(campaign, status=err.status)
    return _back("campaigns.manage", campaign)


@bp.route("/coordinator/campaigns/<int:campaign_id>/cancel", methods=["POST"])
@staff_required
def cancel(campaign_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _campaign(campaign_id)
    form = CancelForm()
    try:
        if not form.validate_on_submit():
            raise ServiceError(N_("Give the reason; it is sent to everyone taking part."),
                               field="reason")
        services.cancel_campaign(campaign, actor=current_user, reason=form.reason.data or "")
    except ServiceError as err:
        _form_error(form, err)
        return _manage_page(campaign, status=422 if err.status == 400 else err.status,
                            cancel_form=form)
    flash(_("The group buy is cancelled; everyone taking part is told why."), "info")
    return _back("campaigns.manage", campaign)


@bp.route("/coordinator/campaigns/<int:campaign_id>/suppliers", methods=["POST"])
@staff_required
def invite_supplier(campaign_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _campaign(campaign_id)
    form = SupplierForm()
    form.supplier_id.choices = choices((u.id, u.email) for u in services.providers())
    if not form.validate_on_submit():
        flash(_("Choose a supplier."), "error")
        return _manage_page(campaign, status=422)
    supplier = db.get_or_404(User, form.supplier_id.data)
    try:
        services.invite_supplier(campaign, supplier, actor=current_user)
    except ServiceError as err:
        _flash_error(err)
        return _manage_page(campaign, status=err.status)
    flash(_("%(email)s is invited to bid.", email=supplier.email), "success")
    return _back("campaigns.manage", campaign)


@bp.route("/coordinator/campaigns/<int:campaign_id>/bids")
@staff_required
def compare(campaign_id: int) -> str:
    campaign = _campaign(campaign_id)
    return render_template("campaigns/compare.html", campaign=campaign,
                           comparison=services.compare_bids(campaign),
                           progress=services.progress(campaign),
                           action_form=ActionForm(formdata=None), locale=_locale())


@bp.route("/coordinator/campaigns/<int:campaign_id>/bids/<int:bid_id>/award", methods=["POST"])
@staff_required
def award(campaign_id: int, bid_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _campaign(campaign_id)
    bid = db.first_or_404(sa.select(Bid).where(Bid.id == bid_id, Bid.campaign_id == campaign.id))
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        count = services.award_bid(campaign, bid, actor=current_user)
    except ServiceError as err:
        _flash_error(err)
        return render_template("campaigns/compare.html", campaign=campaign,
                               comparison=services.compare_bids(campaign),
                               progress=services.progress(campaign),
                               action_form=ActionForm(formdata=None),
                               locale=_locale()), err.status
    flash(ngettext("Awarded to %(supplier)s; %(num)s personal offer is sent.",
                   "Awarded to %(supplier)s; %(num)s personal offers are sent.", count,
                   supplier=bid.supplier.name or bid.supplier.email), "success")
    return _back("campaigns.manage", campaign)


@bp.route("/coordinator/campaigns/<int:campaign_id>/bundles.csv")
@staff_required
def export_csv(campaign_id: int) -> Response:
    """Bundled volume per area and per distance bundle, for negotiation."""
    campaign = _campaign(campaign_id)
    areas, total = services.area_aggregates(campaign)
    bundles = services.bundle_rows(campaign,
                                   max_gap_m=current_app.config["CAMPAIGN_BUNDLE_GAP_M"])
    header = [_("Level"), _("Name"), _("Sites"), _("Organisations"), _("Quantity"),
              _("Minimum"), _("Maximum"), _("Unit"), _("Span (m)"), _("Longitude"),
              _("Latitude"), _("Suppliers may see it")]
    rows: list[list[Any]] = []
    for a in [*areas, total]:
        rows.append([_("total") if a is total else _("area"),
                     "" if a is total else (a.name or _("Drawn area")), a.sites,
                     a.organisations, a.volume, a.volume_min, a.volume_max,
                     campaign.product.unit, None, None, None, not a.cell.suppressed])
    for b in bundles:
        rows.append([_("bundle"), b.number, b.sites, b.organisations, b.volume, None, None,
                     campaign.product.unit, b.span_m, b.lon, b.lat, b.disclosable])
    return csv_response(header, rows, f"inkoopactie-{campaign.id}-bundels-{stamp()}.csv")


@bp.route("/coordinator/campaigns/<int:campaign_id>/summary")
@staff_required
def summary(campaign_id: int) -> str:
    campaign = _campaign(campaign_id)
    areas, total = services.area_aggregates(campaign)
    return render_template(
        "campaigns/summary.html", campaign=campaign, areas=areas, total=total,
        bundles=services.bundle_rows(campaign,
                                     max_gap_m=current_app.config["CAMPAIGN_BUNDLE_GAP_M"]),
        gap=current_app.config["CAMPAIGN_BUNDLE_GAP_M"], progress=services.progress(campaign),
        locale=_locale(), now_utc=utcnow(),
    )
