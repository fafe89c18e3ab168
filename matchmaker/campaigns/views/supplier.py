"""Group buy pages for suppliers: bids and the hand-off."""

from __future__ import annotations

from decimal import Decimal

from flask import (
    Response,
    abort,
    flash,
    render_template,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from matchmaker.campaigns import services
from matchmaker.campaigns.forms import (
    ActionForm,
    BidForm,
    end_of_day_utc,
    fill_tiers,
    tiers_from,
    to_local,
)
from matchmaker.campaigns.models import (
    Bid,
    Campaign,
    Offer,
)
from matchmaker.campaigns.views.common import (
    _back,
    _campaign,
    _flash_error,
    _form_error,
    _locale,
    _manage_page,
    _perform,
    bp,
    handoff_roles,
    provider_required,
)
from matchmaker.database import writes
from matchmaker.errors import N_, NotFound, ServiceError
from matchmaker.extensions import db
from matchmaker.models import utcnow
from matchmaker.security import recent_login_required
from matchmaker.web.exports import Id, csv_response, stamp


def _supplier_campaign(campaign_id: int) -> Campaign:
    campaign = db.get_or_404(Campaign, campaign_id)
    if not services.visible_to_supplier(campaign, current_user):
        abort(404)
    return campaign


@bp.route("/supplier/campaigns")
@provider_required
def supplier_list() -> str:
    campaigns = services.supplier_campaigns(current_user)
    bids = services.bids_of(campaigns, current_user)
    rows = [(c, bids.get(c.id)) for c in campaigns]
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


def _handoff(campaign_id: int) -> tuple[Campaign, list[Offer]]:
    """The campaign and its hand-off; the service decides who may have it (404 for a supplier
    it is not meant for), staff get the reason on the manage page."""
    campaign = _campaign(campaign_id)
    return campaign, services.handoff(campaign, actor=current_user)


@bp.route("/supplier/campaigns/<int:campaign_id>/handoff.csv")
@handoff_roles
@recent_login_required
@writes
def handoff_csv(campaign_id: int) -> Response | tuple[str, int]:
    try:
        campaign, offers = _handoff(campaign_id)
    except NotFound:
        abort(404)
    except ServiceError as err:
        _flash_error(err)
        return _manage_page(_campaign(campaign_id), status=err.status)
    header = [_("Offer id"), _("Participation id"), _("Organisation"), _("KvK number"),
              _("Contact"), _("E-mail"), _("Phone"), _("Site id"), _("BAG id"), _("Street"),
              _("House number"), _("Addition"), _("Postcode"), _("City"), _("X (RD New, m)"),
              _("Y (RD New, m)"), _("Quantity"), _("Unit"), _("Unit price (EUR)"),
              _("Fixed cost (EUR)"), _("Total (EUR)"), _("Flat roof (m²)"), _("Energy label"),
              _("Owner or tenant"), _("Owner's consent"), _("Late")]
    rows = []
    for offer in offers:
        participation = offer.participation
        site, org = participation.site, participation.site.organisation
        rows.append([
            offer.id, participation.id, org.name, Id(org.kvk_number), org.contact_name,
            org.contact_email, org.contact_phone, site.id, Id(site.bag_id), site.street,
            site.house_number, site.addition, site.postcode, site.city,
            round(site.x, 2), round(site.y, 2), offer.quantity,
            campaign.product.unit, offer.final_unit_price, offer.fixed_cost,
            offer.final_total,
            round(site.flat_roof_area_m2, 1) if site.flat_roof_area_m2 is not None else None,
            site.energy_label or "", site.tenure,
            participation.owner_consent_at.date() if participation.owner_consent_at else None,
            participation.late,
        ])
    return csv_response(header, rows, f"inkoopactie-{campaign.id}-overdracht-{stamp()}.csv")


@bp.route("/supplier/campaigns/<int:campaign_id>/handoff")
@handoff_roles
@recent_login_required
@writes
def handoff_list(campaign_id: int) -> str | tuple[str, int]:
    try:
        campaign, offers = _handoff(campaign_id)
    except NotFound:
        abort(404)
    except ServiceError as err:
        _flash_error(err)
        return _manage_page(_campaign(campaign_id), status=err.status)
    return render_template("campaigns/handoff.html", campaign=campaign, offers=offers,
                           locale=_locale(), now_utc=utcnow())
