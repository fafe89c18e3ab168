"""Class 1 of issue 13: a credential is shown only to its owner.

Every link in every queued e-mail (password resets, owner-consent links, and whatever mail a
later feature adds) is searched for in every outbox page any *other* account can open, in demo
mode and outside it; API tokens of demo accounts work only in demo mode, as their logins.
"""

from __future__ import annotations

import re

import pytest

from matchmaker.api.services import issue_token
from matchmaker.auth.models import Role
from matchmaker.campaigns import services
from matchmaker.mail.services import _URL
from matchmaker.members.models import Tenure

from .test_campaign_support import Buy, mails


def _outbox_bytes(client) -> bytes:
    """Every outbox page and every message page the logged-in client can open."""
    seen = []
    first = client.get("/admin/outbox")
    seen.append(first.data)
    if first.status_code != 200:
        return b"".join(seen)
    pages = max([int(n) for n in re.findall(rb"[?&]page=(\d+)", first.data)] or [1])
    for page in range(2, pages + 1):
        seen.append(client.get(f"/admin/outbox?page={page}").data)
    for message in mails():
        seen.append(client.get(f"/admin/outbox/{message.id}").data)
    return b"".join(seen)


@pytest.mark.parametrize("demo_mode", [False, True])
def test_links_in_mail_reach_nobody_but_their_recipient(base_app, app, make, auth, client,
                                                        demo_mode):
    buy = Buy(make)
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    owner, _owner_site = buy.member("100")
    campaign = buy.open(buy.campaign())
    participation = buy.join(campaign, tenant, site, "400")
    services.request_owner_consent(participation, actor=tenant,
                                   owner_email="eigenaar@example.org")
    other, other_site = buy.member("100", tenure=Tenure.TENANT,
                                   owner_organisation_id=owner.organisation_id)
    services.request_owner_consent(buy.join(campaign, other, other_site, "100"), actor=other,
                                   owner_kvk=owner.organisation.kvk_number)
    admin = make.user(Role.ADMIN)
    viewers = [tenant, owner, other, buy.coordinator, buy.suppliers[0], admin]
    for user in (tenant, admin):
        client.post("/password/forgot", data={"email": user.email})
    messages = mails()
    links = {m.id: set(_URL.findall(m.body_text)) for m in messages}
    assert any("/password/reset/" in url for urls in links.values() for url in urls)
    assert any("/consent/" in url for urls in links.values() for url in urls)

    base_app.config["DEMO_MODE"] = demo_mode
    try:
        for viewer in viewers:
            auth.login(viewer)
            page = _outbox_bytes(client)
            auth.logout()
            own_links = set().union(*(links[m.id] for m in messages
                                      if m.recipient == viewer.email)) if demo_mode else set()
            for message in messages:
                own = message.recipient == viewer.email
                for url in links[message.id]:
                    last = url.rsplit("/", 1)[-1].encode()
                    secret = last if len(last) >= 20 else url.encode()  # a token, not an id
                    if own and demo_mode:
                        assert url.encode() in page, (viewer.email, url)
                    elif not own and url not in own_links:
                        assert url.encode() not in page and secret not in page, (
                            f"{viewer.email} ({viewer.role}) sees {url} meant for "
                            f"{message.recipient}")
            if viewer.role == Role.ADMIN:  # admins still see what was sent to whom
                assert all(m.recipient.encode() in page for m in messages)
    finally:
        base_app.config["DEMO_MODE"] = False


def test_a_member_cannot_open_another_persons_message(base_app, make, auth, client):
    member, stranger = make.user(Role.MEMBER), make.user(Role.MEMBER)
    client.post("/password/forgot", data={"email": member.email})
    (message,) = mails()
    base_app.config["DEMO_MODE"] = True
    try:
        auth.login(stranger)
        assert client.get(f"/admin/outbox/{message.id}").status_code == 404
        auth.logout()
        auth.login(member)
        assert client.get(f"/admin/outbox/{message.id}").status_code == 200
    finally:
        base_app.config["DEMO_MODE"] = False


def test_api_tokens_of_demo_accounts_work_only_in_demo_mode(base_app, make, client):
    provider = make.user(Role.PROVIDER, is_demo=True)
    _row, token = issue_token(provider, actor=None)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/checks", headers=headers).status_code == 401
    base_app.config["DEMO_MODE"] = True
    try:
        assert client.get("/api/v1/checks", headers=headers).status_code == 200
    finally:
        base_app.config["DEMO_MODE"] = False
    assert client.get("/api/v1/checks", headers=headers).status_code == 401
