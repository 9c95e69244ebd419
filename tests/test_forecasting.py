"""The forecasting functions on small hand-made series: calibration, robustness, hard cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from funnel_anomalies import forecasting
from funnel_anomalies.forecasting import Calendar, ForecastSettings

SETTINGS = ForecastSettings()


def hours(days: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-03-02", periods=days * 24, freq="h")


def daily_rate(days: int, peak: float) -> np.ndarray:
    hour = np.arange(days * 24) % 24
    return peak * (0.55 + 0.45 * np.cos(2 * np.pi * (hour - 18) / 24))


def covered(counts, forecast) -> np.ndarray:
    return (counts >= forecast.lower) & (counts <= forecast.upper)


@pytest.fixture(scope="module")
def poisson_series():
    rng = np.random.default_rng(5)
    rate = daily_rate(35, 120.0)
    return rate, rng.poisson(rate).astype(float)


def test_a_99_percent_band_covers_about_99_percent_of_poisson_hours(poisson_series):
    rate, counts = poisson_series
    fit = forecasting.fit_total(hours(35), counts, SETTINGS)
    assert fit.forecast.status == "fitted"
    coverage = covered(counts, fit.forecast).mean()
    assert 0.975 <= coverage <= 0.999
    # The expectation follows the true rate closely, night and day.
    assert np.median(np.abs(fit.forecast.expected - rate) / rate) < 0.05
    assert (fit.forecast.lower <= fit.forecast.expected).all()
    assert (fit.forecast.expected <= fit.forecast.upper).all()


def test_a_past_incident_neither_bends_nor_widens_later_bands(poisson_series):
    _, counts = poisson_series
    clean_fit = forecasting.fit_total(hours(35), counts, SETTINGS)
    with_incident = counts.copy()
    incident = slice(7 * 24 + 10, 7 * 24 + 16)  # six hours at a tenth of normal in week 2
    with_incident[incident] = np.round(with_incident[incident] * 0.1)
    fit = forecasting.fit_total(hours(35), with_incident, SETTINGS)
    assert fit.is_outlier[incident].all()
    assert fit.prophet_fits == 2
    last_week = slice(28 * 24, 35 * 24)
    width = fit.forecast.upper[last_week] - fit.forecast.lower[last_week]
    clean_width = clean_fit.forecast.upper[last_week] - clean_fit.forecast.lower[last_week]
    assert np.abs(width / clean_width - 1).max() < 0.1
    # The incident hours are far below the expectation, not absorbed into it.
    assert (with_incident[incident] < fit.forecast.lower[incident]).all()


def test_all_zero_series_expects_zero():
    fit = forecasting.fit_total(hours(10), np.zeros(240), SETTINGS)
    assert fit.forecast.status == "all_zero"
    assert fit.prophet_fits == 0
    assert not fit.forecast.expected.any() and not fit.forecast.upper.any()


def test_under_two_days_gets_a_flat_level():
    counts = np.random.default_rng(1).poisson(30, 30).astype(float)
    fit = forecasting.fit_total(hours(2)[:30], counts, SETTINGS)
    assert fit.forecast.status == "short_history"
    assert fit.prophet_fits == 0
    assert np.ptp(fit.forecast.expected) == 0
    assert covered(counts, fit.forecast).mean() > 0.9


def test_under_a_week_is_fitted_without_weekly_seasonality():
    counts = np.random.default_rng(2).poisson(daily_rate(4, 50.0)).astype(float)
    fit = forecasting.fit_total(hours(4), counts, SETTINGS)
    assert fit.forecast.status == "short_history"
    assert fit.prophet_fits >= 1
    assert covered(counts, fit.forecast).mean() > 0.95


def test_a_shop_that_stops_sending_is_forecast_without_crashing():
    rng = np.random.default_rng(3)
    counts = rng.poisson(daily_rate(21, 80.0)).astype(float)
    counts[-3 * 24 :] = 0  # the pixel broke three days before the end
    fit = forecasting.fit_total(hours(21), counts, SETTINGS)
    assert fit.forecast.status == "stopped"
    assert fit.is_outlier[-3 * 24 :].all()
    # The silent days sit below the band: they are flagged, not learnt as normal.
    assert (counts[-2 * 24 :] < fit.forecast.lower[-2 * 24 :]).mean() > 0.5


def test_values_add_up_to_their_total_and_new_values_start_at_zero():
    rng = np.random.default_rng(4)
    days = 21
    rate = daily_rate(days, 100.0)
    steady = rng.poisson(rate * 0.7).astype(float)
    late = np.zeros(days * 24)
    late[10 * 24 :] = rng.poisson(rate[10 * 24 :] * 0.3)  # appears on day 10
    other = rng.poisson(rate * 0.05).astype(float)
    values = np.vstack([steady, late, other])
    total = values.sum(axis=0)
    total_fit = forecasting.fit_total(hours(days), total, SETTINGS)
    value_fits = forecasting.forecast_values(total_fit, values, SETTINGS)
    summed = sum(forecast.expected for forecast in value_fits)
    np.testing.assert_allclose(summed, total_fit.forecast.expected, rtol=1e-9, atol=1e-9)
    assert [forecast.status for forecast in value_fits] == [
        "share_of_total",
        "new_value",
        "share_of_total",
    ]
    assert not value_fits[1].expected[: 10 * 24].any()
    # Its share is learnt from the hours since it appeared, so it has caught up by now.
    assert value_fits[1].expected[-24:].sum() > 0.8 * late[-24:].sum()
    for counts, forecast in zip(values, value_fits, strict=True):
        assert covered(counts, forecast)[12 * 24 :].mean() > 0.95


def test_leaves_add_up_to_their_total_and_a_sparse_leaf_follows_its_window():
    # Leaves of one metric: two large combinations with a daily shape of their own and a
    # sparse one seen a few times a day; every hour's expectations add up to the total's.
    rng = np.random.default_rng(5)
    days = 21
    rate = daily_rate(days, 100.0)
    evening = np.roll(rate, 6)
    leaves = np.vstack(
        [
            rng.poisson(rate * 0.6),
            rng.poisson(evening * 0.4 * rate.mean() / evening.mean()),
            rng.poisson(np.full(days * 24, 0.2)),
        ]
    ).astype(float)
    total_fit = forecasting.fit_total(hours(days), leaves.sum(axis=0), SETTINGS)
    expected = forecasting.forecast_leaves(total_fit, leaves, SETTINGS)
    np.testing.assert_allclose(expected.sum(axis=0), total_fit.forecast.expected, rtol=1e-9)
    # The sparse leaf is not expected at its own few same-hour events but near its share
    # over all hours of the window (0.2 an hour).
    assert np.median(expected[2, 7 * 24 :]) == pytest.approx(0.2, rel=0.5)


def weekday_weekend_rate(index: pd.DatetimeIndex, peak: float) -> np.ndarray:
    """Weekdays peak at 19:00 with a lunch bump; weekend days start late and peak at 22:00."""
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60
    weekday = 0.55 + 0.45 * np.cos(2 * np.pi * (hour - 19) / 24) + 0.2 * np.exp(-((hour - 12) ** 2))
    weekend = np.maximum(0.45 + 0.55 * np.cos(2 * np.pi * (hour - 22) / 24), 0.05)
    return peak * np.where(index.day_of_week.to_numpy() >= 5, 1.2 * weekend, weekday)


def relative_error(fit, rate, where) -> float:
    return float(np.median(np.abs(fit.forecast.expected[where] - rate[where]) / rate[where]))


def test_weekend_days_get_a_shape_of_their_own():
    index = hours(35)
    rate = weekday_weekend_rate(index, 200.0)
    counts = np.random.default_rng(7).poisson(rate).astype(float)
    fit = forecasting.fit_total(index, counts, SETTINGS)
    last_weeks = np.arange(len(index)) >= 14 * 24
    weekend = index.day_of_week.to_numpy() >= 5
    assert relative_error(fit, rate, last_weeks & weekend) < 0.05
    assert relative_error(fit, rate, last_weeks & ~weekend) < 0.05
    assert 0.975 <= covered(counts, fit.forecast)[last_weeks].mean() <= 0.999


def test_the_daily_shape_follows_local_time_across_a_daylight_saving_change():
    # Berlin leaves summer time on 2026-10-25: the local 19:00 peak moves from 17:00 to
    # 18:00 UTC. Fitted in local time the shape moves with it; fitted in UTC it cannot.
    index = pd.date_range("2026-09-20", periods=42 * 24, freq="h")
    local = index.tz_localize("UTC").tz_convert("Europe/Berlin").tz_localize(None)
    rate = weekday_weekend_rate(local, 300.0)
    counts = np.random.default_rng(8).poisson(rate).astype(float)
    after = index >= pd.Timestamp("2026-10-26")
    in_berlin = forecasting.fit_total(index, counts, SETTINGS, Calendar("Europe/Berlin"))
    in_utc = forecasting.fit_total(index, counts, SETTINGS)
    assert relative_error(in_berlin, rate, after) < 0.05
    assert relative_error(in_utc, rate, after) > 1.5 * relative_error(in_berlin, rate, after)


def promotion_days(*days: str, lift: float = np.nan) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "holiday": "summer_sale",
            "ds": pd.to_datetime(list(days)),
            "lower_window": 0,
            "upper_window": 0,
            "expected_lift": lift,
        }
    )


def test_a_day_is_expected_only_after_an_earlier_occurrence_in_the_history():
    index = hours(42)
    usual = daily_rate(42, 150.0)
    sale = np.isin(index.normalize(), pd.to_datetime(["2026-03-20", "2026-04-03"]))
    rate = np.where(sale, usual * 0.6, usual)
    counts = np.random.default_rng(9).poisson(rate).astype(float)
    calendar = Calendar("UTC", promotion_days("2026-03-20", "2026-04-03"))
    fit = forecasting.fit_total(index, counts, SETTINGS, calendar)
    first = index.normalize() == pd.Timestamp("2026-03-20")
    second = index.normalize() == pd.Timestamp("2026-04-03")
    assert set(fit.holiday[first]) == {"summer_sale"}
    assert not fit.holiday_is_expected[first].any() and fit.holiday_is_expected[second].all()
    # The first time it is not expected: its busy hours fall below the band.
    busy = first & (usual > 100)
    assert (counts[busy] < fit.forecast.lower[busy]).mean() > 0.5
    # The second time it is: the expectation follows the lower day. (Prophet adds a
    # holiday's effect to the daily shape's multiplier rather than scaling the shape, so a
    # day that drops in proportion is followed less closely than an ordinary one.)
    assert relative_error(fit, rate, second) < 0.2
    assert covered(counts, fit.forecast)[second].mean() > 0.8


def test_a_promotion_of_a_given_size_is_expected_the_first_time():
    index = hours(28)
    rate = daily_rate(28, 150.0)
    sale = index.normalize() == pd.Timestamp("2026-03-20")
    rate = np.where(sale, rate * 1.5, rate)
    counts = np.random.default_rng(10).poisson(rate).astype(float)
    calendar = Calendar("UTC", promotion_days("2026-03-20", lift=1.5))
    fit = forecasting.fit_total(index, counts, SETTINGS, calendar)
    assert fit.holiday_is_expected[sale].all()
    assert relative_error(fit, rate, sale) < 0.1
    assert covered(counts, fit.forecast)[sale].mean() > 0.9


def test_a_new_level_is_noticed_on_its_first_day_and_followed_within_two():
    index = hours(42)
    rate = daily_rate(42, 120.0)
    shift = np.arange(len(index)) >= 28 * 24 + 12  # +40% from noon of day 28, for good
    rate = np.where(shift, rate * 1.4, rate)
    counts = np.random.default_rng(11).poisson(rate).astype(float)
    fit = forecasting.fit_total(index, counts, SETTINGS)
    first_day = shift & (np.arange(len(index)) < 29 * 24 + 12)
    above = counts > fit.forecast.upper
    assert above[first_day & (rate > 100)].sum() >= 3
    from_day_three = np.arange(len(index)) >= 31 * 24
    assert relative_error(fit, rate, from_day_three) < 0.06
    assert covered(counts, fit.forecast)[from_day_three].mean() > 0.95


def test_error_autocorrelation_measures_how_errors_persist_and_never_goes_negative():
    rng = np.random.default_rng(3)
    shocks = rng.normal(size=5000)
    persistent = np.zeros_like(shocks)
    for hour in range(1, len(shocks)):
        persistent[hour] = 0.6 * persistent[hour - 1] + shocks[hour]
    everywhere = np.ones(len(shocks), dtype=bool)
    assert forecasting.error_autocorrelation(persistent, everywhere) == pytest.approx(0.6, abs=0.05)
    assert forecasting.error_autocorrelation(shocks, everywhere) == pytest.approx(0.0, abs=0.05)
    alternating = np.where(np.arange(len(shocks)) % 2 == 0, 1.0, -1.0) + 0.1 * shocks
    assert forecasting.error_autocorrelation(alternating, everywhere) == 0.0
    # An incident's hours (left out as not clean) do not count as persistence.
    with_incident = shocks.copy()
    with_incident[100:130] = -8.0
    clean = np.abs(with_incident) < 4
    assert forecasting.error_autocorrelation(with_incident, clean) == pytest.approx(0.0, abs=0.05)
    few = np.zeros(len(shocks), dtype=bool)
    few[:20] = True
    assert forecasting.error_autocorrelation(persistent, few) == 0.0


def test_a_model_learns_from_the_hours_before_the_last_day_and_forecasts_that_day(
    poisson_series,
):
    _, counts = poisson_series
    # 34 whole days and 15 hours of the 35th: the model learns the 34 days.
    index, observed = hours(35)[: 34 * 24 + 15], counts[: 34 * 24 + 15]
    assert forecasting.training_hours(index, observed, SETTINGS) == 34 * 24
    model = forecasting.learn_total(index[: 34 * 24], observed[: 34 * 24], SETTINGS)
    assert model.trained_hours == 34 * 24 and len(model.shape) == 35 * 24
    fit = forecasting.fit_total(index, observed, SETTINGS)
    assert fit.trained_hours == 34 * 24
    # The same model applied gives the same forecast as the fit that learnt it.
    applied = forecasting.fit_total(index, observed, SETTINGS, model=model)
    assert np.array_equal(applied.forecast.expected, fit.forecast.expected)
    assert np.array_equal(applied.is_outlier, fit.is_outlier)
    # An hour later in the day the model is the same, and every earlier hour's expectation
    # too: each hour's level is learnt from the hours before it.
    later = forecasting.fit_total(hours(35)[: 34 * 24 + 16], counts[: 34 * 24 + 16], SETTINGS)
    assert np.array_equal(later.forecast.expected[:-1], fit.forecast.expected)
    # The forecast hours are as well covered as the learnt ones.
    today = slice(34 * 24, None)
    assert covered(observed, fit.forecast)[today].mean() >= 0.9


def test_a_model_forecasts_at_most_the_day_after_its_hours(poisson_series):
    _, counts = poisson_series
    model = forecasting.learn_total(hours(30), counts[: 30 * 24], SETTINGS)
    index, observed = hours(32)[: 31 * 24 + 1], counts[: 31 * 24 + 1]
    with pytest.raises(ValueError, match="at most a day more"):
        forecasting.apply_total(model, index, observed, SETTINGS)
    # Through the front door the day's model is learnt instead.
    assert forecasting.fit_total(index, observed, SETTINGS).trained_hours == 31 * 24
