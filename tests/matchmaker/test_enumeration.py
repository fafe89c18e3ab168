"""Class 8 of issue 13: whether an e-mail address has an account is told to nobody but its
owner. Every door that takes an address from a person — login, registration, password reset,
a change of address — answers a known and an unknown address alike (status and every word,
the address itself aside), creates nothing for the known one, and tells its owner by e-mail
instead. A KvK number is public: registration may say a company is registered already."""

from __future__ import annotations

import re

import sqlalchemy as sa

from matchmaker.auth.models import Role, User
from matchmaker.extensions import db
from matchmaker.mail.models import Outbox
from matchmaker.members.models import Organisation

from .conftest import PASSWORD
from .test_accounts import REGISTRATION

KNOWN, UNKNOWN = "bekend@example.org", "onbekend@example.org"


def answer(response, text_of, *addresses):
    text = text_of(response) if response.status_code != 302 else response.headers["Location"]
    for address in addresses:
        text = text.replace(address, "ADRES")
    return response.status_code, re.sub(r"csrf_token\S*", "", text)


def counts():
    return (db.session.scalar(sa.select(sa.func.count(User.id))),
            db.session.scalar(sa.select(sa.func.count(Organisation.id))))


def test_every_door_answers_known_and_unknown_addresses_alike(app, make, auth, client,
                                                              text_of):
    owner = make.user(Role.MEMBER, email=KNOWN)
    member = make.user(Role.MEMBER)
    doors = {
        "login": lambda email: client.post("/login", data={
            "email": email, "password": "Niet-het-goede-1"}, follow_redirects=True),
        "reset": lambda email: client.post("/password/forgot", data={"email": email},
                                           follow_redirects=True),
        "register": lambda email: client.post("/register", data={
            **REGISTRATION, "email": email, "kvk_number": f"0{len(email)}99{len(email)}9"},
            follow_redirects=True),
    }
    for name, door in doors.items():
        before = counts()
        known = answer(door(KNOWN), text_of, KNOWN)
        after_known = counts()
        unknown = answer(door(UNKNOWN), text_of, UNKNOWN)
        assert known == unknown, name
        assert after_known == before, f"{name} created something for a known address"
    # The change of address, for a logged-in member: the same answer too.
    auth.login(member)
    known = answer(client.post("/account", data={
        "account-name": "A", "account-email": KNOWN, "account-locale": "nl"},
        follow_redirects=True), text_of, KNOWN)
    unknown = answer(client.post("/account", data={
        "account-name": "A", "account-email": "nog-een@example.org", "account-locale": "nl"},
        follow_redirects=True), text_of, "nog-een@example.org")
    assert known == unknown
    assert db.session.get(User, member.id).email == member.email
    # The owner of the known address was told each time someone tried it, and only by mail.
    subjects = list(db.session.scalars(sa.select(Outbox.subject).where(
        Outbox.recipient == KNOWN)))
    assert sum("gebruikt om u aan te melden" in s for s in subjects) == 2  # register, change
    assert any("nieuw wachtwoord" in s.lower() for s in subjects)  # the reset link itself
    assert owner.email == KNOWN


def test_a_kvk_number_is_public_so_registration_may_say_it_is_taken(make, client, text_of):
    make.organisation(kvk_number="04123456")
    response = client.post("/register", data={**REGISTRATION, "email": UNKNOWN})
    assert response.status_code == 409 and "04123456" in text_of(response)
    assert db.session.scalar(sa.select(User.id).where(User.email == UNKNOWN)) is None


def test_the_right_password_of_an_unconfirmed_account_sends_the_link_again(client, text_of):
    client.post("/register", data={**REGISTRATION, "email": UNKNOWN})
    wrong = client.post("/login", data={"email": UNKNOWN, "password": "Niet-het-goede-1"})
    assert "Onbekend e-mailadres of onjuist wachtwoord" in text_of(wrong)
    right = client.post("/login", data={"email": UNKNOWN, "password": REGISTRATION["password"]})
    assert "Bevestig eerst uw e-mailadres" in text_of(right)
    assert PASSWORD != REGISTRATION["password"]
