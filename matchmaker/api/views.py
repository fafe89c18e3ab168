"""The provider API (``/api/v1``): bearer tokens, JSON, GeoJSON and CSV, rate-limited.

Only a token authorises a request; a browser session does not (no cookies, no CSRF). Errors
are JSON. A provider sees its own checks only; another provider's check is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _

from matchmaker.api import services
from matchmaker.api.openapi import openapi_document
from matchmaker.database import set_write_intent, writes
from matchmaker.extensions import db, limiter
from matchmaker.fibre import services as fibre
from matchmaker.fibre.exports import (
    address_rows,
    addresses_csv,
    progress_download,
    progress_rows,
)
from matchmaker.fibre.models import FibreCheck
from matchmaker.web.paging import page_number

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def rate_limit_key() -> str:
    """Per token (its hash) for a token we issued, so providers behind one address do not
    share a limit; per client address for everything else — a request without a token and,
    above all, one with an unknown token, or every guess would start a fresh count."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if token and services.is_issued(token):
        return "token:" + services.token_hash(token)[:24]
    return "ip:" + (request.remote_addr or "")


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=rate_limit_key)(bp)


def _unauthorised(message: str) -> Response:
    response = jsonify({"error": "unauthorized", "message": message})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="matchmaker"'
    return response


@bp.before_request
def authenticate() -> Response | None:
    set_write_intent(True)  # a call may take the day's snapshot (fibre.services.refresh)
    if request.endpoint == "api.openapi":
        return None
    header = request.headers.get("Authorization", "")
    if not header:
        return _unauthorised(_("Send an API token: Authorization: Bearer <token>."))
    scheme, _sep, token = header.partition(" ")
    row = services.authenticate(
        token.strip(), demo_mode=current_app.config["DEMO_MODE"]) if scheme.lower() == "bearer" else None
    if row is None:
        return _unauthorised(_("This API token is unknown or revoked."))
    g.api_user = row.user
    return None


def _check(check_id: int) -> FibreCheck:
    check = db.get_or_404(FibreCheck, check_id)
    if not fibre.can_see(check, g.api_user):
        abort(404)
    return check


def _summary(check: FibreCheck) -> dict[str, Any]:
    return {
        "id": check.id, "title": check.title,
        "threshold_percent": float(check.threshold_percent)
        if check.threshold_percent is not None else None,
        "threshold_count": check.threshold_count,
        "counted_uses": check.uses, "grouping": check.grouping.value,
        "deadline": check.deadline.isoformat(timespec="seconds"),
        "regions": [{"region_id": r.id, "name": r.name, "area_id": r.area_id}
                    for r in check.regions],
    }


@bp.route("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


PER_PAGE, MAX_PER_PAGE = 50, 200


def _per_page() -> int:
    per_page = request.args.get("per_page", PER_PAGE, type=int)
    if not 1 <= per_page <= MAX_PER_PAGE:
        abort(400)
    return per_page


def _paged(key: str, items: list[Any], *, page: int, per_page: int, total: int,
           endpoint: str, **values: Any) -> dict[str, Any]:
    """Every list of the API in one shape: the items under ``key`` with ``page``,
    ``per_page``, ``total`` and ``links`` to this and the neighbouring pages."""
    last = max(1, -(-total // per_page))

    def link(number: int | None) -> str | None:
        return None if number is None else url_for(endpoint, page=number, per_page=per_page,
                                                   **values)

    return {key: items, "page": page, "per_page": per_page, "total": total,
            "links": {"self": link(page), "next": link(page + 1 if page < last else None),
                      "prev": link(min(page - 1, last) if page > 1 else None)}}


@bp.route("/checks")
def checks() -> Response:
    """The checks, a page at a time, with links to the neighbouring pages."""
    per_page = _per_page()
    page = db.paginate(fibre.checks_query(g.api_user), page=page_number(), per_page=per_page,
                       error_out=False)
    return jsonify(_paged("checks", [_summary(c) for c in page.items], page=page.page,
                          per_page=per_page, total=page.total or 0, endpoint="api.checks"))


@bp.route("/checks/<int:check_id>")
@writes
def check(check_id: int) -> Response:
    item = _check(check_id)
    fibre.refresh()
    state = fibre.progress(item, trend_days=1)
    return jsonify({
        **_summary(item),
        "day": state.day.isoformat() if state.day else None,
        "progress": progress_rows(state),
        "excluded_addresses": fibre.exclusion_count(item),
    })


@bp.route("/checks/<int:check_id>/exclusions")
def exclusions(check_id: int) -> Response:
    """The addresses left out of the check's denominator, a page at a time."""
    item = _check(check_id)
    per_page = _per_page()
    page = db.paginate(fibre.exclusions_query(item), page=page_number(), per_page=per_page,
                       error_out=False)
    rows = [{"bag_id": e.address_id,
             "address": f"{e.address.street} {e.address.house_number}"
             f"{e.address.addition and '-' + e.address.addition}, {e.address.postcode}".strip(),
             "reason": e.reason.value, "note": e.note,
             "created_at": e.created_at.isoformat(timespec="seconds")} for e in page.items]
    return jsonify({"check_id": item.id, **_paged(
        "exclusions", rows, page=page.page, per_page=per_page, total=page.total or 0,
        endpoint="api.exclusions", check_id=item.id)})


@bp.route("/checks/<int:check_id>/progress")
@writes
def progress(check_id: int) -> Response:
    item = _check(check_id)
    fibre.refresh()
    state = fibre.progress(item)
    trend = {row.key: [{"day": p.day.isoformat(), "committed": p.committed,
                        "interested_not_signed": p.interest} for p in row.trend]
             for row in [*state.areas, *state.groups]}
    rows = progress_rows(state)
    for row, source in zip(rows, [*state.areas, *state.groups], strict=True):
        row["trend"] = trend.get(source.key, [])
    return jsonify({"check_id": item.id, "day": state.day.isoformat() if state.day else None,
                    "progress": rows})


@bp.route("/checks/<int:check_id>/progress.geojson")
@writes
def progress_geojson_view(check_id: int) -> Response:
    return progress_download(_check(check_id), "geojson")


@bp.route("/checks/<int:check_id>/progress.csv")
@writes
def progress_csv_view(check_id: int) -> Response:
    return progress_download(_check(check_id), "csv", keys=True)


@bp.route("/checks/<int:check_id>/addresses")
@writes
def addresses(check_id: int) -> Response:
    item = _check(check_id)
    per_page, page = _per_page(), page_number()
    rows, total = fibre.consented_address_page(item, actor=g.api_user, via="api",
                                               offset=(page - 1) * per_page, limit=per_page)
    return jsonify({"check_id": item.id, **_paged(
        "addresses", address_rows(rows), page=page, per_page=per_page, total=total,
        endpoint="api.addresses", check_id=item.id)})


@bp.route("/checks/<int:check_id>/addresses.csv")
@writes
def addresses_csv_view(check_id: int) -> Response:
    item = _check(check_id)
    rows = fibre.consented_addresses(item, actor=g.api_user, via="api-csv")
    return addresses_csv(item, rows, keys=True)
