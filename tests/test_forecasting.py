"""The forecasting functions on small hand-made series: calibration, robustness, hard cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from funnel_anomalies import forecasting
from funnel_anomalies.forecasting import ForecastSettings

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
