"""Concurrent requests against a real, freshly migrated database with real commits (the
per-test rollback fixture shares one connection, so it cannot show races): many members
joining at once, a double submit for one site, and joins racing the registration deadline.
Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
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

from .conftest import PASSWORD, PG_ADMIN_URL, Factory, app_config
from .test_campaign_support import Buy


@pytest.fixture(scope="module")
def fresh_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app on its own new database, migrated to all heads; requests commit for real."""
    name = None
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('concurrency') / 'race.sqlite3'}"
    else:
        name = f"matchmaker_race_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = database_url.rsplit("/", 1)[0] + "/" + name
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
        if name:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    quantities = [f"{10 + i}.5" for i in range(8)]
    clients = [logged_in(fresh_app, email) for email, _site in ids["people"]]
    statuses = in_parallel([join_call(c, ids["campaign"], site, q) for c, (_e, site), q
                            in zip(clients, ids["people"], quantities, strict=True)])
    assert statuses == [302] * 8
    with fresh_app.app_context():
        campaign = db.session.get(Campaign, ids["campaign"])
        rows = list(db.session.scalars(sa.select(Participation.quantity).where(
            Participation.campaign_id == campaign.id)))
        expected = sum((Decimal(q) for q in quantities), Decimal(0))
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
