"""The progress of a check as plain rows, GeoJSON (WGS84) and CSV: one shape for the web
downloads and the API, so the two can never disagree."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import geopandas as gpd
from flask import Response
from flask_babel import gettext as _

from geo.crs import RD_NEW
from matchmaker.fibre import services
from matchmaker.fibre.models import FibreCheck
from matchmaker.fibre.services import AreaProgress, CheckProgress, ConsentedAddress
from matchmaker.web.exports import csv_response, nl_number, stamp, vector_response


def area_label(row: AreaProgress, state: CheckProgress) -> str:
    if row.key == "all":
        return _("All areas together")
    if row.name:
        return row.name
    if len(row.region_ids) > 1:
        names = {str(a.region_ids[0]): a.name or _("Drawn area") for a in state.areas}
        return " + ".join(names.get(i, i) for i in row.key.split("+"))
    return _("Drawn area")


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def progress_rows(state: CheckProgress) -> list[dict[str, Any]]:
    """One dict per area (and per group of areas): the numbers a provider may see."""
    rows = []
    for kind, items in (("area", state.areas), ("group", state.groups)):
        for row in items:
            rows.append({
                "area_id": row.key, "kind": kind, "name": area_label(row, state),
                "addresses": row.addresses, "excluded": row.excluded,
                "committed": row.committed, "interested_not_signed": row.interest,
                "percent": _float(row.percent), "threshold_addresses": row.needed,
                "still_needed": row.still_needed, "passes": row.passes, "hidden": row.hidden,
                "deciding": row in state.deciding,
                "passed_on": row.passed_on.isoformat() if row.passed_on else None,
                "day": state.day.isoformat() if state.day else None,
            })
    return rows


def progress_download(check: FibreCheck, kind: str) -> Response:
    """Today's progress of ``check`` as a ``geojson`` or ``csv`` download (web and API alike);
    takes the day's snapshot first, so the caller must allow writes."""
    services.refresh()
    state = services.progress(check, trend_days=1)
    filename = f"glasvezel-{check.id}-{stamp()}.{kind}"
    return _progress_geojson(state, filename) if kind == "geojson" else _progress_csv(
        state, filename)


def _progress_geojson(state: CheckProgress, filename: str) -> Response:
    items = [*state.areas, *state.groups]
    frame = gpd.GeoDataFrame(progress_rows(state), geometry=[r.geometry for r in items],
                             crs=RD_NEW)
    for column in ("committed", "interested_not_signed", "threshold_addresses", "still_needed"):
        frame[column] = frame[column].astype("Int64")
    frame["percent"] = frame["percent"].astype("Float64")
    frame["passes"] = frame["passes"].astype("boolean")
    return vector_response(frame, driver="GeoJSON", filename=filename, layer="progress")


PROGRESS_HEADER = ["area_id", "kind", "name", "day", "addresses", "excluded", "committed",
                   "interested_not_signed", "percent", "threshold_addresses", "still_needed",
                   "passes", "hidden", "deciding"]


def _progress_csv(state: CheckProgress, filename: str) -> Response:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "ja" if value else "nee"
        if isinstance(value, float):
            return nl_number(Decimal(str(value)))
        return str(value)

    rows = progress_rows(state)
    return csv_response(PROGRESS_HEADER, ([cell(r[c]) for c in PROGRESS_HEADER] for r in rows),
                        filename)


ADDRESS_HEADER = ["demand_id", "organisation", "bag_id", "street", "house_number", "addition",
                  "postcode", "city", "stage", "areas"]


def address_rows(rows: Sequence[ConsentedAddress]) -> list[dict[str, Any]]:
    return [{"demand_id": str(r.demand_id), "organisation": r.organisation, "bag_id": r.bag_id,
             "street": r.street, "house_number": str(r.house_number), "addition": r.addition,
             "postcode": r.postcode, "city": r.city, "stage": r.stage.value, "areas": r.areas}
            for r in rows]


def addresses_csv(check: FibreCheck, rows: Sequence[ConsentedAddress]) -> Response:
    data = address_rows(rows)
    return csv_response(ADDRESS_HEADER, ([*(r[c] for c in ADDRESS_HEADER[:-1]),
                                          ", ".join(r["areas"])] for r in data),
                        f"glasvezel-{check.id}-adressen-{stamp()}.csv")
