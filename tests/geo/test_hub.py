"""Energy hubs (geo.hub, geo.hub_profiles): the numbers against independent calculations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from geo.errors import ColumnError
from geo.hub import (
    analyse,
    capacity_for_curtailment,
    check_sites,
    fit_plans,
    heat_map,
    matched_within_distance,
    order_plans,
)
from geo.hub_profiles import (
    HubProfiles,
    consumption_quarter_hours,
    expansion_shape,
    long_profiles,
    quarter_hours,
    to_reference_year,
)


def random_profiles(rng: np.random.Generator, n_sites: int, n_steps: int) -> HubProfiles:
    take = rng.gamma(1.5, 2.0, (n_sites, n_steps)) * (rng.random((n_sites, n_steps)) < 0.8)
    feed = rng.gamma(1.0, 3.0, (n_sites, n_steps)) * (rng.random((n_sites, 1)) < 0.4)
    return HubProfiles(np.array([f"s{i}" for i in range(n_sites)], dtype=object),
                       quarter_hours()[:n_steps], take, feed)


# --- the time axis and files -------------------------------------------------------------------


def test_a_year_in_amsterdam_has_35040_quarter_hours_with_92_and_100_on_the_dst_days():
    idx = quarter_hours(2025)
    per_day = idx.tz_convert("Europe/Amsterdam").normalize().value_counts()
    assert len(idx) == 35040
    assert per_day[pd.Timestamp("2025-03-30", tz="Europe/Amsterdam")] == 92
    assert per_day[pd.Timestamp("2025-10-26", tz="Europe/Amsterdam")] == 100
    assert (np.diff(idx.asi8) == 15 * 60 * 10**9).all()  # UTC instants: no gaps, no repeats


def long_frame(index: pd.DatetimeIndex, sites: list[str]) -> pd.DataFrame:
    stamps = [t.tz_convert("Europe/Amsterdam").isoformat(timespec="minutes") for t in index]
    rows = [(s, stamp, i % 7, (i % 3) * 0.5) for s in sites for i, stamp in enumerate(stamps)]
    return pd.DataFrame(rows, columns=["site_id", "timestamp", "take_kwh", "feed_kwh"])


def test_long_form_of_a_dst_year_pivots_to_every_quarter_hour():
    idx = quarter_hours(2025)
    frame = long_frame(idx, ["a", "b"])
    profiles = long_profiles(frame.sample(frac=1, random_state=1), site_ids=["b", "a"])
    assert profiles.index.equals(idx)
    assert list(profiles.site_ids) == ["b", "a"]
    expected = np.arange(len(idx)) % 7
    assert np.array_equal(profiles.take_kwh[1], expected)
    assert np.array_equal(profiles.feed_kwh[0], (np.arange(len(idx)) % 3) * 0.5)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(index=5), ("1 missing quarter hour(s) between the first and the last time, "
                                "for example a 2025-03-30T01:15+01:00")),
    (lambda f: pd.concat([f, f.iloc[[3]]]), "duplicate time for the same site on line(s) 22"),
    (lambda f: f.assign(site_id=np.where(f.index == 7, "zz", f["site_id"])),
     "unknown site_id on line(s) 9 (not in the sites file)"),
    (lambda f: f.assign(take_kwh=np.where(f.index == 2, -1.0, f["take_kwh"])),
     "take_kwh is negative on line(s) 4"),
    (lambda f: f.assign(timestamp=np.where(f.index == 4, "2025-03-30T01:05+01:00",
                                           f["timestamp"])),
     "times not on a quarter hour (00, 15, 30, 45 minutes) on line(s) 6"),
    (lambda f: f.assign(timestamp=np.where(f.index == 1, "2025-03-30 00:15", f["timestamp"])),
     "timestamp has no UTC offset on line(s) 3"),
    (lambda f: f.assign(feed_kwh=np.where(f.index == 3, "veel", f["feed_kwh"].astype(str))),
     "feed_kwh is missing or not a number on line(s) 5"),
])
def test_bad_long_form_is_refused_with_its_lines(change, message):
    start = pd.Timestamp("2025-03-30T00:00", tz="Europe/Amsterdam")
    idx = pd.date_range(start, periods=10, freq="15min").tz_convert("UTC")
    frame = long_frame(idx, ["a", "b"])
    with pytest.raises(ColumnError) as err:
        long_profiles(change(frame).reset_index(drop=True), site_ids=["a", "b"], name="p.csv")
    assert message in str(err.value)


def test_a_site_without_rows_and_a_gap_over_the_dst_hour_are_named():
    start = pd.Timestamp("2025-03-30T01:30", tz="Europe/Amsterdam")
    idx = pd.date_range(start, periods=4, freq="15min").tz_convert("UTC")  # 01:30 ... 03:15
    frame = long_frame(idx, ["a"])
    with pytest.raises(ColumnError, match="no data for site.s. b"):
        long_profiles(frame, site_ids=["a", "b"])
    # 01:45 +01:00 is followed by 03:00 +02:00: a quarter hour apart, nothing missing.
    assert long_profiles(frame, site_ids=["a"]).n_steps == 4


def test_data_of_another_year_lands_on_the_same_dates_and_clock_times():
    idx = quarter_hours(2025)
    local = idx.tz_convert("Europe/Amsterdam")
    key = (local.month * 1_000_000 + local.day * 10_000 + local.hour * 100 + local.minute)
    laid, filled = to_reference_year(idx, key.to_numpy(dtype=float))
    ref = quarter_hours().tz_convert("Europe/Amsterdam")
    ref_key = (ref.month * 1_000_000 + ref.day * 10_000 + ref.hour * 100 + ref.minute).to_numpy()
    same = laid == ref_key
    # 2025 skipped 02:00-02:45 on 30 March (2023 on 26 March): those take the hour before; the
    # second 02:xx of 29 October (2023's autumn change) takes the only one 2025 had.
    assert (~same).sum() == 4 and filled == 8
    assert np.array_equal(laid[~same], ref_key[~same] - 100)
    with pytest.raises(ColumnError, match="no data for 1 date"):
        keep = ~((local.month == 6) & (local.day == 1))
        to_reference_year(idx[keep], np.ones(keep.sum()))


def test_estimated_use_follows_the_bdew_quarter_hours_and_keeps_the_year():
    use = consumption_quarter_hours(annual_kwh=[10_000.0, 0.0], category=["g1", "g0"])
    assert use.shape == (2, 35040) and use[0].sum() == pytest.approx(10_000.0)
    clock = quarter_hours().tz_convert("Europe/Amsterdam")
    office = (clock.day_of_week < 5) & (clock.hour >= 9) & (clock.hour < 16)
    night = (clock.hour < 5)
    assert use[0][office].mean() > 3 * use[0][night].mean()


# --- the numbers -------------------------------------------------------------------------------


def test_peaks_simultaneity_freed_capacity_and_exchange_by_brute_force():
    rng = np.random.default_rng(7)
    profiles = random_profiles(rng, 6, 300)
    take_contract = rng.uniform(20, 60, 6)
    feed_contract = rng.uniform(0, 40, 6)
    result = analyse(profiles, contracted_take_kw=take_contract,
                     contracted_feed_kw=feed_contract, curtail_hours=[0, 5, 20])
    group = [sum((profiles.take_kwh[i, t] - profiles.feed_kwh[i, t]) * 4 for i in range(6))
             for t in range(300)]
    assert result.group_peak_take_kw == pytest.approx(max(max(group), 0))
    assert result.group_peak_feed_kw == pytest.approx(max(-min(group), 0))
    own = [max(profiles.take_kwh[i]) * 4 for i in range(6)]
    assert result.sum_own_peak_take_kw == pytest.approx(sum(own))
    assert result.simultaneity_take == pytest.approx(max(group) / sum(own))
    assert result.freed_take_kw == pytest.approx(sum(take_contract) - max(group))
    exchanged = sum(min(profiles.take_kwh[:, t].sum(), profiles.feed_kwh[:, t].sum())
                    for t in range(300))
    assert result.exchanged_kwh == pytest.approx(exchanged)
    peak_t = int(np.argmax(group))
    shares = result.participants["share_of_group_peak"].to_numpy()
    assert shares.sum() == pytest.approx(1.0)
    assert shares[2] == pytest.approx((profiles.take_kwh[2, peak_t]
                                       - profiles.feed_kwh[2, peak_t]) * 4 / group[peak_t])
    for hours, capacity in zip(result.curtailment["hours"],
                               result.curtailment["capacity_take_kw"]):
        # The smallest capacity that the load exceeds in at most 4 x hours quarter hours.
        candidates = [c for c in [0.0, *group] if c >= 0
                      and sum(v > c + 1e-12 for v in group) <= hours * 4]
        assert capacity == pytest.approx(min(candidates))


def test_capacity_for_curtailment_never_drops_below_zero_and_is_refused_for_negative_hours():
    assert capacity_for_curtailment([-5.0, -1.0], [0]).tolist() == [0.0]
    assert capacity_for_curtailment([3.0, 2.0], [8760]).tolist() == [0.0]
    with pytest.raises(ValueError):
        capacity_for_curtailment([1.0], [-1])


def test_expansion_plans_fit_in_order_like_a_brute_force_replay():
    rng = np.random.default_rng(3)
    idx = quarter_hours()[: 96 * 14]
    net = 300 + 120 * np.sin(np.arange(len(idx)) / 20) + rng.normal(0, 20, len(idx))
    plans = pd.DataFrame({
        "id": [1, 2, 3, 4, 5],
        "direction": ["take", "take", "feed", "take", "take"],
        "kw": [80.0, 40.0, 200.0, 150.0, 10.0],
        "shape": ["night", "day", "solar", "continuous", "heat_pump"],
        "from_year": [2027, 2026, 2026, 2028, 2026],
        "waiting_since": pd.to_datetime(["2024-02-01", "2023-06-01", None, "2022-01-01",
                                         "2025-01-01"]),
    })
    ordered = order_plans(plans, by="waiting")
    assert ordered["id"].tolist() == [4, 2, 1, 5, 3]
    extra = np.vstack([row.kw * expansion_shape(row.shape, idx) for row in ordered.itertuples()])
    capacity = float(net.max()) + 100
    fitted = fit_plans(net, ordered, extra, capacity_take_kw=capacity, capacity_feed_kw=120.0)
    load = net.copy()
    for row, plan in enumerate(ordered.itertuples()):
        trial = load + (extra[row] if plan.direction == "take" else -extra[row])
        fits = trial.max() <= capacity and max(-trial.min(), 0) <= 120.0
        assert bool(fitted["fits"].iloc[row]) == fits, plan.id
        if fits:
            load = trial
    assert not fitted["fits"].all() and fitted["fits"].any()


def test_solar_plans_follow_the_sun_and_night_plans_the_clock():
    idx = quarter_hours()
    local = idx.tz_convert("Europe/Amsterdam")
    solar = expansion_shape("solar", idx)
    assert solar.max() == pytest.approx(1.0)
    assert solar[local.hour == 2].max() == 0.0
    assert solar[(local.month == 6) & (local.hour == 13)].mean() > 0.5
    night = expansion_shape("night", idx)
    assert night[local.hour == 23].min() == 1.0 and night[local.hour == 12].max() == 0.0


def test_exchange_within_distance_equals_the_hub_exchange_when_everyone_is_near():
    rng = np.random.default_rng(11)
    n_steps = 9000  # more than one block of the matching's 8760 steps
    take = np.vstack([rng.gamma(2.0, 1.0, (3, n_steps)), np.zeros((2, n_steps))])
    feed = np.vstack([np.zeros((3, n_steps)), rng.gamma(2.0, 1.0, (2, n_steps))])
    sites = gpd.GeoDataFrame({"id": list("abcde")}, crs="EPSG:28992",
                             geometry=[Point(233000 + 50 * i, 556000) for i in range(5)])
    near = matched_within_distance(sites, take, feed, max_distance_m=1000)
    hub = np.minimum(take.sum(axis=0), feed.sum(axis=0)).sum()
    assert near == pytest.approx(hub, abs=n_steps * 5 * 1e-3)  # the matching rounds to Wh
    far = sites.assign(geometry=[Point(233000 + 5000 * i, 556000) for i in range(5)])
    assert matched_within_distance(far, take, feed, max_distance_m=1000) == 0.0


def test_heat_map_has_a_row_per_local_day_and_keeps_the_larger_repeated_quarter_hour():
    idx = quarter_hours()
    load = np.arange(len(idx), dtype=float)
    dates, grid = heat_map(load, idx)
    assert grid.shape == (365, 96) and str(dates[88].date()) == "2023-03-30"
    assert np.isnan(grid[84, 8:12]).all()  # 26 March 02:00-02:45 did not exist
    local = idx.tz_convert("Europe/Amsterdam")
    repeated = np.flatnonzero((local.month == 10) & (local.day == 29) & (local.hour == 2))
    assert grid[301, 8] == load[repeated[4]]  # the second 02:00 came later: larger


def test_sites_table_is_validated_with_lines():
    frame = pd.DataFrame({"id": ["1", "2", "2"], "contracted_take_kw": ["10", "x", "5"],
                          "contracted_feed_kw": [0, 0, 0]})
    with pytest.raises(ColumnError, match=r"duplicate id on line\(s\) 4"):
        check_sites(frame, name="sites.csv")
    with pytest.raises(ColumnError, match=r"contracted_take_kw is missing or not a number on "
                                          r"line\(s\) 3"):
        check_sites(frame.iloc[:2], name="sites.csv")

