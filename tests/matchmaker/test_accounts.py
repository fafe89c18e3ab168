import re

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import Role, User
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.members.models import LegalForm, Organisation
from matchmaker.members.services import normalize_kvk

REGISTRATION = {
    "name": "Anna de Vries", "email": "Anna@Bakkerij.example", "password": "Roggebrood-2026",
    "password_confirm": "Roggebrood-2026", "organisation_name": "Bakkerij De Brink",
    "kvk_number": "0412 3456", "legal_form": "bv", "kring_id": "0", "contact_phone": "",
    "privacy": "y",
}


@pytest.mark.parametrize("text, expected", [
    ("01234567", "01234567"), ("0123 4567", "01234567"), ("01.23.45.67", "01234567"),
])
def test_kvk_numbers_are_normalised(text, expected):
    assert normalize_kvk(text) == expected


@pytest.mark.parametrize("text", ["1234567", "123456789", "1234567a", "00000000", "", "12-345678"])
def test_impossible_kvk_numbers_are_refused(text):
    with pytest.raises(ServiceError) as err:
        normalize_kvk(text)
    assert err.value.field == "kvk_number"


def confirmation_link(email):
    from matchmaker.mail.models import Outbox

    body = db.session.scalar(sa.select(Outbox.body_text).where(Outbox.recipient == email)
                             .order_by(Outbox.id.desc()))
    return re.search(r"http://[^\s]+(/confirm/\S+)", body).group(1)


def test_a_company_registers_confirms_its_address_and_lands_on_adding_a_site(client, text_of):
    response = client.post("/register", data=REGISTRATION)
    assert response.status_code == 200 and "Kijk in uw inbox" in text_of(response)
    user = db.session.scalar(sa.select(User).where(User.email == "anna@bakkerij.example"))
    assert user.role == Role.MEMBER and user.unconfirmed_since is not None
    assert user.organisation.kvk_number == "04123456"
    assert user.organisation.legal_form == LegalForm.BV
    assert user.password_hash.startswith("$argon2id$")
    assert client.get("/dashboard").status_code == 302  # not logged in before confirming
    login = client.post("/login", data={"email": user.email, "password": "Roggebrood-2026"})
    assert login.status_code == 422 and "Bevestig eerst uw e-mailadres" in text_of(login)
    link = confirmation_link(user.email)
    assert "bevestig" in text_of(client.get(link)).lower()  # looking does not confirm
    assert user.unconfirmed_since is not None
    confirmed = client.post(link)
    assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith("/sites/new")
    assert client.get("/dashboard").status_code == 200


def test_a_registered_kvk_number_is_refused_with_a_clear_message(client, make, text_of):
    make.organisation(kvk_number="04123456")
    response = client.post("/register", data={**REGISTRATION, "email": "other@x.example"})
    assert response.status_code == 409
    assert "04123456" in text_of(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@pytest.mark.parametrize("password", ["kort1", "wachtwoord", "welkom01", "Password1", "aaaaaaaaaa",
                                      ["anna", "bakkerij.example"][0]])
def test_weak_passwords_are_refused_and_nothing_is_created(client, password):
    data = {**REGISTRATION, "password": password, "password_confirm": password}
    response = client.post("/register", data=data)
    assert response.status_code in (400, 422)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_login_is_case_insensitive_and_logout_ends_every_session(app, make, auth):
    user = make.user(Role.MEMBER, email="piet@example.org")
    assert auth.login("PIET@example.org").headers["Location"].endswith("/")
    other = app.test_client()
    assert other.post("/login", data={"email": user.email, "password": "Zonnedak-Assen-42"}
                      ).status_code == 302
    assert other.get("/dashboard").status_code == 200
    auth.logout()
    # The other device's session carried the old session version: it is logged out too.
    assert other.get("/dashboard").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_message(client, make, text_of):
    user = make.user(Role.MEMBER)
    wrong = client.post("/login", data={"email": user.email, "password": "wrong-password"})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "x" * 10})
    assert wrong.status_code == unknown.status_code == 422
    message = "Onbekend e-mailadres of onjuist wachtwoord."
    assert message in text_of(wrong) and message in text_of(unknown)
    assert client.get("/dashboard").status_code == 302


def test_deactivated_accounts_cannot_log_in_and_lose_their_session(app, make, auth):
    admin = make.user(Role.ADMIN)
    member = make.user(Role.MEMBER)
    member_client = app.test_client()
    member_client.post("/login", data={"email": member.email, "password": "Zonnedak-Assen-42"})
    auth.login(admin)
    assert auth.client.post(f"/admin/users/{member.id}/deactivate").status_code == 302
    assert member_client.get("/dashboard").status_code == 302
    again = member_client.post("/login", data={"email": member.email,
                                               "password": "Zonnedak-Assen-42"})
    assert again.status_code == 422
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.actor_id == admin.id))
    assert "user.deactivate" in list(actions)


def test_demo_accounts_only_work_in_demo_mode(base_app, make, auth):
    make.user(Role.COORDINATOR, email="demo@example.org", is_demo=True)
    assert auth.login("demo@example.org").status_code == 422
    base_app.config["DEMO_MODE"] = True
    try:
        assert auth.login("demo@example.org").status_code == 302
        assert auth.client.get("/coordinator/demand").status_code == 200
    finally:
        base_app.config["DEMO_MODE"] = False
    # An existing demo session ends as soon as demo mode is off.
    assert auth.client.get("/coordinator/demand").status_code == 302


def test_login_redirect_stays_on_this_site(make, auth):
    user = make.user(Role.MEMBER)
    response = auth.client.post("/login?next=https://evil.example/x",
                                data={"email": user.email, "password": "Zonnedak-Assen-42"})
    assert response.headers["Location"] == "/"
    auth.logout()
    response = auth.client.post("/login?next=/organisation",
                                data={"email": user.email, "password": "Zonnedak-Assen-42"})
    assert response.headers["Location"] == "/organisation"


def test_password_change_needs_the_current_password(make, auth, client):
    user = make.user(Role.MEMBER)
    auth.login(user)
    bad = client.post("/account", data={"pw-current_password": "nope", "pw-new_password":
                                        "Nieuw-Wachtwoord-9", "pw-new_password_confirm":
                                        "Nieuw-Wachtwoord-9"})
    assert bad.status_code == 422
    good = client.post("/account", data={"pw-current_password": "Zonnedak-Assen-42",
                                         "pw-new_password": "Nieuw-Wachtwoord-9",
                                         "pw-new_password_confirm": "Nieuw-Wachtwoord-9"})
    assert good.status_code == 302
    assert client.get("/dashboard").status_code == 200  # this session continues
    auth.logout()
    assert auth.login(user, "Nieuw-Wachtwoord-9").status_code == 302


def test_create_user_command_makes_staff_accounts(app, runner):
    result = runner.invoke("create-user", "Coord@Vereniging.example", "--role", "coordinator",
                           "--password", "Vraagbundeling-7")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "coord@vereniging.example"))
    assert user.role == Role.COORDINATOR
    weak = runner.invoke("create-user", "x@vereniging.example", "--role", "admin",
                         "--password", "password")
    assert weak.exit_code == 2
    member = runner.invoke("create-user", "y@vereniging.example", "--role", "member",
                           "--password", "Vraagbundeling-7")
    assert member.exit_code == 2

