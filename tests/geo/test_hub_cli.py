"""``matchmaker hub`` on files the test writes: HUB.json, the report, one-line errors."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from geo.hub_profiles import quarter_hours
from matchmaker.hub.cli import hub_command

X0, Y0 = 233_000, 556_000


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("MATCHMAKER_LANG", "en")
    return CliRunner()


def stamps(index: pd.DatetimeIndex) -> list[str]:
    return [t.tz_convert("Europe/Amsterdam").isoformat(timespec="minutes") for t in index]


@pytest.fixture
def year(tmp_path):
    """Three sites over 2025 (35,040 quarter hours): an office, a cold store, a solar roof."""
    idx = quarter_hours(2025)
    local = idx.tz_convert("Europe/Amsterdam")
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60
    office = np.where((hour >= 8) & (hour < 18), 5.0, 0.5)
    cold = 3.0 + (np.arange(len(idx)) % 4 == 0) * 2.0
    sun = np.clip(np.sin(np.pi * (hour - 6) / 12), 0, None) * 12.0
    take = np.vstack([office, cold, np.full(len(idx), 0.25)])
    feed = np.vstack([np.zeros(len(idx)), np.zeros(len(idx)), sun])
    sites = pd.DataFrame({"id": ["007", "8", "9"], "x": [X0, X0 + 100, X0 + 300],
                          "y": [Y0] * 3, "contracted_take_kw": [40.0, 30.0, 10.0],
                          "contracted_feed_kw": [0.0, 0.0, 60.0]})
    sites.to_csv(tmp_path / "sites.csv", index=False)
    frame = pd.DataFrame({
        "timestamp": stamps(idx) * 3,
        "site_id": np.repeat(sites["id"].to_numpy(), len(idx)),
        "take_kwh": take.ravel().round(4), "feed_kwh": feed.ravel().round(4),
    })
    frame.to_csv(tmp_path / "profiles.csv", index=False)
    return tmp_path, take, feed, sites


def run(runner, *args):
    return runner.invoke(hub_command, [str(a) for a in args])


def test_hub_json_holds_the_numbers_of_an_independent_calculation(runner, year):
    folder, take, feed, _ = year
    take, feed = take.round(4), feed.round(4)
    net = (take.sum(axis=0) - feed.sum(axis=0)) * 4
    target = round(float(net.max()) - 4, 1)
    result = run(runner, folder / "sites.csv", folder / "profiles.csv", "--output",
                 folder / "hub.json", "--curtail-hours", 50, "--target-take-kw", target,
                 "--max-distance-m", 500)
    assert result.exit_code == 0, result.output
    hub = json.loads((folder / "hub.json").read_text())
    assert hub["quarter_hours"] == 35040
    assert hub["group_peak_take_kw"] == pytest.approx(net.max(), abs=1e-3)
    assert hub["group_peak_feed_kw"] == pytest.approx(-net.min(), abs=1e-3)
    assert hub["sum_contracted_take_kw"] == 80.0 and hub["sum_contracted_feed_kw"] == 60.0
    assert hub["freed_take_kw"] == pytest.approx(80.0 - net.max(), abs=1e-3)
    exchanged = np.minimum(take.sum(axis=0), feed.sum(axis=0)).sum()
    assert hub["exchanged_kwh"] == pytest.approx(exchanged, abs=1e-3)
    # 50 hours = 200 quarter hours above the capacity at most.
    assert hub["capacity_take_kw_for_curtail_hours"] == pytest.approx(
        np.sort(net)[::-1][200], abs=1e-3)
    assert hub["battery_feasible"] is True and hub["battery_kwh"] > 0 and hub["battery_kw"] > 0
    # The matching never pairs a site with itself; here only the solar roof feeds in.
    assert 0 < hub["matched_within_distance_kwh"] <= hub["exchanged_kwh"] + 1
    assert [p["site_id"] for p in hub["participants"]] == ["007", "8", "9"]
    assert f"Shared battery for at most {target:.1f} kW" in result.output


def test_parquet_and_geoparquet_give_the_same_numbers(runner, year):
    folder, *_ = year
    csv = run(runner, folder / "sites.csv", folder / "profiles.csv", "-o", folder / "a.json")
    assert csv.exit_code == 0, csv.output
    sites = pd.read_csv(folder / "sites.csv", dtype={"id": str})
    gpd.GeoDataFrame(sites.drop(columns=["x", "y"]), crs="EPSG:28992",
                     geometry=[Point(x, y) for x, y in zip(sites.x, sites.y)]
                     ).to_parquet(folder / "sites.parquet")
    pd.read_csv(folder / "profiles.csv", dtype={"site_id": str}).to_parquet(
        folder / "profiles.parquet")
    pq = run(runner, folder / "sites.parquet", folder / "profiles.parquet", "-o",
             folder / "b.json")
    assert pq.exit_code == 0, pq.output
    assert json.loads((folder / "a.json").read_text()) == json.loads(
        (folder / "b.json").read_text())


@pytest.fixture
def short(tmp_path):
    (tmp_path / "sites.csv").write_text("id,contracted_take_kw,contracted_feed_kw\na,10,0\nb,5,5\n")
    rows = ["timestamp,site_id,take_kwh,feed_kwh"]
    for site in "ab":
        for minute in (0, 15, 30, 45):
            rows.append(f"2025-06-01T10:{minute:02d}+02:00,{site},1.5,0")
    return tmp_path, rows


@pytest.mark.parametrize("edit, message", [
    (lambda r: r[:3] + r[4:], ("1 missing quarter hour(s) between the first and the last time, "
                              "for example a 2025-06-01T10:30+02:00")),
    (lambda r: r + [r[2]], "duplicate time for the same site on line(s) 10"),
    (lambda r: r + ["2025-06-01T10:00+02:00,c,1,0"], "unknown site_id on line(s) 10"),
    (lambda r: [r[0], r[1].replace(",1.5,", ",-1,"), *r[2:]], "take_kwh is negative on line(s) 2"),
    (lambda r: [*r[:2], r[2].replace("10:15", "10:20"), *r[3:]],
     "times not on a quarter hour (00, 15, 30, 45 minutes) on line(s) 3"),
    (lambda r: [*r[:5], r[5].replace("+02:00", ""), *r[6:]], "has no UTC offset on line(s) 6"),
])
def test_bad_profiles_are_one_line_with_the_line_numbers_and_exit_2(runner, short, edit, message):
    folder, rows = short
    (folder / "profiles.csv").write_text("\n".join(edit(rows)) + "\n")
    result = run(runner, folder / "sites.csv", folder / "profiles.csv", "-o", folder / "h.json")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output, result.output
    assert not (folder / "h.json").exists()


def test_report_in_dutch_by_default(monkeypatch, short):
    monkeypatch.delenv("MATCHMAKER_LANG", raising=False)
    folder, rows = short
    (folder / "profiles.csv").write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(hub_command, [str(folder / "sites.csv"),
                                              str(folder / "profiles.csv"), "-o",
                                              str(folder / "h.json"), "--target-take-kw", "5"])
    assert result.exit_code == 0, result.output
    assert "Groepspiek: 12,0 kW afname" in result.output
    assert "Geen batterij houdt de groep op 5,0 kW" in result.output
    bad = CliRunner().invoke(hub_command, [str(folder / "sites.csv"), str(folder / "nope.csv"),
                                           "-o", str(folder / "h.json")])
    assert bad.exit_code == 2 and "nope.csv bestaat niet" in bad.output
