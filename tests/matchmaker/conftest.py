"""App fixtures: every database test runs on SQLite and on PostgreSQL, rolled back per test.

The schema comes from the real migrations (``flask db upgrade``), so the tests also prove that
the migrations build what the models describe. PostgreSQL runs at 127.0.0.1:5432 with trust
auth (user ``postgres``); the suite creates and drops its own database. Set
``MATCHMAKER_TEST_DATABASES=sqlite`` to run on SQLite alone.
"""

from __future__ import annotations

import contextvars
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy.orm import scoped_session, sessionmaker

from matchmaker import create_app
from matchmaker.auth.models import Role, User
from matchmaker.auth.passwords import hash_password
from matchmaker.cli import main
from matchmaker.demand.models import Demand, Product, Stage
from matchmaker.extensions import db
from matchmaker.members.models import LegalForm, LocationSource, Organisation, Site, Tenure
from matchmaker.register.models import AddressRecord, Area, AreaKind

PG_ADMIN_URL = os.environ.get("MATCHMAKER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASES = [d.strip() for d in os.environ.get(
    "MATCHMAKER_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()]
PASSWORD = "Zonnedak-Assen-42"


def app_config(url: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "INSTANCE_PATH": instance,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "PASSWORD_TIME_COST": 1,
        "PASSWORD_MEMORY_COST_KIB": 64,
        "DEMO_MODE": False,
        # One rolled-back connection per test: jobs run at once in the caller (the worker
        # thread and RQ have their own tests on committed databases).
        "JOB_QUEUE": "inline",
        **extra,
    }


@contextmanager
def new_database(like: str, folder: Path, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database of the kind ``like`` names ("sqlite" or "postgresql",
    or a URL): a file in ``folder``, or a database on the test server dropped afterwards."""
    if like.startswith("sqlite"):
        yield f"sqlite:///{folder / f'{prefix}.sqlite3'}"
        return
    name = f"matchmaker_{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    with new_database(request.param, tmp_path_factory.mktemp("sqlite"), "test") as url:
        yield url


_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("isolated_client", default=False)


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as on a real server thread.

    Flask reuses an application context that is already pushed (the tests push one for their
    factories), which would share ``g`` and the database session between requests. Afterwards
    the test's own session is expired so it sees what the request committed. Streamed bodies
    are read before the context ends.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # A streamed body (CSV exports) is read inside the request's context, as a server does.
        kwargs.setdefault("buffered", True)
        if _INSIDE.get():  # a redirect followed from inside a request's own context
            return super().open(*args, **kwargs)

        def run() -> Any:
            _INSIDE.set(True)
            return super(IsolatedClient, self).open(*args, **kwargs)

        response = contextvars.Context().run(run)
        db.session.expire_all()
        return response

    def get_streamed(self, path: str, *, before_body: Callable[[], Any] = lambda: None
                     ) -> tuple[Any, str]:
        """GET ``path`` as a server does: the response (status and headers) first, then its
        body read in the same context; ``before_body()`` runs in between. Returns the
        response and the body as text."""

        def run() -> tuple[Any, str]:
            _INSIDE.set(True)
            response = super(IsolatedClient, self).open(path, buffered=False)
            before_body()
            return response, response.get_data(as_text=True)

        result = contextvars.Context().run(run)
        db.session.expire_all()
        return result


@pytest.fixture(scope="session")
def base_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(app_config(database_url, str(tmp_path_factory.mktemp("instance"))))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(base_app: Flask) -> Iterator[Flask]:
    """The app with every session bound to one connection whose transaction is rolled back.

    Views commit as in production; with ``create_savepoint`` a commit only releases a
    savepoint, so each test starts from the migrated, seeded database.
    """
    with base_app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        original = db.session
        db.session = scoped_session(factory, scopefunc=_app_ctx_id)
        try:
            yield base_app
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Cli:
    """``matchmaker ARGS`` run in-process against the test app (as the Flask tutorial's
    ``runner`` fixture), through the real top-level command group."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.runner = CliRunner()

    def invoke(self, *args: str, app: Flask | None = None) -> Result:
        target = app or self.app
        return self.runner.invoke(main, list(args), obj=ScriptInfo(create_app=lambda: target))


@pytest.fixture
def runner(app: Flask) -> Cli:
    return Cli(app)


@pytest.fixture
def dialect(app: Flask) -> str:
    return db.engine.dialect.name


# --- factories -------------------------------------------------------------------------------

class Factory:
    """Builds rows directly (fast, no HTTP); tests of behaviour go through views or services."""

    def __init__(self) -> None:
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def area(self, name: str, kind: AreaKind, polygon: Any) -> Area:
        area = Area(name=name, kind=kind)
        area.geometry = polygon
        db.session.add(area)
        db.session.flush()
        return area

    def organisation(self, name: str | None = None, **kw: Any) -> Organisation:
        n = self._next()
        org = Organisation(name=name or f"Bedrijf {n}", kvk_number=kw.pop("kvk_number", f"{n:08d}"),
                           legal_form=kw.pop("legal_form", LegalForm.BV), **kw)
        db.session.add(org)
        db.session.flush()
        return org

    def user(self, role: Role = Role.MEMBER, *, organisation: Organisation | None = None,
             email: str | None = None, **kw: Any) -> User:
        n = self._next()
        if role == Role.MEMBER and organisation is None:
            organisation = self.organisation()
        user = User(email=email or f"user{n}@example.org", password_hash=hash_password(PASSWORD),
                    role=role, organisation=organisation, name=f"User {n}", **kw)
        db.session.add(user)
        db.session.flush()
        return user

    def address(self, postcode: str, number: int, addition: str = "", *, x: float = 233900.0,
                y: float = 556800.0, use: str = "kantoorfunctie", street: str = "Teststraat",
                bag_id: str | None = None) -> AddressRecord:
        n = self._next()
        rec = AddressRecord(id=bag_id or f"0106010{n:09d}", postcode=postcode, house_number=number,
                            addition=addition, street=street, city="Assen", use=use, x=x, y=y)
        db.session.add(rec)
        db.session.flush()
        return rec

    def site(self, organisation: Organisation, *, x: float = 233900.0, y: float = 556800.0,
             **kw: Any) -> Site:
        n = self._next()
        site = Site(organisation=organisation, postcode=kw.pop("postcode", "9401 AA"),
                    house_number=kw.pop("house_number", n), street=kw.pop("street", "Teststraat"),
                    city="Assen", x=x, y=y, location_source=LocationSource.REGISTER,
                    tenure=kw.pop("tenure", Tenure.OWNER), **kw)
        db.session.add(site)
        db.session.flush()
        return site

    def demand(self, site: Site, code: str, quantity: str | int, **kw: Any) -> Demand:
        product = db.session.scalar(sa.select(Product).where(Product.code == code))
        demand = Demand(site=site, product=product, quantity=Decimal(str(quantity)),
                        stage=kw.pop("stage", Stage.INTEREST), **kw)
        db.session.add(demand)
        db.session.flush()
        return demand


@pytest.fixture
def make(app: Flask) -> Factory:
    return Factory()


class Auth:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, user: User | str, password: str = PASSWORD) -> Any:
        email = user if isinstance(user, str) else user.email
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self) -> Any:
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


def _text_of(response: Any) -> str:
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.fixture
def text_of() -> Any:
    """The visible text of an HTML response, whitespace collapsed (for readable assertions)."""
    return _text_of
