"""Admins run the service without a shell: accounts, searching users, imports with progress."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from flask_migrate import upgrade

from matchmaker import create_app, jobs
from matchmaker.auth.models import Role, User
from matchmaker.database import write_intent
from matchmaker.extensions import db
from matchmaker.mail.models import Outbox
from matchmaker.register.models import AddressRecord, ImportStatus, RegisterImport

from .conftest import PASSWORD, Factory, app_config
from .test_register_import import HEADER, row


def test_admins_land_on_their_page_create_staff_and_search_users(client, make, auth, text_of):
    admin = make.user(Role.ADMIN)
    for i in range(60):
        make.user(Role.MEMBER, email=f"lid{i:02d}@example.org")
    response = auth.login(admin)
    assert client.get("/").headers["Location"].endswith("/admin/users")
    first = text_of(client.get("/admin/users"))
    assert "61 accounts" in first
    assert "pagina 1 van 2" in first

    created = client.post("/admin/users", data={"new-email": "Planner@Glas.example",
                                                "new-name": "Planner", "new-role": "provider"})
    assert created.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "planner@glas.example"))
    assert user.role == Role.PROVIDER
    mail = db.session.scalar(sa.select(Outbox).where(Outbox.recipient == user.email))
    link = re.search(r"http\S+/password/reset/\S+", mail.body_text).group(0)
    # The invitation sets the password once; then the provider logs in with it.
    token_path = link.split("127.0.0.1:5000", 1)[-1]
    auth.logout()
    assert client.post(token_path, data={"new_password": "Glasvezel-Assen-77",
                                         "new_password_confirm": "Glasvezel-Assen-77"}).status_code == 302
    assert auth.login("planner@glas.example", "Glasvezel-Assen-77").status_code == 302
    auth.logout()

    response = auth.login(admin)
    assert response.status_code == 302
    again = client.post("/admin/users", data={"new-email": "planner@glas.example",
                                              "new-role": "coordinator"})
    assert again.status_code == 409 and 'id="new-email-error"' in again.get_data(as_text=True)
    member = client.post("/admin/users", data={"new-email": "x@example.org",
                                               "new-role": "member"})
    assert member.status_code in (400, 422)
    found = text_of(client.get("/admin/users?q=GLAS"))
    assert "planner@glas.example" in found and "lid00@example.org" not in found
    assert "1 account" in found


def test_an_import_from_the_admin_page_runs_in_the_background_with_its_report(tmp_path):
    url = f"sqlite:///{tmp_path / 'admin.sqlite3'}"
    app = create_app(app_config(url, str(tmp_path), JOB_QUEUE="thread"))
    with app.app_context(), write_intent():
        upgrade(revision="heads")
        email = Factory().user(Role.ADMIN).email
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    rows = [row(i) for i in range(1, 40)] + [row(40, postcode="0401AB")]
    data = (HEADER + "".join(";".join(r) + "\n" for r in rows)).encode()
    response = client.post("/admin/register/import/addresses", data={
        "addr-file": (io.BytesIO(data), "bag.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302
    status_url = response.headers["Location"]
    jobs.wait_idle(app)
    assert client.get(status_url + "/status.json").get_json()["status"] == "done"
    page = client.get(status_url).get_data(as_text=True)
    assert "40 regels gelezen, 39 nieuw" in page and "1 geweigerd" in page
    assert re.search(r'<td class="num">41</td>', page)  # the bad row's line number
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AddressRecord)) == 39
        row_ = db.session.scalar(sa.select(RegisterImport))
        assert row_.status == ImportStatus.DONE
        from pathlib import Path
        assert not Path(row_.stored_path).exists()  # the upload is gone once read
    # A file of the wrong kind is refused next to the field, before anything is queued.
    wrong = client.post("/admin/register/import/areas", data={
        "areas-file": (io.BytesIO(b"x"), "parks.csv"), "areas-area_kind": "park"},
        content_type="multipart/form-data")
    assert wrong.status_code == 400 and 'id="areas-file-error"' in wrong.get_data(as_text=True)
    jobs.wait_idle(app)
    with app.app_context():
        db.engine.dispose()
