"""Group buy pages for members: join, withdraw, decide on offers, owner consent."""

from __future__ import annotations

import shapely
import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from matchmaker.auth.decorators import member_required
from matchmaker.auth.models import Role
from matchmaker.campaigns import services
from matchmaker.campaigns.forms import (
    ActionForm,
    ConsentRequestForm,
    JoinForm,
)
from matchmaker.campaigns.models import (
    Campaign,
    Offer,
    Participation,
)
from matchmaker.campaigns.views.common import (
    _back,
    _campaign,
    _flash_error,
    _locale,
    _perform,
    bp,
    viewer_roles,
)
from matchmaker.demand.services import suggestions
from matchmaker.disclosure import MIN_MEMBERS
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error
from matchmaker.members.models import Site
from matchmaker.models import utcnow
from matchmaker.web.formatting import number, unit
from matchmaker.web.forms import apply_service_error
from matchmaker.web.geojson import geojson_response
from matchmaker.web.lookup import own_site


@bp.route("/campaigns")
@member_required
def member_list() -> str:
    organisation = current_user.organisation
    items = services.member_campaigns(organisation)
    progress = services.progress_for_all([item.campaign for item in items], current_user)
    return render_template(
        "campaigns/member_list.html",
        items=[(item, progress[item.campaign.id]) for item in items],
        consent=services.waiting_consent_requests(organisation), locale=_locale(),
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
        progress=services.progress_for(campaign, current_user),
        accepted=services.accepted_for(campaign, current_user),
        locale=_locale(),
        registration_open=services.registration_open(campaign),
        can_register=services.can_register(campaign),
        needs_consent={p.id: services.needs_owner_consent(p)
                       for p in view.participations.values()},
        consent_links=services.consent_link_states(list(view.participations.values())),
        consent_now=utcnow(),
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
    answer = request.form.get("answer", "agreed")
    address = participation.site.address
    try:
        if answer == "agreed":
            services.give_owner_consent(participation, actor=current_user)
        else:
            services.answer_as_member_owner(participation, answer, actor=current_user)
    except ServiceError as err:
        _flash_error(err)
        return render_template(
            "campaigns/consent_requests.html",
            rows=services.consent_requests(current_user.organisation),
            action_form=ActionForm(formdata=None), locale=_locale()), err.status
    flash({"agreed": _("Thank you: your consent for %(address)s is recorded. The tenant is "
                       "told by e-mail and can now accept the offer.", address=address),
           "declined": _("Recorded: you do not consent for %(address)s. The tenant is told by "
                         "e-mail and cannot accept the offer; you can still consent here "
                         "later.", address=address),
           }.get(answer, _("Recorded: %(address)s is not your building. The tenant is told by "
                           "e-mail and can ask the right owner.", address=address)),
          "success")
    return redirect(url_for("campaigns.consent_requests"))


@bp.route("/consent/<token>", methods=["GET", "POST"])
def owner_consent_link(token: str) -> BaseResponse | tuple[str, int]:
    """The one-time link for an owner who is not a member: GET shows the request, POST records
    the answer (agree, decline, not my building). Link scanners in mail filters only GET, so
    they cannot use the link up; the tenant's own people cannot answer."""
    form = ActionForm()
    actor = current_user if current_user.is_authenticated else None

    def page(status: int = 200, **context: object) -> tuple[str, int]:
        return render_template("campaigns/consent_link.html", form=form, locale=_locale(),
                               **{"error": None, "row": None, "answer": None, **context}), status

    try:
        row = services.consent_token(token, actor=actor)
    except ServiceError as err:
        return page(err.status, error=translate_error(err))
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            row = services.answer_consent_token(token, request.form.get("answer", ""),
                                                actor=actor)
        except ServiceError as err:
            return page(err.status, error=translate_error(err))
        return page(row=row, answer=row.answer)
    return page(row=row)


@bp.route("/campaigns/<int:campaign_id>/map.geojson")
@viewer_roles
def map_geojson(campaign_id: int) -> Response:
    """The campaign's areas with the participants as aggregates (disclosure rule applied);
    a member also gets their own sites."""
    campaign = _campaign(campaign_id)
    if not services.ensure_visible(campaign, current_user):
        abort(404)
    rows, _total = services.area_aggregates(
        campaign, known=[current_user.organisation_id] if current_user.organisation_id else [])
    geometries = [row.geometry for row in rows]
    properties = []
    staff = current_user.role in (Role.COORDINATOR, Role.ADMIN)
    for row in rows:
        label = row.name or _("Drawn area")
        if staff:  # coordinators see the participants per area as they are
            text = _("%(name)s: %(members)s members, %(volume)s %(unit)s", name=label,
                     members=row.organisations, volume=number(row.volume),
                     unit=unit(campaign.product))
            badge = str(row.organisations)
        elif row.cell.suppressed:
            text = _("%(name)s: fewer than %(n)s other members or one dominant member "
                     "(hidden)", name=label, n=MIN_MEMBERS)
            badge = ""
        else:
            text = _("%(name)s: %(members)s members, %(volume)s %(unit)s", name=label,
                     members=row.cell.members, volume=number(row.cell.volume),
                     unit=unit(campaign.product))
            badge = str(row.cell.members)
        properties.append({"kind": "area", "name": label, "text": text, "badge": badge,
                           "suppressed": row.cell.suppressed and not staff})
    if current_user.role == Role.MEMBER:
        view = services.member_campaign(campaign, current_user.organisation)
        for site in view.sites if view else []:
            geometries.append(shapely.Point(site.x, site.y))
            properties.append({"kind": "own", "name": site.label or site.address,
                               "text": _("Your site: %(address)s", address=site.address)})
    return geojson_response(geometries, properties)
