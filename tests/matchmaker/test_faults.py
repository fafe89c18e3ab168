"""Concurrency and faults: many writers at once, and a database that goes away and returns."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from matchmaker import create_app
from matchmaker.auth.models import Role
from matchmaker.database import write_intent
from matchmaker.demand.models import Demand
from matchmaker.extensions import db

from .conftest import PASSWORD, Factory, app_config
from .test_campaign_concurrency import fresh_app  # noqa: F401  (module fixture)


def logged_in_client(app, email):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def test_eight_writers_at_once_all_succeed(fresh_app):  # noqa: F811
    """Eight members save demand at the same moment: every save lands, none sees an error
    (on SQLite: WAL, a busy timeout and BEGIN IMMEDIATE for writes)."""
    with fresh_app.app_context(), write_intent():
        make = Factory()
        make.n = 90_000
        members = []
        for _ in range(8):
            user = make.user(Role.MEMBER)
            members.append((user.email, make.site(user.organisation).id))
        db.session.commit()
        db.session.remove()
    clients = [(logged_in_client(fresh_app, email), site) for email, site in members]
    barrier = threading.Barrier(len(clients))

    def save(pair):
        client, site = pair
        barrier.wait()
        return client.post(f"/sites/{site}/demand/fibre",
                           data={"quantity": "1", "stage": "committed"}).status_code

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        statuses = list(pool.map(save, clients))
    assert statuses == [302] * 8
    with fresh_app.app_context():
        saved = db.session.scalar(sa.select(sa.func.count()).select_from(Demand).where(
            Demand.site_id.in_([site for _, site in members])))
        db.session.remove()
    assert saved == 8


def test_concurrent_edits_of_one_demand_have_one_winner(fresh_app):  # noqa: F811
    with fresh_app.app_context(), write_intent():
        make = Factory()
        make.n = 91_000
        user = make.user(Role.MEMBER)
        site = make.site(user.organisation)
        demand = make.demand(site, "insulation", 100)
        seen = demand.version
        email, site_id, demand_id = user.email, site.id, demand.id
        db.session.commit()
        db.session.remove()
    clients = [logged_in_client(fresh_app, email) for _ in range(4)]
    barrier = threading.Barrier(len(clients))

    def edit(args):
        client, quantity = args
        barrier.wait()
        return client.post(f"/sites/{site_id}/demand/insulation", data={
            "quantity": quantity, "stage": "interest", "version": seen}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(edit, zip(clients, ["110", "120", "130", "140"], strict=True)))
    assert sorted(statuses) == [302, 409, 409, 409]
    with fresh_app.app_context():
        assert db.session.get(Demand, demand_id).version == seen + 1
        db.session.remove()


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut and restored: the database 'goes down'."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.links: list[socket.socket] = []
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up.clear()
        for link in self.links:
            try:
                link.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            link.close()
        self.links.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_a_database_that_goes_down_gives_503_and_the_app_recovers(base_app, database_url,
                                                                   tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("the embedded SQLite database cannot go down separately")
    name = database_url.rsplit("/", 1)[1]
    proxy = Proxy()
    proxy.restore()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{name}"
    app = create_app(app_config(url, str(tmp_path), SQLALCHEMY_ENGINE_OPTIONS={
        "pool_pre_ping": True, "connect_args": {"connect_timeout": 2}}))
    client = app.test_client()
    try:
        assert client.get("/ready").status_code == 200
        proxy.cut()
        down = client.get("/ready")
        assert down.status_code == 503 and down.json["checks"]["database"] == "unreachable"
        assert client.get("/health").status_code == 200  # alive without its database
        page = client.get("/register")  # lists the kringen from the database
        assert page.status_code == 503 and "tijdelijk niet beschikbaar" in page.get_data(
            as_text=True)
        proxy.restore()
        assert client.get("/ready").status_code == 200  # no restart needed
        assert client.get("/register").status_code == 200
    finally:
        proxy.close()
        with app.app_context():
            db.engine.dispose()


def test_pages_that_write_on_get_start_a_write_transaction(app):
    """GET pages that record an audit entry or the day's snapshot start as write transactions
    (BEGIN IMMEDIATE on SQLite), like every POST; plain pages stay read transactions."""
    from matchmaker.database import _write_intent

    for path, writes in (("/fibre/checks/1", True), ("/api/v1/checks/1/addresses", True),
                         ("/organisation/data.zip", True), ("/coordinator/demand", False),
                         ("/login", False)):
        with app.test_request_context(path):
            app.preprocess_request()
            assert _write_intent.get() is writes, path
