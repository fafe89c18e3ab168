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
from matchmaker.errors import N_
from matchmaker.fibre import services
from matchmaker.fibre.models import FibreCheck
from matchmaker.fibre.services import AreaProgress, CheckProgress, ConsentedAddress
from matchmaker.web.exports import Id, csv_response, stamp, vector_response


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
    """One dict per region of the check (``kind`` "region") and per group of regions
    (``kind`` "group"): the numbers a provider may see. ``region_id`` is the region's id (None
    for a group), ``region_ids`` the regions the row counts; the same names as everywhere in
    the API (``area_id`` is only ever an area of the register)."""
    rows = []
    for kind, items in (("region", state.areas), ("group", state.groups)):
        for row in items:
            rows.append({
                "region_id": row.region_ids[0] if kind == "region" else None,
                "region_ids": list(row.region_ids), "kind": kind,
                "name": area_label(row, state),
                "addresses": row.addresses, "excluded": row.excluded,
                "committed": row.committed, "interested_not_signed": row.interest,
                "percent": _float(row.percent), "threshold_addresses": row.needed,
                "still_needed": row.still_needed, "passes": row.passes, "hidden": row.hidden,
                "deciding": row in state.deciding,
                "passed_on": row.passed_on.isoformat() if row.passed_on else None,
                "day": state.day.isoformat() if state.day else None,
            })
    return rows


def progress_download(check: FibreCheck, kind: str, *, keys: bool = False) -> Response:
    """Today's progress of ``check`` as a ``geojson`` or ``csv`` download (web and API alike);
    takes the day's snapshot first, so the caller must allow writes. The CSV's header is in
    the user's language, or the stable column keys of the API document with ``keys``."""
    services.refresh()
    state = services.progress(check, trend_days=1)
    filename = f"glasvezel-{check.id}-{stamp()}.{kind}"
    return _progress_geojson(state, filename) if kind == "geojson" else _progress_csv(
        state, filename, keys=keys)


def _progress_geojson(state: CheckProgress, filename: str) -> Response:
    items = [*state.areas, *state.groups]
    frame = gpd.GeoDataFrame(progress_rows(state), geometry=[r.geometry for r in items],
                             crs=RD_NEW)
    for column in ("region_id", "committed", "interested_not_signed", "threshold_addresses",
                   "still_needed"):
        frame[column] = frame[column].astype("Int64")
    frame["percent"] = frame["percent"].astype("Float64")
    frame["passes"] = frame["passes"].astype("boolean")
    return vector_response(frame, driver="GeoJSON", filename=filename, layer="progress")


PROGRESS_HEADER = ["region_id", "region_ids", "kind", "name", "day", "addresses", "excluded", "committed",
                   "interested_not_signed", "percent", "threshold_addresses", "still_needed",
                   "passes", "hidden", "deciding"]


PROGRESS_LABELS = [N_("Region id"), N_("Region ids"), N_("Kind"), N_("Name"), N_("Day"), N_("Addresses"),
                   N_("Excluded"), N_("Signed up"), N_("Interested, not signed"),
                   N_("Percent"), N_("Threshold (addresses)"), N_("Still needed"),
                   N_("Passes"), N_("Hidden"), N_("Deciding")]


def _progress_csv(state: CheckProgress, filename: str, *, keys: bool) -> Response:
    rows = progress_rows(state)
    kinds = {"region": _("area"), "group": _("group")}

    def cell(row: dict[str, Any], column: str) -> Any:
        if column == "kind" and not keys:
            return kinds.get(row[column], row[column])
        if column == "region_ids":  # a list in JSON; ids separated by spaces in a cell
            return " ".join(str(i) for i in row[column])
        return row[column]

    return csv_response(
        PROGRESS_HEADER if keys else [_(label) for label in PROGRESS_LABELS],
        ([cell(r, c) for c in PROGRESS_HEADER] for r in rows), filename)


ADDRESS_HEADER = ["demand_id", "organisation", "bag_id", "street", "house_number", "addition",
                  "postcode", "city", "stage", "region_ids", "region_names"]


def address_rows(rows: Sequence[ConsentedAddress]) -> list[dict[str, Any]]:
    return [{"demand_id": str(r.demand_id), "organisation": r.organisation, "bag_id": r.bag_id,
             "street": r.street, "house_number": str(r.house_number), "addition": r.addition,
             "postcode": r.postcode, "city": r.city, "stage": r.stage.value,
             "region_ids": r.region_ids, "region_names": r.areas}
            for r in rows]


ADDRESS_LABELS = [N_("Demand id"), N_("Organisation"), N_("BAG id"), N_("Street"),
                  N_("House number"), N_("Addition"), N_("Postcode"), N_("City"), N_("Stage"),
                  N_("Region ids"), N_("Areas")]


def addresses_csv(check: FibreCheck, rows: Sequence[ConsentedAddress], *,
                  keys: bool = False) -> Response:
    """The consented addresses as CSV; the header as :func:`progress_download` says."""
    header = ADDRESS_HEADER if keys else [_(label) for label in ADDRESS_LABELS]
    return csv_response(header, ([
        r.demand_id, r.organisation, Id(r.bag_id), r.street, r.house_number, r.addition,
        r.postcode, r.city, r.stage, " ".join(str(i) for i in r.region_ids),
        ", ".join(r.areas)] for r in rows),
        f"glasvezel-{check.id}-adressen-{stamp()}.csv")
