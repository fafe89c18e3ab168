"""The group buy blueprint, its template filters and the helpers its role modules share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from matchmaker.auth.decorators import role_required
from matchmaker.auth.models import Role
from matchmaker.campaigns import services
from matchmaker.campaigns.forms import ActionForm, CancelForm, CloseEarlyForm, SupplierForm
from matchmaker.campaigns.models import (
    Campaign,
    CampaignState,
    InviteBy,
    OfferStatus,
)
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error
from matchmaker.web.forms import apply_service_error, choices

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


def _form_error(form: Any, err: ServiceError) -> None:
    message = translate_error(err)
    if err.field == "tiers":
        form.tiers.errors = [message]
    elif not apply_service_error(form, err, message):
        flash(message, "error")


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
        consent_links=services.consent_link_states(list(campaign.participations)),
        potential=(services.potential(campaign) if campaign.state == CampaignState.DRAFT
                   else None),
    ), status
