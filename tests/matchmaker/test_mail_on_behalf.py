"""Class 4 of issue 13: the service cannot be used to send someone else's words.

Mail a member makes the service send to an address it types (the owner-consent link) is
limited per member and per recipient, words the member typed appear only as a quotation
without working links, and every message is in the audit log. A sweep over the outbox checks
that every message to an address without an account went through that one door.
"""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import User
from matchmaker.backup import table_snapshot
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind, Outbox
from matchmaker.mail.services import ON_BEHALF_PER_MEMBER_PER_DAY, ON_BEHALF_PER_RECIPIENT_PER_WEEK
from matchmaker.members.models import Tenure

from .test_campaign_support import Buy, mails

PHISHING = "Gefeliciteerd! Klik op http://evil.example/prijs\nen vul uw bankgegevens in www.evil.example"


def ask(client, participation, email):
    return client.post(f"/participations/{participation.id}/consent-request",
                       data={"owner_email": email})


def test_a_member_cannot_make_the_service_mail_its_words_to_anyone_without_limit(
        make, auth, client, text_of):
    buy = Buy(make)
    campaign = buy.open(buy.campaign())
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    tenant.organisation.name = PHISHING
    participation = buy.join(campaign, tenant, site, "400")
    auth.login(tenant)
    for n in range(ON_BEHALF_PER_MEMBER_PER_DAY):
        assert ask(client, participation, f"eigenaar{n}@example.org").status_code == 302
    before = table_snapshot()
    refused = ask(client, participation, "nog-een@example.org")
    assert refused.status_code == 429 and "probeer het morgen opnieuw" in text_of(refused)
    assert {k: v for k, v in table_snapshot().items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"}
    sent = mails(MailKind.CONSENT)
    assert len(sent) == ON_BEHALF_PER_MEMBER_PER_DAY
    for message in sent:
        for body in (message.body_text, message.body_html, message.subject):
            assert "evil.example" not in body and "http://evil" not in body
        assert "“Gefeliciteerd! Klik op […] en vul uw bankgegevens in […]”" in message.body_text
        assert "de vereniging heeft het niet gecontroleerd" in message.body_text
    audited = db.session.scalars(sa.select(AuditLog.detail).where(
        AuditLog.action == "mail.on_behalf")).all()
    assert sorted(d["recipient"] for d in audited) == sorted(m.recipient for m in sent)


def test_one_address_gets_a_few_requests_a_week_whoever_asks(make, auth, client, text_of):
    buy = Buy(make)
    campaign = buy.open(buy.campaign())
    outsider = "Iemand@Example.org"
    for n in range(ON_BEHALF_PER_RECIPIENT_PER_WEEK + 1):
        tenant, site = buy.member("100", tenure=Tenure.TENANT)
        participation = buy.join(campaign, tenant, site, "100")
        auth.login(tenant)
        response = ask(client, participation, outsider)
        auth.logout()
        if n < ON_BEHALF_PER_RECIPIENT_PER_WEEK:
            assert response.status_code == 302
        else:
            assert response.status_code == 429 and "deze week" in text_of(response)
    assert len(mails(MailKind.CONSENT)) == ON_BEHALF_PER_RECIPIENT_PER_WEEK


def test_every_message_to_an_address_without_account_went_through_the_one_door(
        make, auth, client):
    """Whatever produced the outbox (group buy steps, consent requests, password resets for
    unknown addresses), mail to someone who has no account carries its sender organisation:
    it was counted, quoted and audited."""
    buy = Buy(make)
    campaign = buy.open(buy.campaign())
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    owner, _owner_site = buy.member("100")
    auth.login(tenant)
    ask(client, buy.join(campaign, tenant, site, "400"), "buiten@example.org")
    other, other_site = buy.member("100", tenure=Tenure.TENANT)
    client.post(f"/participations/{buy.join(campaign, other, other_site, '100').id}"
                "/consent-request", data={"kvk_number": owner.organisation.kvk_number})
    auth.logout()
    client.post("/password/forgot", data={"email": "onbekend@example.org"})
    accounts = set(db.session.scalars(sa.select(sa.func.lower(User.email))))
    outside = [m for m in db.session.scalars(sa.select(Outbox))
               if m.recipient.lower() not in accounts]
    assert outside, "the sweep saw no mail to an outsider"
    assert all(m.sender_organisation_id is not None for m in outside), [
        (m.recipient, m.kind) for m in outside if m.sender_organisation_id is None]
