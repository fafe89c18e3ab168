import sqlalchemy as sa

from matchmaker.auth.models import User
from matchmaker.campaigns.demo import DEMO_SUPPLIERS
from matchmaker.campaigns.models import Campaign, CampaignState, Offer, OfferStatus, Participation
from matchmaker.demand.models import Demand, Product
from matchmaker.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from matchmaker.extensions import db
from matchmaker.members.models import Organisation
from matchmaker.register.models import AddressRecord, Area


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_demo_data_loads_once_and_covers_every_product(base_app, app, auth, runner):
    first = runner.invoke("demo")
    assert first.exit_code == 0, first.output
    assert 1400 <= count(AddressRecord) <= 1700
    # The association's ~450: 384 companies, plus 66 that joined for fibre on the
    # Stadsbedrijvenpark (demo fibre check)
    assert count(Organisation) == 450
    assert count(Area) == 8
    per_product = dict(db.session.execute(
        sa.select(Product.code, sa.func.count(Demand.id)).join(Demand).group_by(Product.code)).all())
    assert set(per_product) == {"solar_roof", "insulation", "fibre", "shared_heat"}
    assert min(per_product.values()) >= 10

    second = runner.invoke("demo")
    assert second.exit_code == 0 and count(Organisation) == 450

    # Demo accounts that log in: one per role, plus two competing suppliers. The other demo
    # users are the participating companies' contacts, without a usable password.
    emails = set(db.session.scalars(sa.select(User.email).where(User.is_demo.is_(True))))
    assert set(DEMO_ACCOUNTS.values()) | set(DEMO_SUPPLIERS) <= emails
    assert all(u.password_hash == "!demo-contact" for u in db.session.scalars(
        sa.select(User).where(User.is_demo.is_(True), User.email.not_in(
            [*DEMO_ACCOUNTS.values(), *DEMO_SUPPLIERS]))))

    # One group buy in every state; the demo member has one to join and an offer to decide on.
    states = sorted(db.session.scalars(sa.select(Campaign.state)))
    assert states == sorted(CampaignState)
    member = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["member"]))
    open_campaign = db.session.scalar(sa.select(Campaign).where(
        Campaign.state == CampaignState.OPEN))
    assert member.organisation_id not in {p.site.organisation_id
                                          for p in open_campaign.participations}
    pending = db.session.scalars(sa.select(Offer).join(Offer.participation).join(
        Participation.site).where(Offer.status == OfferStatus.PENDING)).all()
    assert any(o.participation.site.organisation_id == member.organisation_id for o in pending)
    provider = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["provider"]))
    bidding = db.session.scalar(sa.select(Campaign).where(
        Campaign.state == CampaignState.BIDDING))
    assert provider.id in bidding.supplier_ids
    contracted = db.session.scalar(sa.select(Campaign).where(
        Campaign.state == CampaignState.CONTRACTED))
    assert contracted.awarded_bid.supplier_id == provider.id
    # Demo credentials are refused outside demo mode, and work in it.
    assert auth.login(DEMO_ACCOUNTS["member"], DEMO_PASSWORD).status_code == 422
    base_app.config["DEMO_MODE"] = True
    try:
        assert auth.login(DEMO_ACCOUNTS["member"], DEMO_PASSWORD).status_code == 302
        assert auth.client.get("/dashboard").status_code == 200
    finally:
        base_app.config["DEMO_MODE"] = False


def test_demo_fibre_check_has_one_park_passing_one_shown_below_and_a_trend(app):
    from matchmaker.demo import load_demo
    from matchmaker.fibre import services
    from matchmaker.fibre.models import FibreCheck

    load_demo()
    check = db.session.scalar(sa.select(FibreCheck))
    assert check.provider.email == DEMO_ACCOUNTS["provider"]
    rows = {r.name: r for r in services.progress(check).areas}
    assert rows["Stadsbedrijvenpark"].passes is True
    assert rows["Messchenveld"].passes is False  # shown, far below 30 %
    assert rows["Assen-Zuid"].committed is None  # too few members: hidden
    trend = [p.committed for p in rows["Stadsbedrijvenpark"].trend]
    assert len(trend) == 14 and trend == sorted(trend) and trend[0] < trend[-1]
    assert check.exclusions and services.consented_addresses(check, actor=check.provider,
                                                             via="web")


def test_demo_energy_and_heat_give_every_role_something_to_see(app):
    from matchmaker.demo import load_demo
    from matchmaker.energy import explain
    from matchmaker.energy import services as energy
    from matchmaker.heat import services as heat

    load_demo()
    run = energy.latest_run()
    assert run is not None and run.mode == "typical_day" and run.certificate["ok"]
    member = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["member"]))
    assert explain.member_matches(run, member.organisation)  # the member has matches to read
    assert run.explained  # and what would help, computed with the run
    analysis = heat.analyse()
    assert sorted(analysis.networks["viability"]) == ["critical", "good"]
    [critical] = [i for i, n in analysis.networks.iterrows() if n.viability == "critical"]
    assert analysis.tipping[int(critical)].candidates is not None
    mine = heat.networks_of(analysis, member.organisation)
    assert [entry["network"]["viability"] for entry in mine] == ["good"]


def test_demo_hub_is_analysed_with_metered_sites_and_waits_for_the_member(app):
    from matchmaker.demo import load_demo
    from matchmaker.hub.models import Hub, HubAnalysis, HubSite

    load_demo()
    hub = db.session.scalar(sa.select(Hub))
    analysis = db.session.scalar(sa.select(HubAnalysis).where(HubAnalysis.hub_id == hub.id))
    result = analysis.result
    assert analysis.status.value == "done" and result["measured"] >= 20
    assert result["group_peak_take_kw"] < result["sum_own_peak_take_kw"]  # simultaneity < 1
    assert {p["fits"] for p in result["plans"]} == {True, False}
    assert result["battery"]["feasible"] and result["matching"]["matched_kwh"] > 0
    member = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["member"]))
    mine = db.session.get(HubSite, (hub.id, member.organisation.sites[0].id))
    assert mine is not None and not mine.consent_profile  # the member decides in the demo
