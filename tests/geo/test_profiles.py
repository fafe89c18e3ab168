"""Energy profiles: time axes, PV, BDEW business loads, meter data; yearly totals are kept."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from geo.errors import ColumnError, ParameterError
from geo.profiles import (
    CATEGORIES,
    Profile,
    aggregate,
    bdew_quarter_hours,
    consumption_profile,
    hourly_index,
    measured_profile,
    pv_profile,
    step_hours,
    step_weights,
    typical_day_steps,
)

ASSEN = {"lon": 6.5625, "lat": 52.9925}


# --- time axes -------------------------------------------------------------------------------


def test_typical_day_steps_are_months_by_hours_weighted_by_days():
    steps = typical_day_steps()
    assert len(steps) == 288
    assert steps["days"].sum() == 8760
    assert steps.groupby("month")["days"].first().tolist() == [
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    assert steps.loc[24 * 5 + 13].tolist() == [6, 13, 30]


def test_hourly_index_is_8760_real_hours_in_amsterdam_time():
    idx = hourly_index()
    assert len(idx) == 8760
    assert str(idx.tz) == "Europe/Amsterdam"
    assert (pd.Series(idx).diff().dropna() == pd.Timedelta(hours=1)).all()
    # Spring forward: 26 March 2023 has no 02:00; fall back: 29 October has two.
    march = idx[(idx.month == 3) & (idx.day == 26)]
    october = idx[(idx.month == 10) & (idx.day == 29)]
    assert len(march) == 23 and 2 not in march.hour
    assert len(october) == 25 and list(october.hour).count(2) == 2
    assert len(hourly_index(2024)) == 8784


def test_step_weights_and_hours():
    assert step_weights("annual").tolist() == [1.0]
    assert step_weights("hourly").sum() == 8760
    assert step_weights("typical_day").sum() == 8760
    assert step_hours("annual") == 8760 and step_hours("hourly") == 1
    with pytest.raises(ParameterError, match="mode must be one of"):
        step_weights("weekly")


def test_aggregate_keeps_the_total_and_averages_per_day():
    rng = np.random.default_rng(3)
    hourly = rng.random((3, 8760))
    for mode in ("annual", "typical_day", "hourly"):
        steps = aggregate(hourly, mode=mode)
        np.testing.assert_allclose(steps @ step_weights(mode), hourly.sum(axis=1))
    flat = aggregate(np.ones(8760), mode="typical_day")
    # Every hour of every day holds 1 kWh, except the DST hours of March and October.
    assert flat[0] == 1.0
    assert flat[2 * 24 + 2] == pytest.approx(30 / 31)  # March 02:00: one day without it
    assert flat[9 * 24 + 2] == pytest.approx(32 / 31)  # October 02:00: one day with two
    with pytest.raises(ParameterError, match="8760"):
        aggregate(np.ones(100), mode="annual")


# --- PV --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["annual", "typical_day", "hourly"])
def test_pv_yearly_total_is_kwp_times_yield(mode):
    p = pv_profile(**ASSEN, kwp=10.0, mode=mode)
    assert isinstance(p, Profile) and p.source == "estimated" and p.kind == "pv"
    assert p.annual_kwh == pytest.approx(8750.0, rel=1e-12)
    many = pv_profile(lon=[6.55, 6.60, 5.0], lat=[52.99, 53.0, 52.0], kwp=[1.0, 2.0, 0.0],
                      annual_yield_kwh_per_kwp=900.0, mode=mode)
    assert many.values.shape == (3, len(step_weights(mode)))
    np.testing.assert_allclose(many.annual_kwh, [900.0, 1800.0, 0.0], rtol=1e-12)


def test_pv_shape_follows_the_sun():
    day = pv_profile(**ASSEN, kwp=1.0, mode="typical_day").values.reshape(12, 24)
    assert (day[:, :4] == 0).all() and (day[:, 22:] == 0).all()  # no sun at night
    assert day[5].sum() > 3 * day[11].sum()  # June yields far more than December
    # Clock noon in winter, 13:00 in summer (daylight saving time): peak near solar noon.
    assert int(np.argmax(day[0])) == 12 and int(np.argmax(day[5])) == 13
    hourly = pv_profile(**ASSEN, kwp=1.0, mode="hourly").values
    assert (hourly >= 0).all()


def test_pv_rejects_bad_input():
    with pytest.raises(ParameterError, match="kwp must not be negative"):
        pv_profile(**ASSEN, kwp=-1.0, mode="annual")
    with pytest.raises(ParameterError, match="longitude and latitude"):
        pv_profile(lon=float("nan"), lat=52.0, kwp=1.0, mode="annual")


# --- business loads --------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_consumption_yearly_total_equals_input(category):
    for mode in ("annual", "typical_day", "hourly"):
        p = consumption_profile(annual_kwh=[12_345.0, 0.0], category=category, mode=mode)
        np.testing.assert_allclose(p.annual_kwh, [12_345.0, 0.0], rtol=1e-12)
        assert (p.values >= 0).all()


def test_consumption_default_is_g0_and_office_hours_show():
    g0 = consumption_profile(annual_kwh=8760.0, mode="typical_day")
    assert g0.kind == "g0"
    office = consumption_profile(annual_kwh=8760.0, category="G1", mode="hourly").values
    idx = hourly_index()
    monday_10 = office[(idx.month == 1) & (idx.day == 2) & (idx.hour == 10)][0]
    sunday_10 = office[(idx.month == 1) & (idx.day == 8) & (idx.hour == 10)][0]
    kings_day_10 = office[(idx.month == 4) & (idx.day == 27) & (idx.hour == 10)][0]  # Thursday
    assert monday_10 > 5 * sunday_10
    assert kings_day_10 == pytest.approx(
        office[(idx.month == 4) & (idx.day == 30) & (idx.hour == 10)][0])  # like a Sunday


def test_bdew_values_equal_demandlib_elecslp():
    # Reference numbers from demandlib 0.2.2 ElecSlp(2023, holidays=holidays.Netherlands(2023))
    # .get_scaled_profiles({c: 1e6}) on pandas 2.3.3 (ElecSlp does not run on pandas 3.1).
    g0 = bdew_quarter_hours("g0") * 1e6
    g1 = bdew_quarter_hours("g1") * 1e6
    g4 = bdew_quarter_hours("g4") * 1e6
    assert len(g0) == 35040 and g0.sum() == pytest.approx(1e6)
    assert g0[0] == pytest.approx(15.688871643045681, rel=1e-12)
    assert g0[4] == pytest.approx(13.722797854866538, rel=1e-12)
    assert g1[0] == pytest.approx(6.304350658903334, rel=1e-12)
    assert g1[10000] == pytest.approx(4.9983091672613655, rel=1e-12)
    assert g4[30000] == pytest.approx(52.67289462973667, rel=1e-12)


def test_consumption_mixed_categories_and_errors():
    p = consumption_profile(annual_kwh=[100.0, 200.0], category=["g0", "g4"], mode="annual")
    assert p.kind == "mixed"
    np.testing.assert_allclose(p.values[:, 0], [100.0, 200.0])
    with pytest.raises(ParameterError, match="h9"):
        consumption_profile(annual_kwh=1.0, category="h9", mode="annual")
    with pytest.raises(ParameterError, match="annual_kwh must not be negative"):
        consumption_profile(annual_kwh=[-1.0], mode="annual")
    with pytest.raises(ParameterError, match="annual_kwh must be finite"):
        consumption_profile(annual_kwh=[float("nan")], mode="annual")
    with pytest.raises(ParameterError, match="one per site"):
        consumption_profile(annual_kwh=[1.0, 2.0, 3.0], category=["g0", "g1"], mode="annual")


def test_no_warning_filter_leaks():
    before = list(warnings.filters)
    consumption_profile(annual_kwh=1.0, mode="hourly")
    pv_profile(**ASSEN, kwp=1.0, mode="hourly")
    assert warnings.filters == before


# --- measured --------------------------------------------------------------------------------


def _year(freq: str = "h", value: float = 0.25, tz: str | None = "UTC") -> pd.DataFrame:
    periods = 8760 if freq == "h" else 35040
    start = pd.Timestamp("2023-01-01", tz=tz).tz_convert("Europe/Amsterdam") if tz else None
    idx = pd.date_range(start, periods=periods, freq=freq)
    return pd.DataFrame({"timestamp": idx, "kwh": value})


@pytest.mark.parametrize("mode", ["annual", "typical_day", "hourly"])
def test_measured_full_year_keeps_its_total(mode):
    rng = np.random.default_rng(5)
    frame = _year("15min")
    frame["kwh"] = rng.random(len(frame))
    p = measured_profile(frame, mode=mode)
    assert p.source == "measured" and p.gaps == () and p.filled_hours == 0
    assert p.annual_kwh == pytest.approx(frame["kwh"].sum(), rel=1e-12)


def test_measured_hourly_strings_with_offsets():
    idx = hourly_index()
    frame = pd.DataFrame({"timestamp": [t.isoformat() for t in idx], "kwh": 1.0})
    p = measured_profile(frame, mode="annual")
    assert p.values[0] == pytest.approx(8760.0)


def test_measured_gaps_are_reported_and_filled():
    frame = _year("h", value=2.0)
    frame = frame.drop(index=range(100, 110)).reset_index(drop=True)
    p = measured_profile(frame, mode="hourly")
    assert len(p.gaps) == 1
    start, end = p.gaps[0]
    assert end - start == pd.Timedelta(hours=10)
    assert p.filled_hours == 10
    assert p.annual_kwh == pytest.approx(8760 * 2.0)


def test_measured_naive_local_times_use_dst_order():
    idx = hourly_index().tz_localize(None)
    frame = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:%S"), "kwh": 1.0})
    p = measured_profile(frame, mode="annual")
    assert p.values[0] == pytest.approx(8760.0)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda f: f.drop(columns="kwh"), "missing column"),
        (lambda f: f.assign(kwh=-1.0), "negative in row"),
        (lambda f: f.assign(kwh=np.where(f.index == 3, np.nan, 1.0)), "not a number in row"),
        (lambda f: pd.concat([f.iloc[:5], f.iloc[4:]]).reset_index(drop=True), "duplicate"),
        (lambda f: f.iloc[::-1].reset_index(drop=True), "go back in time"),
        (lambda f: f.assign(timestamp=f["timestamp"].astype(str).where(f.index != 2, "soon")),
         "not an ISO 8601"),
    ],
)
def test_measured_refuses_bad_data(change, error):
    frame = change(_year("h").iloc[:500].reset_index(drop=True))
    with pytest.raises(ColumnError, match=error):
        measured_profile(frame, mode="annual")


def test_measured_refuses_odd_resolution_long_spans_and_empty_months():
    idx = pd.date_range("2023-01-01", periods=1000, freq="30min", tz="UTC")
    with pytest.raises(ColumnError, match="every 30.0 minutes"):
        measured_profile(pd.DataFrame({"timestamp": idx, "kwh": 1.0}), mode="annual")
    idx = pd.date_range("2023-01-01", periods=9000, freq="h", tz="UTC")
    with pytest.raises(ColumnError, match="at most one year"):
        measured_profile(pd.DataFrame({"timestamp": idx, "kwh": 1.0}), mode="annual")
    with pytest.raises(ColumnError, match="month"):
        measured_profile(_year("h").iloc[:2000], mode="annual")
    odd = _year("h").iloc[:100].copy()
    odd.loc[50:, "timestamp"] = odd.loc[50:, "timestamp"] + pd.Timedelta(minutes=20)
    with pytest.raises(ColumnError, match="whole number"):
        measured_profile(odd, mode="annual")
