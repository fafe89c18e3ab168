"""Group buy pages for members, coordinators and suppliers. Thin: parse, load or 404, check,
call one service, render or redirect. Refused actions show their message with a 4xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import shapely
import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from geo.crs import geojson_wgs84, geometry_to_wgs84, rd_to_wgs84
from matchmaker.auth.decorators import member_required, role_required, staff_required
from matchmaker.auth.models import Role, User
from matchmaker.campaigns import services
from matchmaker.campaigns.forms import (
    ActionForm,
    BidForm,
    CampaignForm,
    CancelForm,
    CloseEarlyForm,
    ConsentRequestForm,
    ExtendForm,
    JoinForm,
    SupplierForm,
    end_of_day_utc,
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
    Offer,
    OfferStatus,
    Participation,
)
from matchmaker.database import writes
from matchmaker.demand.services import products, suggestions
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error
from matchmaker.members.models import Site
from matchmaker.models import utcnow
from matchmaker.security import recent_login_required
from matchmaker.web.exports import csv_response, nl_number, stamp
from matchmaker.web.formatting import number
from matchmaker.web.forms import apply_service_error, area_choices, choices
from matchmaker.web.geometry import drawn_polygon
from matchmaker.web.lookup import own_site

bp = Blueprint("campaigns", __name__)

provider_required = role_required(Role.PROVIDER)
handoff_roles = role_required(Role.PROVIDER, Role.COORDINATOR, Role.ADMIN)
viewer_roles = role_required(Role.MEMBER, Role.PROVIDER, Role.COORDINATOR, Role.ADMIN)


# --- template filters --------------------------------------------------------------------------


@bp.app_template_filter("reason")
def reason_filter(value: str) -> str:
    """The cancellation reason: the automatic no-go reason translated, a coordinator's text as
    written."""
    return _(value) if value in services.SERVICE_REASONS else value


ACTION_LABELS = {
    "campaign.create": N_("created as a draft"),
    "campaign.update": N_("draft changed"),
    "campaign.extend": N_("registration extended"),
    "campaign.invite_supplier": N_("supplier invited"),
    "campaign.open": N_("opened; invitations sent"),
    "campaign.threshold_reached": N_("threshold reached"),
    "campaign.bidding": N_("registration closed; bidding started"),
    "campaign.award": N_("bid awarded; offers sent"),
    "campaign.contracted": N_("go: contracted"),
    "campaign.cancel": N_("cancelled"),
    "campaign.handoff": N_("hand-off downloaded"),
}


@bp.app_template_filter("action_label")
def action_label_filter(action: str) -> str:
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


@bp.record_once
def _template_globals(state: Any) -> None:
    """Enums for the templates and macros (mail templates included)."""
    state.app.jinja_env.globals.update(CampaignState=CampaignState, OfferStatus=OfferStatus,
                                       InviteBy=InviteBy)


# --- helpers -----------------------------------------------------------------------------------


def _campaign(campaign_id: int) -> Campaign:
    return db.get_or_404(Campaign, campaign_id)


def _flash_error(err: ServiceError) -> None:
    flash(translate_error(err), "error")


def _back(endpoint: str, campaign: Campaign, status: int = 302) -> BaseResponse:
    return redirect(url_for(endpoint, campaign_id=campaign.id), code=status)


def _locale() -> str:
    return str(get_locale())


def _perform(action: Callable[[], object], *, refused: Callable[[int], tuple[str, int]],
             done: str, category: str, then: BaseResponse) -> BaseResponse | tuple[str, int]:
    """The body of a one-button POST: check the CSRF token, call the service, and show its
    refusal on ``refused(status)`` or flash ``done`` and go to ``then``."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action()
    except ServiceError as err:
        _flash_error(err)
        return refused(err.status)
    flash(done, category)
    return then


# --- members -----------------------------------------------------------------------------------


@bp.route("/campaigns")
@member_required
def member_list() -> str:
    organisation = current_user.organisation
    return render_template(
        "campaigns/member_list.html",
        items=[(item, services.progress(item.campaign))
               for item in services.member_campaigns(organisation)],
        consent=services.consent_requests(organisation), locale=_locale(),
    )


def _member_view(campaign: Campaign) -> services.MemberCampaign:
    view = services.member_campaign(campaign, current_user.organisation)
    if view is None:
        abort(404)
    return view


def _join_form(campaign: Campaign, site: Site, participation: Participation | None) -> JoinForm:
    form = JoinForm(prefix=f"s{site.id}", formdata=None)
    if participation is not None and participation.active:
        form.quantity.data = participation.quantity.normalize()
        form.quantity_min.data = participation.quantity_min
        form.quantity_max.data = participation.quantity_max
        return form
    demand = services.demand_for(site, campaign.product)
    if demand is not None:
        form.quantity.data = demand.quantity.normalize()
        form.quantity_min.data = demand.quantity_min
        form.quantity_max.data = demand.quantity_max
    else:
        suggestion = suggestions(site, current_app.config).get(campaign.product.code)
        form.quantity.data = suggestion.quantity if suggestion else None
    return form


def _member_page(campaign: Campaign, *, failed: tuple[int, JoinForm] | None = None,
                 status: int = 200) -> tuple[str, int]:
    view = _member_view(campaign)
    forms = {site.id: _join_form(campaign, site, view.participations.get(site.id))
             for site in view.sites}
    if failed is not None:
        forms[failed[0]] = failed[1]
    return render_template(
        "campaigns/member_detail.html", view=view, campaign=campaign, forms=forms,
        progress=services.progress(campaign), accepted=services.accepted_totals(campaign),
        locale=_locale(),
        registration_open=services.registration_open(campaign),
        can_register=services.can_register(campaign),
        needs_consent={p.id: services.needs_owner_consent(p)
                       for p in view.participations.values()},
        consent_form=ConsentRequestForm(formdata=None), action_form=ActionForm(formdata=None),
        pv_yield=current_app.config["PV_YIELD_KWH_PER_KWP"],
        electricity_price=current_app.config["ELECTRICITY_PRICE_EUR_PER_KWH"],
        electricity_source=current_app.config["ELECTRICITY_PRICE_SOURCE"],
    ), status


@bp.route("/campaigns/<int:campaign_id>")
@member_required
def member_detail(campaign_id: int) -> tuple[str, int]:
    return _member_page(_campaign(campaign_id))


@bp.route("/campaigns/<int:campaign_id>/sites/<int:site_id>/join", methods=["POST"])
@member_required
def join(campaign_id: int, site_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _campaign(campaign_id)
    _member_view(campaign)
    site = own_site(site_id)
    form = JoinForm(prefix=f"s{site.id}")
    if not form.validate_on_submit():
        return _member_page(campaign, failed=(site.id, form), status=422)
    try:
        participation = services.join_campaign(
            campaign, site, actor=current_user, quantity=form.quantity.data,
            quantity_min=form.quantity_min.data, quantity_max=form.quantity_max.data,
        )
    except ServiceError as err:
        if not apply_service_error(form, err, translate_error(err)):
            _flash_error(err)
        return _member_page(campaign, failed=(site.id, form), status=err.status)
    flash(_("You take part with %(address)s (late registration).", address=site.address)
          if participation.late else
          _("Saved: %(address)s takes part. This is not binding yet.", address=site.address),
          "success")
    return redirect(url_for("campaigns.member_detail", campaign_id=campaign.id)
                    + f"#site-{site.id}")


@bp.route("/campaigns/<int:campaign_id>/sites/<int:site_id>/withdraw", methods=["POST"])
@member_required
def withdraw(campaign_id: int, site_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _campaign(campaign_id)
    view = _member_view(campaign)
    participation = view.participations.get(own_site(site_id).id)
    if participation is None:
        abort(404)
    return _perform(
        lambda: services.withdraw_participation(participation, actor=current_user),
        refused=lambda status: _member_page(campaign, status=status),
        done=_("Your registration is withdrawn."), category="info",
        then=_back("campaigns.member_detail", campaign),
    )


def _own_offer(offer_id: int) -> Offer:
    return db.first_or_404(
        sa.select(Offer).join(Offer.participation).join(Participation.site)
        .where(Offer.id == offer_id, Site.organisation_id == current_user.organisation_id))


@bp.route("/offers/<int:offer_id>/<any(accept,decline):decision>", methods=["POST"])
@member_required
def decide_offer(offer_id: int, decision: str) -> BaseResponse | tuple[str, int]:
    offer = _own_offer(offer_id)
    campaign = offer.participation.campaign
    accept = decision == "accept"
    return _perform(
        lambda: (services.accept_offer if accept else services.decline_offer)(
            offer, actor=current_user),
        refused=lambda status: _member_page(campaign, status=status),
        done=(_("You accepted the offer. It is binding; we let you know the final price when "
                "the decision window ends.") if accept else _("You declined the offer.")),
        category="success" if accept else "info",
        then=_back("campaigns.member_detail", campaign),
    )


def _own_participation(participation_id: int) -> Participation:
    return db.first_or_404(sa.select(Participation).join(Participation.site).where(
        Participation.id == participation_id,
        Site.organisation_id == current_user.organisation_id))


@bp.route("/participations/<int:participation_id>/consent-request", methods=["POST"])
@member_required
def request_consent(participation_id: int) -> BaseResponse | tuple[str, int]:
    participation = _own_participation(participation_id)
    campaign = participation.campaign
    form = ConsentRequestForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        via = services.request_owner_consent(
            participation, actor=current_user, owner_kvk=form.kvk_number.data or "",
            owner_email=form.owner_email.data or "",
        )
    except ServiceError as err:
        _flash_error(err)
        return _member_page(campaign, status=err.status)
    flash(_("The owner can now confirm in the service.") if via == "member" else
          _("We sent the owner a link to confirm."), "success")
    return _back("campaigns.member_detail", campaign)


@bp.route("/consent")
@member_required
def consent_requests() -> str:
    return render_template("campaigns/consent_requests.html",
                           rows=services.consent_requests(current_user.organisation),
                           action_form=ActionForm(formdata=None), locale=_locale())


@bp.route("/participations/<int:participation_id>/owner-consent", methods=["POST"])
@member_required
def give_consent(participation_id: int) -> BaseResponse | tuple[str, int]:
    participation = db.first_or_404(sa.select(Participation).join(Participation.site).where(
        Participation.id == participation_id,
        Site.owner_organisation_id == current_user.organisation_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.give_owner_consent(participation, actor=current_user)
    except ServiceError as err:
        _flash_error(err)
        return render_template(
            "campaigns/consent_requests.html",
            rows=services.consent_requests(current_user.organisation),
            action_form=ActionForm(formdata=None), locale=_locale()), err.status
    flash(_("Thank you: your consent for %(address)s is recorded.",
            address=participation.site.address), "success")
    return redirect(url_for("campaigns.consent_requests"))


@bp.route("/consent/<token>", methods=["GET", "POST"])
def owner_consent_link(token: str) -> BaseResponse | tuple[str, int]:
    """The one-time link for an owner who is not a member: GET shows, POST confirms (link
    scanners in mail filters only GET, so they cannot use the link up)."""
    form = ActionForm()
    try:
        row = services.consent_token(token)
    except ServiceError as err:
        return render_template("campaigns/consent_link.html", error=translate_error(err),
                               row=None, form=form, locale=_locale()), err.status
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            services.use_consent_token(token)
        except ServiceError as err:
            return render_template("campaigns/consent_link.html", error=translate_error(err),
                                   row=None, form=form, locale=_locale()), err.status
        return render_template("campaigns/consent_link.html", error=None, row=row, form=form,
                               done=True, locale=_locale()), 200
    return render_template("campaigns/consent_link.html", error=None, row=row, form=form,
                           done=False, locale=_locale()), 200


@bp.route("/campaigns/<int:campaign_id>/map.geojson")
@viewer_roles
def map_geojson(campaign_id: int) -> Response:
    """The campaign's areas with the participants as aggregates (disclosure rule applied);
    a member also gets their own sites."""
    campaign = _campaign(campaign_id)
    if not services.ensure_visible(campaign, current_user):
        abort(404)
    rows, _total = services.area_aggregates(campaign)
    features = []
    for row in rows:
        geometry = row.geometry
        label = row.name or _("Drawn area")
        features.append({
            "type": "Feature",
            "geometry": geojson_wgs84(geometry),
            "properties": {
                "kind": "area", "name": label,
                "text": (_("%(name)s: fewer than 5 members or one dominant member (hidden)",
                           name=label) if row.cell.suppressed else
                         _("%(name)s: %(members)s members, %(volume)s %(unit)s", name=label,
                           members=row.cell.members, volume=number(row.cell.volume),
                           unit=campaign.product.unit)),
                "suppressed": row.cell.suppressed,
            },
        })
    if current_user.role == Role.MEMBER:
        view = services.member_campaign(campaign, current_user.organisation)
        sites = view.sites if view else []
        if sites:
            lon, lat = rd_to_wgs84([s.x for s in sites], [s.y for s in sites])
            for i, site in enumerate(sites):
                features.append({
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(float(lon[i]), 6),
                                                                  round(float(lat[i]), 6)]},
                    "properties": {"kind": "own", "name": site.label or site.address,
                                   "text": _("Your site: %(address)s", address=site.address)},
                })
    return Response(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), mimetype="application/geo+json")


# --- coordinators ------------------------------------------------------------------------------


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


def _form_error(form: Any, err: ServiceError) -> None:
    message = translate_error(err)
    if err.field == "tiers":
        form.tiers.errors = [message]
    elif not apply_service_error(form, err, message):
        flash(message, "error")


@bp.route("/coordinator/campaigns")
@staff_required
def manage_list() -> str:
    rows = [(c, services.progress(c)) for c in services.campaigns_for_staff()]
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


def _manage_page(campaign: Campaign, status: int = 200, **forms: Any) -> tuple[str, int]:
    supplier_form = forms.get("supplier_form") or SupplierForm(formdata=None)
    invited = campaign.supplier_ids
    supplier_form.supplier_id.choices = choices(
        (u.id, u.name and f"{u.name} <{u.email}>" or u.email)
        for u in services.providers() if u.id not in invited
    )
    return render_template(
        "campaigns/manage.html", campaign=campaign, progress=services.progress(campaign),
        accepted=services.accepted_totals(campaign), locale=_locale(),
        registration_open=services.registration_open(campaign),
        supplier_form=supplier_form,
        cancel_form=forms.get("cancel_form") or CancelForm(formdata=None),
        close_form=CloseEarlyForm(formdata=None), action_form=ActionForm(formdata=None),
        trail=services.audit_trail(campaign),
        needs_consent={p.id: services.needs_owner_consent(p) for p in campaign.participations},
    ), status


@bp.route("/coordinator/campaigns/<int:campaign_id>")
@staff_required
def manage(campaign_id: int) -> tuple[str, int]:
    return _manage_page(_campaign(campaign_id))


TRANSITION_DONE = {
    "open": N_("The group buy is open; %(count)s organisation(s) are invited by e-mail."),
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
            flash(_(TRANSITION_DONE["open"], count=count), "success")
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
    flash(_("Awarded to %(supplier)s; %(count)s personal offer(s) are sent.",
            supplier=bid.supplier.name or bid.supplier.email, count=count), "success")
    return _back("campaigns.manage", campaign)


def _dec(value: Decimal | float | None, places: int | None = None) -> str:
    """A number for a Dutch spreadsheet (decimal comma), floats rounded to ``places``."""
    if isinstance(value, float):
        value = Decimal(str(round(value, places if places is not None else 6)))
    return nl_number(value)


@bp.route("/coordinator/campaigns/<int:campaign_id>/bundles.csv")
@staff_required
def export_csv(campaign_id: int) -> Response:
    """Bundled volume per area and per distance bundle, for negotiation."""
    campaign = _campaign(campaign_id)
    areas, total = services.area_aggregates(campaign)
    bundles = services.bundle_rows(campaign,
                                   max_gap_m=current_app.config["CAMPAIGN_BUNDLE_GAP_M"])
    header = ["level", "name", "sites", "organisations", "quantity", "quantity_min",
              "quantity_max", "unit", "span_m", "lon", "lat", "disclosable_to_suppliers"]
    rows = []
    for a in [*areas, total]:
        rows.append(["total" if a is total else "area",
                     "" if a is total else (a.name or _("Drawn area")), str(a.sites),
                     str(a.organisations), _dec(a.volume), _dec(a.volume_min),
                     _dec(a.volume_max), campaign.product.unit, "", "", "",
                     "nee" if a.cell.suppressed else "ja"])
    for b in bundles:
        rows.append(["bundle", str(b.bundle_id), str(b.sites), str(b.organisations),
                     _dec(b.volume), "", "", campaign.product.unit, _dec(b.span_m, 1),
                     _dec(b.lon), _dec(b.lat), "ja" if b.disclosable else "nee"])
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


# --- suppliers ---------------------------------------------------------------------------------


def _supplier_campaign(campaign_id: int) -> Campaign:
    campaign = db.get_or_404(Campaign, campaign_id)
    if not services.visible_to_supplier(campaign, current_user):
        abort(404)
    return campaign


@bp.route("/supplier/campaigns")
@provider_required
def supplier_list() -> str:
    rows = [(c, services.bid_of(c, current_user)) for c in
            services.supplier_campaigns(current_user)]
    return render_template("campaigns/supplier_list.html", rows=rows, locale=_locale())


def _bid_form(bid: Bid | None) -> BidForm:
    form = BidForm(formdata=None)
    if bid is not None:
        fill_tiers(form.tiers, services.tiers_of(bid.tiers))
        form.fixed_cost_per_site.data = bid.fixed_cost_per_site
        form.conditions.data = bid.conditions
        form.valid_until.data = to_local(bid.valid_until).date()
    return form


def _supplier_page(campaign: Campaign, form: BidForm | None = None,
                   status: int = 200) -> tuple[str, int]:
    bid = services.bid_of(campaign, current_user)
    areas, total = services.area_aggregates(campaign)
    return render_template(
        "campaigns/supplier_detail.html", campaign=campaign, bid=bid,
        form=form or _bid_form(bid), areas=areas, total=total,
        action_form=ActionForm(formdata=None), locale=_locale(),
        awarded=campaign.awarded_bid is not None and campaign.awarded_bid.supplier_id ==
        current_user.id,
    ), status


@bp.route("/supplier/campaigns/<int:campaign_id>")
@provider_required
def supplier_detail(campaign_id: int) -> tuple[str, int]:
    return _supplier_page(_supplier_campaign(campaign_id))


@bp.route("/supplier/campaigns/<int:campaign_id>/bid", methods=["POST"])
@provider_required
def submit_bid(campaign_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _supplier_campaign(campaign_id)
    form = BidForm()
    if not form.validate_on_submit():
        return _supplier_page(campaign, form, 422)
    tiers, problem = tiers_from(form.tiers)
    try:
        if problem:
            raise ServiceError(N_("Fill in both the volume and the unit price of each tier."),
                               field="tiers")
        services.submit_bid(
            campaign, actor=current_user, tiers=tiers,
            fixed_cost_per_site=form.fixed_cost_per_site.data or Decimal(0),
            conditions=form.conditions.data or "",
            valid_until=end_of_day_utc(form.valid_until.data),
        )
    except ServiceError as err:
        _form_error(form, err)
        return _supplier_page(campaign, form, err.status)
    flash(_("Your bid is submitted. You can revise it while bidding is open."), "success")
    return _back("campaigns.supplier_detail", campaign)


@bp.route("/supplier/campaigns/<int:campaign_id>/bid/withdraw", methods=["POST"])
@provider_required
def withdraw_bid(campaign_id: int) -> BaseResponse | tuple[str, int]:
    campaign = _supplier_campaign(campaign_id)
    bid = services.bid_of(campaign, current_user)
    if bid is None:
        abort(404)
    return _perform(
        lambda: services.withdraw_bid(bid, actor=current_user),
        refused=lambda status: _supplier_page(campaign, status=status),
        done=_("Your bid is withdrawn."), category="info",
        then=_back("campaigns.supplier_detail", campaign),
    )


def _handoff_campaign(campaign_id: int) -> Campaign:
    campaign = _campaign(campaign_id)
    if current_user.role == Role.PROVIDER:
        bid = campaign.awarded_bid
        if (not services.visible_to_supplier(campaign, current_user) or bid is None
                or bid.supplier_id != current_user.id
                or campaign.state != CampaignState.CONTRACTED):
            abort(404)
    return campaign


@bp.route("/supplier/campaigns/<int:campaign_id>/handoff.csv")
@handoff_roles
@recent_login_required
@writes
def handoff_csv(campaign_id: int) -> Response | tuple[str, int]:
    campaign = _handoff_campaign(campaign_id)
    try:
        offers = services.handoff(campaign, actor=current_user)
    except ServiceError as err:
        _flash_error(err)
        return _manage_page(campaign, status=err.status)
    header = ["offer_id", "participation_id", "organisation", "kvk_number", "contact_name",
              "contact_email", "contact_phone", "site_id", "bag_id", "street", "house_number",
              "addition", "postcode", "city", "x_rd", "y_rd", "quantity", "unit",
              "unit_price_eur", "fixed_cost_eur", "total_eur", "flat_roof_m2", "energy_label",
              "tenure", "owner_consent", "late"]
    rows = []
    for offer in offers:
        participation = offer.participation
        site, org = participation.site, participation.site.organisation
        rows.append([
            str(offer.id), str(participation.id), org.name, org.kvk_number, org.contact_name,
            org.contact_email, org.contact_phone, str(site.id), site.bag_id or "", site.street,
            str(site.house_number), site.addition, site.postcode, site.city,
            _dec(site.x, 2), _dec(site.y, 2), _dec(offer.quantity),
            campaign.product.unit, _dec(offer.final_unit_price), _dec(offer.fixed_cost),
            _dec(offer.final_total), _dec(site.flat_roof_area_m2, 1), site.energy_label or "",
            site.tenure.value,
            participation.owner_consent_at.date().isoformat()
            if participation.owner_consent_at else "",
            "ja" if participation.late else "nee",
        ])
    return csv_response(header, rows, f"inkoopactie-{campaign.id}-overdracht-{stamp()}.csv")


@bp.route("/supplier/campaigns/<int:campaign_id>/handoff")
@handoff_roles
@recent_login_required
@writes
def handoff_list(campaign_id: int) -> str | tuple[str, int]:
    campaign = _handoff_campaign(campaign_id)
    try:
        offers = services.handoff(campaign, actor=current_user)
    except ServiceError as err:
        _flash_error(err)
        return _manage_page(campaign, status=err.status)
    return render_template("campaigns/handoff.html", campaign=campaign, offers=offers,
                           locale=_locale(), now_utc=utcnow())
