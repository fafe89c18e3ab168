"""The dossier for the grid operator: one ZIP with the group profile per quarter hour, the
table per participant, the expansion plans, the assumptions, the charts as images and a
printable summary. Participants are named only with their consent ("deelnemer 7" otherwise);
a dossier is refused while a participant of the analysis has withdrawn its consent since."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import numpy as np
from flask import render_template
from flask_babel import gettext as _

from geo.hub_profiles import quarter_hours
from geo.profiles import TIME_ZONE
from matchmaker.audit.services import record
from matchmaker.auth.models import User
from matchmaker.errors import N_, ServiceError
from matchmaker.hub.models import HubAnalysis
from matchmaker.hub.services import charts
from matchmaker.hub.services.analysis import consent_changed, participant_names
from matchmaker.mail.services import text_environment
from matchmaker.web.exports import nl_number


def net_kw(analysis: HubAnalysis) -> np.ndarray | None:
    """The group's net load per quarter hour (kW) of a finished analysis."""
    take = HubAnalysis.unpack(analysis.group_take)
    feed = HubAnalysis.unpack(analysis.group_feed)
    if take is None or feed is None:
        return None
    return np.asarray((take - feed) * 4, dtype=np.float64)


def _result(analysis: HubAnalysis) -> dict[str, Any]:
    if analysis.result is None:
        raise ServiceError(N_("This analysis has no results yet."))
    return analysis.result


def labels(analysis: HubAnalysis) -> dict[int, str]:
    """What the grid operator reads per participant: the name with consent, else a number."""
    names = participant_names(analysis, named_only=True)
    return {p["site_id"]: names.get(p["site_id"]) or _("participant %(number)s",
                                                        number=p["number"])
            for p in _result(analysis)["participants"]}


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def profile_csv(analysis: HubAnalysis) -> str:
    """The group per quarter hour: start (local time with its UTC offset), take and feed-in
    (kWh), net load (kW), and the net load with every expansion plan (kW)."""
    take = HubAnalysis.unpack(analysis.group_take)
    feed = HubAnalysis.unpack(analysis.group_feed)
    plans = HubAnalysis.unpack(analysis.plans_kw)
    assert take is not None and feed is not None and plans is not None
    net = (take - feed) * 4
    stamps = quarter_hours().tz_convert(TIME_ZONE).strftime("%Y-%m-%dT%H:%M%z")
    stamps = [f"{s[:-2]}:{s[-2:]}" for s in stamps]
    rows = [[t, f"{a:.3f}".replace(".", ","), f"{b:.3f}".replace(".", ","),
             f"{c:.2f}".replace(".", ","), f"{d:.2f}".replace(".", ",")]
            for t, a, b, c, d in zip(stamps, take, feed, net, net + plans, strict=True)]
    return _csv(["tijdstip", "afname_kwh", "invoeding_kwh", "netto_kw", "netto_met_plannen_kw"],
                rows)


def participants_csv(analysis: HubAnalysis, names: dict[int, str]) -> str:
    rows = [[names[p["site_id"]], p["source"], p["contract_source"],
             nl_number(round(p["contracted_take_kw"], 1)),
             nl_number(round(p["contracted_feed_kw"], 1)),
             nl_number(round(p["own_peak_take_kw"], 1)),
             nl_number(round(p["own_peak_feed_kw"], 1)), nl_number(round(p["take_kwh"])),
             nl_number(round(p["feed_kwh"])), nl_number(round(p["share_of_group_peak"], 4))]
            for p in _result(analysis)["participants"]]
    return _csv(["deelnemer", "profiel", "bron_contract", "gecontracteerd_afname_kw",
                 "gecontracteerd_invoeding_kw", "eigen_piek_afname_kw",
                 "eigen_piek_invoeding_kw", "afname_kwh_jaar", "invoeding_kwh_jaar",
                 "aandeel_in_groepspiek"], rows)


def plans_csv(analysis: HubAnalysis, names: dict[int, str]) -> str:
    rows = [[position, names.get(p["site_id"], ""), p["kind"], p["direction"],
             nl_number(p["kw"]), p["from_year"], p["shape"], p["waiting_since"] or "",
             "ja" if p["fits"] else "nee", nl_number(round(p["take_needed_kw"], 1)),
             nl_number(round(p["feed_needed_kw"], 1))]
            for position, p in enumerate(_result(analysis)["plans"], start=1)]
    return _csv(["volgorde", "deelnemer", "soort", "richting", "kw", "vanaf_jaar", "dagpatroon",
                 "aangevraagd_op", "past", "groep_nodig_afname_kw", "groep_nodig_invoeding_kw"],
                rows)


def _chart_svg(chart: charts.Chart | None, x_title: str, y_title: str) -> str | None:
    if chart is None:
        return None
    return render_template("hub/chart.svg", chart=chart, x_title=x_title, y_title=y_title,
                           standalone=True)


def summary_html(analysis: HubAnalysis, *, chart_labels: dict[str, str],
                 table_labels: dict[str, Any], standalone: bool) -> str:
    """The printable summary: in the app (``standalone=False``) or as a file in the ZIP, whose
    images are the files beside it."""
    result = analysis.result
    assert result is not None
    return render_template(
        "hub/summary.html", analysis=analysis, hub=analysis.hub, result=result,
        names=labels(analysis), standalone=standalone,
        duration=charts.duration_chart(result, chart_labels),
        battery_chart=charts.battery_chart(result, chart_labels),
        month_ticks=charts.month_ticks(), **table_labels)


def build(analysis: HubAnalysis, *, actor: User, chart_labels: dict[str, str],
          table_labels: dict[str, Any]) -> bytes:
    """The dossier as ZIP bytes (and an audit entry: it leaves the service). ``chart_labels``
    and ``table_labels`` are the words of the charts and tables in the user's language."""
    if analysis.result is None:
        raise ServiceError(N_("This analysis has no results yet."))
    if consent_changed(analysis):
        raise ServiceError(N_("A participant has withdrawn its consent since this analysis; "
                              "analyse again before downloading the dossier."))
    names = labels(analysis)
    result = analysis.result
    net = net_kw(analysis)
    assert net is not None
    image, scale = charts.heat_map_png(net)
    files: dict[str, str | bytes] = {
        "samenvatting.html": summary_html(analysis, chart_labels=chart_labels,
                                          table_labels=table_labels, standalone=True),
        "groepsprofiel_kwartier.csv": profile_csv(analysis),
        "deelnemers.csv": participants_csv(analysis, names),
        "uitbreidingsplannen.csv": plans_csv(analysis, names),
        # Plain text: the .html suffix only puts it in Babel's extraction (as mail templates).
        "aannames.txt": text_environment().get_template("hub/assumptions.txt.html").render(
            analysis=analysis, result=result, heat_scale=scale),
        "jaar_heatmap.png": image,
        "kerncijfers.json": json.dumps(
            {k: v for k, v in result.items() if k not in ("participants", "plans")}
            | {"participants": [{**{k: v for k, v in p.items() if k != "site_id"},
                                 "participant": names[p["site_id"]]}
                                for p in result["participants"]],
               "plans": [{**{k: v for k, v in p.items() if k not in ("site_id", "plan_id")},
                          "participant": names.get(p["site_id"], "")}
                         for p in result["plans"]]},
            ensure_ascii=False, indent=2),
    }
    duration = _chart_svg(charts.duration_chart(result, chart_labels),
                          _("hours per year (logarithmic)"), _("kW"))
    if duration is not None:
        files["duurkromme.svg"] = duration
    battery = _chart_svg(charts.battery_chart(result, chart_labels), _("target peak (kW)"),
                         _("battery (kWh)"))
    if battery is not None:
        files["batterij.svg"] = battery
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(f"energiehub-{analysis.hub_id}/{name}", content)
    record(actor, "hub.dossier", analysis.hub, analysis_id=analysis.id)
    return buffer.getvalue()
