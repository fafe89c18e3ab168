"""The OpenAPI 3 document of the provider API, served at ``/api/v1/openapi.json``.

Kept by hand next to the views; ``tests/matchmaker/test_api_openapi.py`` runs schemathesis
against the app so that every documented response matches the real one.
"""

from __future__ import annotations

from typing import Any

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "nullable": True, **extra}


#: One name and one type per concept, everywhere in the API: ``region_id`` (integer) is a
#: region of a fibre check (an area as the check froze it; regions are shared by checks),
#: ``area_id`` (integer) an area of the register (parks, kringen, postcode areas) a region was
#: taken from, ``check_id`` a check. Every list comes a page at a time (``Page`` below).
REGION_ID = {"type": "integer", "minimum": 1,
             "description": "a region of a fibre check (see the check's regions)"}
AREA_ID = {"type": "integer", "minimum": 1, "nullable": True,
           "description": "the register area the region was taken from; null for a drawn one"}

PROGRESS_ROW = {
    "type": "object",
    "required": ["region_id", "region_ids", "kind", "name", "addresses", "excluded",
                 "committed", "interested_not_signed", "percent", "threshold_addresses",
                 "still_needed", "passes", "hidden", "deciding", "passed_on", "day"],
    "properties": {
        "region_id": {**REGION_ID, "nullable": True,
                      "description": "the region of a 'region' row; null for a group"},
        "region_ids": {"type": "array", "items": REGION_ID,
                       "description": "the regions the row counts (one for a 'region' row)"},
        "kind": {"type": "string", "enum": ["region", "group"],
                 "description": "one region of the check, or a group of its regions"},
        "name": {"type": "string"},
        "addresses": {"type": "integer", "minimum": 0,
                      "description": "counted register addresses minus exclusions"},
        "excluded": {"type": "integer", "minimum": 0},
        "committed": _nullable("integer", minimum=0,
                               description="signed-up addresses; null when hidden"),
        "interested_not_signed": _nullable("integer", minimum=0),
        "percent": _nullable("number", minimum=0),
        "threshold_addresses": _nullable("integer", minimum=0),
        "still_needed": _nullable("integer", minimum=0),
        "passes": _nullable("boolean"),
        "hidden": {"type": "boolean"},
        "deciding": {"type": "boolean"},
        "passed_on": _nullable("string", format="date"),
        "day": _nullable("string", format="date"),
    },
}

TREND_POINT = {
    "type": "object", "required": ["day", "committed", "interested_not_signed"],
    "properties": {"day": {"type": "string", "format": "date"},
                   "committed": _nullable("integer", minimum=0),
                   "interested_not_signed": _nullable("integer", minimum=0)},
}

CHECK_SUMMARY = {
    "type": "object",
    "required": ["id", "title", "threshold_percent", "threshold_count", "counted_uses",
                 "grouping", "deadline", "regions"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "threshold_percent": _nullable("number"),
        "threshold_count": _nullable("integer"),
        "counted_uses": {"type": "array", "items": {"type": "string"},
                         "description": "empty: every non-residential address"},
        "grouping": {"type": "string", "enum": ["per_area", "together"]},
        "deadline": {"type": "string", "format": "date-time"},
        "regions": {"type": "array", "items": {
            "type": "object", "required": ["region_id", "name", "area_id"],
            "properties": {"region_id": REGION_ID, "name": {"type": "string"},
                           "area_id": AREA_ID}}},
    },
}

EXCLUSION = {
    "type": "object", "required": ["bag_id", "address", "reason", "note", "created_at"],
    "properties": {
        "bag_id": {"type": "string"}, "address": {"type": "string"},
        "reason": {"type": "string", "enum": ["vacant", "demolished", "connected", "other"]},
        "note": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"}}}

CONSENTED_ADDRESS = {
    "type": "object",
    "required": ["demand_id", "organisation", "bag_id", "street", "house_number", "addition",
                 "postcode", "city", "stage", "region_ids", "region_names"],
    "properties": {
        "demand_id": {"type": "string"},
        "organisation": {"type": "string"},
        "bag_id": {"type": "string"}, "street": {"type": "string"},
        "house_number": {"type": "string"},
        "addition": {"type": "string"}, "postcode": {"type": "string"},
        "city": {"type": "string"},
        "stage": {"type": "string", "enum": ["interest", "committed"]},
        "region_ids": {"type": "array", "items": REGION_ID,
                       "description": "the check's regions the address lies in"},
        "region_names": {"type": "array", "items": {"type": "string"},
                         "description": "their names, in the same order"}}}

ERROR = {"type": "object", "required": ["error", "message"],
         "properties": {
             "error": {"type": "string", "description": "a stable machine code",
                       "enum": ["bad_request", "unauthorized", "forbidden", "not_found",
                                "method_not_allowed", "conflict", "too_large", "invalid",
                                "rate_limited", "server_error", "unavailable"]},
             "message": {"type": "string",
                         "description": "the same in the client's language (Accept-Language)"}}}
LINK = {"type": "string", "nullable": True}
PAGE = {
    "type": "object", "required": ["page", "per_page", "total", "links"],
    "properties": {
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 200},
        "total": {"type": "integer", "minimum": 0},
        "links": {"type": "object", "required": ["self", "next", "prev"],
                  "properties": {"self": LINK, "next": LINK, "prev": LINK}}}}
PAGE_PARAMETERS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "per_page", "in": "query", "schema": {
        "type": "integer", "minimum": 1, "maximum": 200, "default": 50}}]


def _page_of(key: str, item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A page of a list: the items under ``key`` and the ``Page`` fields."""
    return {"allOf": [{"$ref": "#/components/schemas/Page"}, {
        "type": "object", "required": [key, *extra],
        "properties": {key: {"type": "array", "items": item}, **extra}}]}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    texts = {400: "a parameter out of range", 401: "missing, unknown or revoked token",
             404: "no such check (or not yours)", 429: "rate limit reached"}
    return {str(c): _json({"$ref": "#/components/schemas/Error"}, texts[c]) for c in codes}


def _check_path(summary: str, ok: dict[str, Any], *, paged: bool = False) -> dict[str, Any]:
    return {"get": {
        "summary": summary,
        "parameters": [{"name": "check_id", "in": "path", "required": True, "schema": ID},
                       *(PAGE_PARAMETERS if paged else [])],
        "responses": {"200": ok, **_errors(*((400,) if paged else ()), 401, 404, 429)},
    }}


def openapi_document() -> dict[str, Any]:
    csv = {"description": "Semicolon CSV (UTF-8 with BOM); ids as text",
           "content": {"text/csv": {"schema": {"type": "string"}}}}
    geojson = {"description": "RFC 7946 FeatureCollection (WGS84), one feature per region "
                              "and group of regions, its properties a ProgressRow",
               "content": {"application/geo+json": {"schema": {
                   "type": "object", "required": ["type", "features"],
                   "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                  "features": {"type": "array", "items": {
                                      "type": "object", "required": ["type", "properties",
                                                                     "geometry"],
                                      "properties": {"type": {"type": "string",
                                                              "enum": ["Feature"]},
                                                     "properties": {"$ref": "#/components/"
                                                                    "schemas/ProgressRow"},
                                                     "geometry": {"type": "object"}}}}}}}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Samen energie — fibre demand checks for providers",
            "version": "1.0.0",
            "description": (
                "Aggregates per area under the disclosure rule (no number for fewer than 5 "
                "members or one member above 75 %, nor any number that differs from another "
                "by such a group); names and addresses only of members who consented to the "
                "token's provider, each access recorded in the audit log. Numbers are those "
                "of the day's snapshot (Europe/Amsterdam)."),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, "ProgressRow": PROGRESS_ROW,
                        "CheckSummary": CHECK_SUMMARY, "TrendPoint": TREND_POINT,
                        "Page": PAGE, "Exclusion": EXCLUSION,
                        "ConsentedAddress": CONSENTED_ADDRESS},
        },
        "paths": {
            "/checks": {"get": {
                "summary": "The token's provider's demand checks, a page at a time",
                "parameters": PAGE_PARAMETERS,
                "responses": {"200": _json(_page_of(
                    "checks", {"$ref": "#/components/schemas/CheckSummary"})),
                    **_errors(400, 401, 429)},
            }},
            "/checks/{check_id}": _check_path("A check with its progress", _json({
                "allOf": [{"$ref": "#/components/schemas/CheckSummary"}, {
                    "type": "object", "required": ["day", "progress", "excluded_addresses"],
                    "properties": {
                        "day": _nullable("string", format="date"),
                        "progress": {"type": "array",
                                     "items": {"$ref": "#/components/schemas/ProgressRow"}},
                        "excluded_addresses": {
                            "type": "integer", "minimum": 0,
                            "description": "how many exclusions /exclusions lists"},
                    }}]})),
            "/checks/{check_id}/exclusions": _check_path(
                "Addresses left out of the check's denominator, a page at a time",
                _json(_page_of("exclusions", {"$ref": "#/components/schemas/Exclusion"},
                               check_id={"type": "integer"})), paged=True),
            "/checks/{check_id}/progress": _check_path(
                "Progress per region and group of regions, with the daily trend", _json({
                    "type": "object", "required": ["check_id", "day", "progress"],
                    "properties": {
                        "check_id": {"type": "integer"},
                        "day": _nullable("string", format="date"),
                        "progress": {"type": "array", "items": {"allOf": [
                            {"$ref": "#/components/schemas/ProgressRow"},
                            {"type": "object", "required": ["trend"], "properties": {
                                "trend": {"type": "array", "items": {
                                    "$ref": "#/components/schemas/TrendPoint"}}}},
                        ]}},
                    }})),
            "/checks/{check_id}/progress.geojson": _check_path("Progress per area as GeoJSON",
                                                               geojson),
            "/checks/{check_id}/progress.csv": _check_path("Progress per area as CSV", csv),
            "/checks/{check_id}/addresses": _check_path(
                "Names and addresses of members who consented to this provider, a page at a "
                "time (each address on the page is audited)",
                _json(_page_of("addresses", {"$ref": "#/components/schemas/ConsentedAddress"},
                               check_id={"type": "integer"})), paged=True),
            "/checks/{check_id}/addresses.csv": _check_path(
                "The consented addresses as CSV (audited)", csv),
        },
    }
