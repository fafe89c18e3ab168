"""The Flask application: ``create_app`` wires extensions, blueprints, errors and the CLI.

Importing the package imports nothing but the standard library: every ``matchmaker.x``
import runs this file first, and the command line must print its help without Flask's
extensions or SQLAlchemy (tests/matchmaker/test_cli_startup.py). ``create_app`` and its
``register_*`` steps import what they wire.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from flask import Flask

    from matchmaker.config import load_config
    from matchmaker.web.routing import IdConverter

    app = Flask(
        __name__,
        instance_path=str((config or {}).get("INSTANCE_PATH", ROOT / "instance")),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(load_config(app.instance_path, config))
    app.url_map.converters["int"] = IdConverter
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_extensions(app)
    register_blueprints(app)
    register_operations(app)  # before the other hooks: its request log runs last
    register_request_hooks(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from matchmaker.database import configure_engine
    from matchmaker.extensions import babel, csrf, db, limiter, login_manager, migrate
    from matchmaker.i18n import select_locale
    from matchmaker.types import render_migration_type

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True, render_item=render_migration_type)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    login_manager.init_app(app)
    # Importing the models registers them on the metadata (for Alembic and create_all in tests).
    from matchmaker import all_models  # noqa: F401
    from matchmaker.auth import login  # noqa: F401  (user loader)


def register_blueprints(app: Flask) -> None:
    from matchmaker.admin.views import bp as admin_bp
    from matchmaker.api.views import bp as api_bp
    from matchmaker.auth.views import bp as auth_bp
    from matchmaker.bundles.views import bp as bundles_bp
    from matchmaker.campaigns.views import bp as campaigns_bp
    from matchmaker.demand.views import bp as demand_bp
    from matchmaker.energy.views import bp as energy_bp
    from matchmaker.extensions import csrf
    from matchmaker.fibre.views import bp as fibre_bp
    from matchmaker.heat.views import bp as heat_bp
    from matchmaker.hub.views import bp as hub_bp
    from matchmaker.mail.views import bp as mail_bp
    from matchmaker.main.views import bp as main_bp
    from matchmaker.members.views import bp as members_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(demand_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(bundles_bp)
    app.register_blueprint(energy_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(mail_bp)
    app.register_blueprint(fibre_bp)
    app.register_blueprint(heat_bp)
    app.register_blueprint(hub_bp)
    # The API authenticates with bearer tokens, never with the session cookie: no CSRF.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)


def register_operations(app: Flask) -> None:
    from matchmaker.ops import register

    register(app)


def register_request_hooks(app: Flask) -> None:
    from flask import abort, request

    from matchmaker.database import begin_unit_of_work, set_write_intent, was_refused
    from matchmaker.extensions import db

    @app.before_request
    def declare_write_intent() -> None:
        begin_unit_of_work()
        view = app.view_functions.get(request.endpoint or "")
        set_write_intent(request.method not in SAFE_METHODS or getattr(view, "writes", False))

    @app.before_request
    def refuse_control_characters() -> None:
        """No text a person types holds a NUL byte; PostgreSQL would refuse it deep inside a
        transaction, so refuse it at the door (uploaded files are read as files, not here)."""
        values = [*request.args.values()]
        if request.method not in SAFE_METHODS and request.mimetype in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            values += request.form.values()
        if any("\x00" in value for value in values):
            abort(400)

    @app.after_request
    def commit_at_the_edge(response: Any) -> Any:
        """One transaction per request: commit what succeeded; roll back every 4xx/5xx and
        every request in which a service refused something (see ``mark_refused``)."""
        if response.status_code < 400 and not was_refused():
            db.session.commit()
        else:
            db.session.rollback()
        return response


def register_error_handlers(app: Flask) -> None:
    from matchmaker.main.errors import register

    register(app)


def register_security_headers(app: Flask) -> None:
    from matchmaker.security import register_headers

    register_headers(app)


def register_template_helpers(app: Flask) -> None:
    from matchmaker.web.templating import register

    register(app)


def register_commands(app: Flask) -> None:
    from matchmaker.cli import register

    register(app)
