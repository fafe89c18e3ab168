from __future__ import annotations

import sqlalchemy as sa
import xstatic.pkg.leaflet
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user, login_required

from matchmaker.auth.decorators import role_required
from matchmaker.auth.forms import LanguageForm
from matchmaker.auth.models import Role
from matchmaker.auth.services import set_locale
from matchmaker.demand import services as demand_services
from matchmaker.demand.models import Product
from matchmaker.extensions import db
from matchmaker.register.models import Area
from matchmaker.web.geojson import geojson_response

bp = Blueprint("main", __name__)

HOME_BY_ROLE = {
    Role.MEMBER: "members.dashboard",
    Role.COORDINATOR: "demand.overview",
    Role.ADMIN: "demand.overview",
    Role.PROVIDER: "main.provider_home",
}


@bp.route("/")
def index() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for(HOME_BY_ROLE[current_user.role]))
    return render_template("main/index.html")


@bp.route("/language", methods=["POST"])
def language() -> Response:
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            set_locale(current_user, form.lang.data)
    target = request.referrer or url_for("main.index")
    if not target.startswith(request.host_url):
        target = url_for("main.index")
    return redirect(target)


@bp.route("/vendor/leaflet/<path:filename>")
def leaflet(filename: str) -> Response:
    """Leaflet from the XStatic-Leaflet package: maps work without a CDN."""
    return send_from_directory(xstatic.pkg.leaflet.BASE_DIR, filename, max_age=7 * 24 * 3600)


@bp.route("/areas.geojson")
@login_required
def areas_geojson() -> Response:
    areas = list(db.session.scalars(sa.select(Area).order_by(Area.id)))
    return geojson_response([a.geometry for a in areas], [
        {"id": a.id, "name": a.name, "kind": a.kind.value} for a in areas])


@bp.route("/provider")
@role_required(Role.PROVIDER, Role.COORDINATOR, Role.ADMIN)
def provider_home() -> str:
    """Aggregated demand per park and product, under the disclosure rule (no addresses)."""
    products = demand_services.products()
    return render_template("main/provider.html", table=demand_services.demand_per_park(products),
                           products=products, locale=str(get_locale()),
                           demo=current_app.config["DEMO_MODE"])


@bp.route("/products.css")
def products_css() -> Response:
    """Product colours are data; a stylesheet keeps them out of inline styles (CSP)."""
    rules = [
        f'[data-product="{p.code}"]{{--product-color:{p.color}}}'
        for p in db.session.scalars(sa.select(Product))
        if _is_hex_colour(p.color)
    ]
    return Response("\n".join(rules), mimetype="text/css", headers={"Cache-Control": "max-age=300"})


def _is_hex_colour(value: str) -> bool:
    return len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in value[1:])
