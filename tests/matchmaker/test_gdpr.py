"""AVG/GDPR: a member downloads everything about its organisation, and can be forgotten
while the aggregate history stays correct."""

import io
import json
import zipfile
from datetime import timedelta

import sqlalchemy as sa

from matchmaker.audit.models import AuditLog
from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.campaigns import services as campaigns
from matchmaker.extensions import db
from matchmaker.members.models import Organisation
from matchmaker.models import utcnow

from .conftest import PASSWORD
from .test_campaign_support import Buy


def test_a_member_downloads_all_data_about_its_organisation(make, auth, client):
    user = make.user(Role.MEMBER)
    site = make.site(user.organisation, street="Kanaalstraat", bag_id="0106010000000777")
    make.demand(site, "fibre", 1)
    other = make.site(make.organisation("Buurman"), street="Elders")
    make.demand(other, "fibre", 1)
    auth.login(user)
    response = client.get("/organisation/data.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {"data.json", "organisation.csv", "sites.csv", "demand.csv", "audit_log.csv"} <= set(
        archive.namelist())
    data = json.loads(archive.read("data.json"))
    assert data["users"][0]["email"] == user.email
    assert "password_hash" not in data["users"][0]
    assert [s["street"] for s in data["sites"]] == ["Kanaalstraat"]
    assert data["sites"][0]["bag_id"] == "0106010000000777"
    assert "Buurman" not in archive.read("data.json").decode()
    assert any(e["action"] == "user.login" for e in data["audit_log"])


def test_erasure_removes_personal_data_but_keeps_the_totals(app, make, auth, client):
    buy = Buy(make)
    user, site = buy.member("120")
    neighbour, neighbour_site = buy.member("80")
    campaign = buy.open(buy.campaign())
    buy.join(campaign, user, site, "120")
    buy.join(campaign, neighbour, neighbour_site, "80")
    volume_before = campaigns.progress(campaign).volume
    org_id, email = user.organisation_id, user.email
    auth.login(user)
    refused = client.post("/organisation/erase", data={"confirm_name": "wrong"})
    assert refused.status_code == 422
    erased = client.post("/organisation/erase",
                         data={"confirm_name": user.organisation.name})
    assert erased.status_code == 302
    org = db.session.get(Organisation, org_id)
    assert org.erased_at is not None and org.name.startswith("Verwijderd")
    assert org.contact_email == "" and org.sites[0].street == "" and org.sites[0].bag_id is None
    assert db.session.scalar(sa.select(User).where(User.email == email)) is None
    assert auth.login(email, PASSWORD).status_code == 422  # the account is closed
    # A company that is gone no longer counts in a running group buy (issue 13): its
    # registration is withdrawn, the others' stays, and its demand no longer counts either.
    assert campaigns.progress(campaign).volume == volume_before - 120
    assert [p.state.value for p in campaign.participations
            if p.site.organisation_id == org_id] == ["withdrawn"]
    assert {d.stage.value for s in org.sites for d in s.demands} == {"withdrawn"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "organisation.erase")) == 1


def test_erasure_moves_sites_off_their_building_but_keeps_them_in_their_areas(make, auth,
                                                                            client):
    """The erased site's point and the fibre history's row for it: within 250 m, in the same
    park (the park's edge is 10 m east of the building), and no BAG id left; the audit log
    keeps the actions without their personal details."""
    from shapely.geometry import Point, box

    from matchmaker.fibre import services as fibre
    from matchmaker.fibre.models import FibreSnapshotUnit
    from matchmaker.register.models import AreaKind

    park = make.area("Randpark", AreaKind.PARK, box(232000, 556000, 233110, 557000))
    user = make.user(Role.MEMBER)
    site = make.site(user.organisation, x=233100.0, y=556510.0, bag_id="0106010000000777")
    make.demand(site, "fibre", 1)
    fibre.take_snapshot(fibre.today())
    record(user, "site.create", site, address=site.address)
    record(user, "user.email", user, old="oud@example.org", new=user.email)
    auth.login(user)
    assert client.post("/organisation/erase", data={
        "confirm_name": user.organisation.name}).status_code == 302
    db.session.expire_all()
    assert (site.x, site.y) != (233100.0, 556510.0)
    assert abs(site.x - 233100.0) < 250 and abs(site.y - 556510.0) < 250
    assert park.geometry.covers(Point(site.x, site.y))
    [unit] = db.session.scalars(sa.select(FibreSnapshotUnit))
    assert unit.unit_key == f"site-{site.id}" and (unit.x, unit.y) == (site.x, site.y)
    # The park's fibre count is unchanged, now from the coarse point.
    units = fibre.snapshot_units([fibre.today()])
    assert park.geometry.covers(Point(units["x"].iloc[0], units["y"].iloc[0]))
    # The audit log still says who did what, but no longer the address or e-mail addresses.
    entries = {a.action: a.detail for a in db.session.scalars(sa.select(AuditLog))}
    assert entries["site.create"] == {} and entries["user.email"] == {}


def test_purge_applies_the_retention_periods(base_app, app, make, runner):
    old = AuditLog(action="x", object_type="t", object_id="1",
                   at=utcnow() - timedelta(days=2000))
    recent = AuditLog(action="y", object_type="t", object_id="2", at=utcnow())
    db.session.add_all([old, recent])
    db.session.flush()
    result = runner.invoke("purge")
    assert result.exit_code == 0, result.output
    actions = set(db.session.scalars(sa.select(AuditLog.action)))
    assert "y" in actions and "x" not in actions
