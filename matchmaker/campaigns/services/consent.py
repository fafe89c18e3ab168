"""A building owner's consent for a tenant's roof or building work: in the service or by a one-time link."""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.auth.services import normalize_email
from matchmaker.campaigns.models import (
    Campaign,
    ConsentAnswer,
    OwnerConsentToken,
    Participation,
    ParticipationState,
)
from matchmaker.campaigns.services.common import ACTIVE_STATES, CONSENT_SALT, setting
from matchmaker.campaigns.services.notify import mail_user, member_link, member_users
from matchmaker.campaigns.services.queries import needs_owner_consent
from matchmaker.campaigns.timing import database_time, db_now
from matchmaker.database import rowcount
from matchmaker.errors import N_, Conflict, NotAllowed, ServiceError
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.mail.services import external_url, queue_on_behalf, quoted
from matchmaker.members.models import Organisation, Site, Tenure
from matchmaker.models import utcnow


def consent_requests(organisation: Organisation) -> list[Participation]:
    """Tenants' participations in running group buys on buildings this organisation owns."""
    rows = db.session.scalars(
        sa.select(Participation).join(Participation.site).join(Participation.campaign)
        .where(Site.owner_organisation_id == organisation.id,
               Site.tenure == Tenure.TENANT,
               Participation.state == ParticipationState.REGISTERED,
               Campaign.state.in_(ACTIVE_STATES))
        .order_by(Participation.id)
    )
    return [p for p in rows if needs_owner_consent(p)]


def waiting_consent_requests(organisation: Organisation) -> list[Participation]:
    """The requests this owner has not answered yet (consented or said no)."""
    return [p for p in consent_requests(organisation)
            if p.owner_consent_at is None and not p.owner_answer]


def _check_consent_possible(participation: Participation) -> None:
    if not needs_owner_consent(participation):
        raise Conflict(N_("This registration does not need the owner's consent."))
    if participation.owner_consent_at is not None:
        raise Conflict(N_("The owner has given consent already."))
    if participation.campaign.state not in ACTIVE_STATES or not participation.active:
        raise Conflict(N_("This group buy no longer runs."))


def _consent(participation: Participation, *, by: str, via: str) -> None:
    participation.owner_consent_at = utcnow()
    participation.owner_consent_by = by[:254]
    participation.owner_consent_via = via
    db.session.flush()


def _check_member_owner(participation: Participation, actor: User) -> Organisation:
    site = participation.site
    if actor.role != Role.MEMBER or site.owner_organisation_id != actor.organisation_id \
            or site.owner_organisation is None:
        raise NotAllowed(N_("Only the owner of the building can give consent."))
    _check_consent_possible(participation)
    return site.owner_organisation


def give_owner_consent(participation: Participation, *, actor: User) -> None:
    """The owner, a member organisation, consents in the service (also after saying no)."""
    owner = _check_member_owner(participation, actor)
    _consent(participation, by=owner.name, via="member")
    participation.owner_answer, participation.owner_answer_at = "", None
    participation.owner_answer_by = ""
    db.session.flush()
    record(actor, "participation.owner_consent", participation, via="member", owner=owner.id)
    _mail_tenant(participation, ConsentAnswer.AGREED, who=owner.name,
                 key=f"consent-answer-member:{participation.id}:agreed")


def answer_as_member_owner(participation: Participation, answer: str, *,
                           actor: User) -> None:
    """The owner, a member organisation, says no in the service: it does not consent
    (``declined``; it can still consent later), or the building is not its own
    (``not_owner``: it is no longer recorded as the owner, so the tenant can ask the right
    one). Recorded with the time; the tenant is mailed."""
    if answer not in (ConsentAnswer.DECLINED, ConsentAnswer.NOT_OWNER):
        raise ServiceError(N_("Choose one of the answers."))
    owner = _check_member_owner(participation, actor)
    if participation.owner_answer == answer:
        raise Conflict(N_("Your answer is recorded already."))
    participation.owner_answer = str(answer)
    participation.owner_answer_at = utcnow()
    participation.owner_answer_by = owner.name[:254]
    if answer == ConsentAnswer.NOT_OWNER:
        participation.site.owner_organisation_id = None
    db.session.flush()
    record(actor, "participation.owner_" + str(answer), participation, via="member",
           owner=owner.id)
    stamp = participation.owner_answer_at.strftime("%Y%m%d%H%M%S")
    _mail_tenant(participation, ConsentAnswer(answer), who=owner.name,
                 key=f"consent-answer-member:{participation.id}:{answer}:{stamp}")


def request_owner_consent(participation: Participation, *, actor: User,
                          owner_kvk: str = "", owner_email: str = "") -> str:
    """Ask the owner: a member organisation (by KvK number) sees it in the service; anyone else
    gets a one-time link by e-mail. Returns ``"member"`` or ``"link"``."""
    from matchmaker.members.services import normalize_kvk

    site = participation.site
    if actor.role != Role.MEMBER or actor.organisation_id != site.organisation_id:
        raise NotAllowed(N_("This is not your site."))
    _check_consent_possible(participation)
    if owner_kvk.strip():
        kvk = normalize_kvk(owner_kvk)
        owner = db.session.scalar(sa.select(Organisation).where(Organisation.kvk_number == kvk))
        if owner is None:
            raise ServiceError(N_("No member has KvK number %(kvk)s; send the owner a link by "
                                  "e-mail instead."), field="kvk_number", kvk=kvk)
        if owner.id == site.organisation_id:
            raise ServiceError(N_("Your own organisation is the tenant, not the owner."),
                               field="kvk_number")
        if site.owner_organisation_id not in (None, owner.id):
            # A known owner is not replaced from the tenant's side.
            raise Conflict(N_("Another organisation is recorded as the owner of this building; "
                              "ask the coordinator to correct it."), field="kvk_number")
        site.owner_organisation = owner
        participation.owner_answer, participation.owner_answer_at = "", None
        participation.owner_answer_by = ""
        db.session.flush()
        mail_member_owner(participation)
        record(actor, "participation.consent_request", participation, via="member",
               owner=owner.id)
        return "member"
    if not owner_email.strip():
        raise ServiceError(N_("Enter the owner's KvK number or e-mail address."),
                           field="owner_email")
    email = normalize_email(owner_email)
    tenant_addresses = {u.email for u in member_users([site.organisation_id])}
    tenant_addresses.add((site.organisation.contact_email or "").lower())
    if email in tenant_addresses:
        # The tenant cannot consent on the owner's behalf through its own mailbox.
        raise ServiceError(N_("Send the link to the building owner, not to an address of your "
                              "own organisation."), field="owner_email")
    answered = db.session.scalar(
        sa.select(OwnerConsentToken).where(
            OwnerConsentToken.participation_id == participation.id,
            sa.func.lower(OwnerConsentToken.email) == email,
            OwnerConsentToken.answer.in_((ConsentAnswer.DECLINED, ConsentAnswer.NOT_OWNER)))
        .limit(1))
    if answered is not None:
        # The owner said no (or that the building is not theirs): asking again is nagging.
        raise ServiceError(N_("%(email)s has answered this request already; ask another "
                              "address."), field="owner_email", email=email)
    days = int(setting("OWNER_CONSENT_LINK_DAYS"))
    token = OwnerConsentToken(participation=participation, email=email,
                              nonce=secrets.token_urlsafe(24),
                              expires_at=utcnow() + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    link = external_url("campaigns.owner_consent_link",
                        token=consent_serializer().dumps({"id": token.id, "n": token.nonce}))
    queue_on_behalf(email, organisation_id=site.organisation_id, actor=actor,
                    kind=MailKind.CONSENT, dedupe_key=f"consent-link:{token.id}",
                    template="consent_link", subject=N_("A consent request for a building"),
                    locale="nl", topic=f"campaign:{participation.campaign_id}",
                    address=quoted(site.address), tenant=quoted(site.organisation.name),
                    campaign=participation.campaign, link=link, days=days,
                    expires_at=token.expires_at)
    record(actor, "participation.consent_request", participation, via="link", email=email)
    return "link"


def mail_member_owner(participation: Participation) -> None:
    site = participation.site
    campaign = participation.campaign
    for user in member_users([site.owner_organisation_id] if site.owner_organisation_id else []):
        mail_user(user, campaign, kind=MailKind.CONSENT, key=f"consent-member:{participation.id}",
              template="consent_member",
              subject=N_("Consent requested for %(address)s"), address=site.address,
              tenant=quoted(site.organisation.name),
              link=external_url("campaigns.consent_requests"))


def consent_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONSENT_SALT)


def consent_token(token: str, *, actor: User | None = None) -> OwnerConsentToken:
    """The stored token behind a link; refuses tampered, expired and used links, and the
    tenant's own people (``actor``: whoever is logged in, if anyone): the link is for the
    recipient only."""
    days = int(setting("OWNER_CONSENT_LINK_DAYS"))
    try:
        data = consent_serializer().loads(token, max_age=days * 24 * 3600)
    except SignatureExpired as exc:
        raise ServiceError(N_("This link has expired. Ask the tenant to send a new one.")
                           ) from exc
    except BadSignature as exc:
        raise ServiceError(N_("This link is not valid. Check that you copied all of it.")
                           ) from exc
    row = db.session.get(OwnerConsentToken, data.get("id")) if isinstance(data, dict) else None
    if row is None or not secrets.compare_digest(row.nonce, str(data.get("n", ""))):
        raise ServiceError(N_("This link is not valid. Check that you copied all of it."))
    if actor is not None and actor.organisation_id is not None \
            and actor.organisation_id == row.participation.site.organisation_id:
        raise NotAllowed(N_("This link is for the owner of the building, not for the tenant."))
    if row.used_at is not None:
        raise Conflict(N_("This link has been used already; your answer is recorded."))
    if row.expires_at <= database_time():
        raise ServiceError(N_("This link has expired. Ask the tenant to send a new one."))
    return row


def answer_consent_token(token: str, answer: str, *,
                         actor: User | None = None) -> OwnerConsentToken:
    """The owner answers through a one-time link: agrees, declines, or says the building is
    not theirs. Single use (enforced in SQL), recorded with the time; the tenant is mailed."""
    row = consent_token(token, actor=actor)
    try:
        choice = ConsentAnswer(answer)
    except ValueError as exc:
        raise ServiceError(N_("Choose one of the answers.")) from exc
    participation = row.participation
    _check_consent_possible(participation)
    result = db.session.execute(
        sa.update(OwnerConsentToken)
        .where(OwnerConsentToken.id == row.id, OwnerConsentToken.used_at.is_(None),
               OwnerConsentToken.expires_at > db_now())
        .values(used_at=db_now(), answer=choice.value)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise Conflict(N_("This link has been used already; your answer is recorded."))
    db.session.refresh(row)
    if choice == ConsentAnswer.AGREED:
        _consent(participation, by=row.email, via="link")
        record(None, "participation.owner_consent", participation, via="link",
               email=row.email, token=row.id)
    else:
        record(None, "participation.owner_" + choice.value, participation, via="link",
               email=row.email, token=row.id)
    _mail_tenant(participation, choice, who=row.email, key=f"consent-answer:{row.id}")
    return row


SUBJECTS = {
    ConsentAnswer.AGREED: N_("The owner consents: %(address)s"),
    ConsentAnswer.DECLINED: N_("The owner does not consent: %(address)s"),
    ConsentAnswer.NOT_OWNER: N_("Not the owner of %(address)s"),
}


def _mail_tenant(participation: Participation, answer: ConsentAnswer, *, who: str,
                 key: str) -> None:
    """Tell the tenant's people the owner's answer and where to go next."""
    site = participation.site
    for user in member_users([site.organisation_id]):
        mail_user(user, participation.campaign, kind=MailKind.CONSENT, key=key,
                  template="consent_answer", subject=SUBJECTS[answer], address=site.address,
                  who=who, answer=answer.value, link=member_link(participation.campaign))


def consent_link_states(participations: list[Participation]) -> dict[int, OwnerConsentToken]:
    """The latest link sent for each participation (by participation id): its ``created_at``,
    ``expires_at``, ``used_at`` and ``answer`` are the request's state for the tenant."""
    ids = [p.id for p in participations]
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(OwnerConsentToken).where(OwnerConsentToken.participation_id.in_(ids))
        .order_by(OwnerConsentToken.participation_id, OwnerConsentToken.id))
    return {row.participation_id: row for row in rows}
