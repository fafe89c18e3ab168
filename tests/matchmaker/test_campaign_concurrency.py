"""Concurrent requests against a real, freshly migrated database with real commits (the
per-test rollback fixture shares one connection, so it cannot show races): many members
joining at once, a double submit for one site, and joins racing the registration deadline.
Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from matchmaker import create_app
from matchmaker.audit.models import AuditLog
from matchmaker.campaigns import services
from matchmaker.campaigns.models import Campaign, Participation
from matchmaker.campaigns.timing import database_time
from matchmaker.database import write_intent
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind, Outbox

from .conftest import PASSWORD, Factory, app_config, new_database
from .test_campaign_support import Buy


@pytest.fixture(scope="module")
def fresh_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app on its own new database, migrated to all heads; requests commit for real."""
    with new_database(database_url, tmp_path_factory.mktemp("concurrency"), "race") as url:
        app = create_app(app_config(url, str(tmp_path_factory.mktemp("instance"))))
        with app.app_context():
            upgrade(revision="heads")
            db.session.remove()
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


_scenarios = iter(range(1, 1_000))


def committed(app: Flask, build: Callable[[Buy], Any]) -> Any:
    """Run ``build`` with a fresh Buy in one committed write transaction; returns its ids.

    The module shares one database, so each scenario numbers its rows (e-mail addresses,
    KvK numbers, the park's name) from its own offset.
    """
    scenario = next(_scenarios)
    with app.app_context(), write_intent():
        make = Factory()
        make.n = scenario * 1000
        result = build(Buy(make, prefix=f"s{scenario}-", park=f"Park {scenario}"))
        db.session.commit()
        db.session.remove()
        return result


def setup_campaign(app: Flask, members: int, **campaign: Any) -> dict[str, Any]:
    def build(buy: Buy) -> dict[str, Any]:
        people = [buy.member("10") for _ in range(members)]
        c = buy.open(buy.campaign(**campaign), suppliers=[])
        return {"campaign": c.id, "people": [(u.email, s.id) for u, s in people],
                "coordinator": buy.coordinator.id}
    return committed(app, build)


def logged_in(app: Flask, email: str) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start all calls at the same moment (a barrier), each in its own thread."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(isinstance(r, BaseException) for r in results), results
    return results


def join_call(client: Any, campaign: int, site: int, quantity: str,
              delay: float = 0.0) -> Callable[[], int]:
    def call() -> int:
        if delay:
            time.sleep(delay)
        response = client.post(f"/campaigns/{campaign}/sites/{site}/join",
                               data={f"s{site}-quantity": quantity})
        return response.status_code
    return call


def test_eight_members_join_at_once(fresh_app):
    ids = setup_campaign(fresh_app, 8, threshold_quantity="30")
    quantities = [f"{10 + i},5" for i in range(8)]
    clients = [logged_in(fresh_app, email) for email, _site in ids["people"]]
    statuses = in_parallel([join_call(c, ids["campaign"], site, q) for c, (_e, site), q
                            in zip(clients, ids["people"], quantities, strict=True)])
    assert statuses == [302] * 8
    with fresh_app.app_context():
        campaign = db.session.get(Campaign, ids["campaign"])
        rows = list(db.session.scalars(sa.select(Participation.quantity).where(
            Participation.campaign_id == campaign.id)))
        expected = sum((Decimal(q.replace(",", ".")) for q in quantities), Decimal(0))
        assert len(rows) == 8 and sum(rows, Decimal(0)) == expected
        assert services.progress(campaign).volume == expected  # totals = sum of the rows
        # The threshold (30) was crossed once, however the joins interleaved.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
            AuditLog.action == "campaign.threshold_reached",
            AuditLog.object_id == str(campaign.id))) == 1
        threshold_mails = db.session.scalars(sa.select(Outbox.recipient).where(
            Outbox.kind == MailKind.THRESHOLD, Outbox.topic == f"campaign:{campaign.id}")).all()
        assert len(threshold_mails) == len(set(threshold_mails)) >= 2


def test_the_same_site_twice_at_once_makes_one_participation(fresh_app):
    ids = setup_campaign(fresh_app, 1)
    email, site = ids["people"][0]
    clients = [logged_in(fresh_app, email) for _ in range(2)]
    statuses = in_parallel([join_call(c, ids["campaign"], site, q)
                            for c, q in zip(clients, ("11", "12"), strict=True)])
    assert 302 in statuses and set(statuses) <= {302, 409}
    with fresh_app.app_context():
        rows = db.session.scalars(sa.select(Participation).where(
            Participation.campaign_id == ids["campaign"])).all()
        assert len(rows) == 1 and rows[0].quantity in (Decimal(11), Decimal(12))


def test_joins_racing_the_deadline_are_decided_by_the_database_clock(fresh_app):
    ids = setup_campaign(fresh_app, 8)
    clients = [logged_in(fresh_app, email) for email, _site in ids["people"]]
    with fresh_app.app_context(), write_intent():
        campaign = db.session.get(Campaign, ids["campaign"])
        deadline = database_time() + timedelta(seconds=1.5)
        campaign.registration_deadline = deadline
        db.session.commit()
        db.session.remove()
    delays = [0.0, 0.1, 0.2, 0.3, 2.4, 2.5, 2.6, 2.7]  # around the deadline, 1.5 s from now
    statuses = in_parallel([join_call(c, ids["campaign"], site, "10", delay)
                            for c, (_e, site), delay in zip(clients, ids["people"], delays,
                                                            strict=True)])
    assert statuses == [302] * 4 + [409] * 4
    with fresh_app.app_context():
        joined = db.session.scalars(sa.select(Participation.joined_at).where(
            Participation.campaign_id == ids["campaign"])).all()
        assert len(joined) == 4 and all(at < deadline for at in joined)


def _postgresql_only(app: Flask) -> None:
    """Interleaving two requests inside one thread needs row locks: on SQLite the first write
    transaction (BEGIN IMMEDIATE) would simply make the second wait, which a single thread
    cannot show."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE")


def test_cancel_committed_first_stops_a_go_decision_that_read_the_old_state(fresh_app):
    _postgresql_only(fresh_app)
    from matchmaker.auth.models import User
    from matchmaker.campaigns.models import CampaignState
    from matchmaker.errors import Conflict

    def build(buy: Buy) -> tuple[int, int]:
        user, site = buy.member("400")
        campaign, _bid = buy.offered([(user, site, "400")])
        services.accept_offer(campaign.participations[0].offer, actor=user)
        return campaign.id, buy.coordinator.id

    campaign_id, coordinator_id = committed(fresh_app, build)
    with fresh_app.app_context(), write_intent():  # request A: the go/no-go page was loaded
        stale = db.session.get(Campaign, campaign_id)
        assert stale.state == CampaignState.OFFERED and stale.awarded_bid is not None
        with fresh_app.app_context(), write_intent():  # request B: cancel, committed first
            services.cancel_campaign(db.session.get(Campaign, campaign_id),
                                     actor=db.session.get(User, coordinator_id),
                                     reason="Leverancier failliet")
            db.session.commit()
        with pytest.raises(Conflict):
            services.decide(stale, actor=db.session.get(User, coordinator_id))
        db.session.rollback()
    with fresh_app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign.state == CampaignState.CANCELLED
        kinds = {kind for (kind,) in db.session.execute(
            sa.select(Outbox.kind).where(Outbox.topic == f"campaign:{campaign_id}"))}
        assert MailKind.CANCELLATION in kinds
        decided = db.session.scalar(sa.select(sa.func.count()).select_from(Outbox).where(
            Outbox.topic == f"campaign:{campaign_id}", Outbox.dedupe_key.like("decision:%")))
        assert decided == 0  # nobody was told "it goes ahead"
        db.session.remove()


def test_a_withdrawal_committed_first_gets_no_offer_at_the_award(fresh_app):
    _postgresql_only(fresh_app)
    from matchmaker.auth.models import User
    from matchmaker.campaigns.models import Bid, ParticipationState

    def build(buy: Buy) -> tuple[int, int, int, int, int]:
        big, big_site = buy.member("400")
        small, small_site = buy.member("50")
        campaign = buy.open(buy.campaign(late=True))
        buy.join(campaign, big, big_site, "400")
        buy.join(campaign, small, small_site, "50")
        buy.close(campaign)
        bid = buy.bid(campaign, buy.suppliers[0])
        return campaign.id, bid.id, buy.coordinator.id, small.id, small_site.id

    campaign_id, bid_id, coordinator_id, small_id, small_site = committed(fresh_app, build)
    with fresh_app.app_context(), write_intent():  # request A: award; the page read the sites
        campaign = db.session.get(Campaign, campaign_id)
        assert all(p.active for p in campaign.participations)
        with fresh_app.app_context(), write_intent():  # request B: the member withdraws first
            mine = db.session.scalar(sa.select(Participation).where(
                Participation.site_id == small_site))
            services.withdraw_participation(mine, actor=db.session.get(User, small_id))
            db.session.commit()
        services.award_bid(campaign, db.session.get(Bid, bid_id),
                           actor=db.session.get(User, coordinator_id))
        db.session.commit()
    with fresh_app.app_context():
        mine = db.session.scalar(sa.select(Participation).where(
            Participation.site_id == small_site))
        assert mine.state == ParticipationState.WITHDRAWN and mine.offer is None
        db.session.remove()
