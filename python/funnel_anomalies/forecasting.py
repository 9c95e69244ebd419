"""Expected hourly counts and count-aware bands: pure functions, series in, arrays out.

How a (shop, metric) is forecast:

1. Its total gets a Prophet model (daily and weekly seasonality, optional holidays) fitted
   on sqrt(y + 3/8), a variance-stabilizing transform for counts: on that scale the noise
   of a Poisson-like count hardly depends on its level, so one model serves night and day.
2. Robust training: runs of zeros no Poisson count would produce (an outage, a broken
   pixel) are left out first; then a first fit finds hours far outside expectation
   (|z| > outlier_z); they are left out of the second, final fit and out of the band's
   calibration, so a past incident neither bends the curve nor widens later bands.
3. The band is calibrated on the clean residuals on the transformed scale: their variance
   as a + b * level (extra-Poisson noise grows with volume), and empirical quantiles of
   the standardized residuals, then mapped back to counts: asymmetric, never negative.
4. Each dimension value gets the total's expectation times its share of the total, learnt
   from the same hour of day over the trailing weeks. The values' expectations therefore
   add up to the total's exactly (coherent, so contributions add up), and only the
   totals pay for a Prophet fit. Each value's band is calibrated on its own residuals.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

STABILIZING_OFFSET = 3.0 / 8.0  # Anscombe's offset: sqrt(y + 3/8) for counts
HOURS_PER_DAY = 24
# A series whose last hours are an implausible silence this long has stopped; a single
# silent last hour is more likely an hour still in progress when the data was exported.
STOPPED_AFTER_HOURS = 3


@dataclass(frozen=True)
class ForecastSettings:
    """Everything that changes a forecast; part of the cache key."""

    interval_width: float = 0.99
    outlier_z: float = 4.0
    share_window_days: int = 28
    share_prior_events: float = 30.0
    min_history_days_for_weekly: int = 14
    min_history_days: int = 2
    changepoint_prior_scale: float = 0.05
    seasonality_prior_scale: float = 10.0
    holidays_prior_scale: float = 10.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SeriesForecast:
    """Expected counts and band for every hour of one series."""

    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    noise_scale: np.ndarray  # noise of sqrt(y + 3/8) around sqrt(expected + 3/8)
    status: str
    excluded_hours: int = 0


@dataclass
class TotalFit:
    """The fitted total of one (shop, metric) with what its values need."""

    forecast: SeriesForecast
    is_outlier: np.ndarray
    prophet_fits: int
    warm_start: dict = field(default_factory=dict)


def quiet_stan_logging() -> None:
    """cmdstanpy logs two INFO lines per fit; keep warnings and errors only. cmdstanpy sets
    its logger up on first use unless it already has a handler, so give it one first.
    Prophet's own use of a pandas argument deprecated in pandas 3 is not ours to fix."""
    warnings.filterwarnings("ignore", message="The inplace keyword", module="prophet")
    for name in ("cmdstanpy", "prophet"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.WARNING)
        for handler in logger.handlers:
            handler.setLevel(logging.WARNING)


def _transform(counts: np.ndarray) -> np.ndarray:
    return np.sqrt(counts + STABILIZING_OFFSET)


def _from_transformed(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.square(np.maximum(values, 0.0)) - STABILIZING_OFFSET, 0.0)


def _variance_model(residuals: np.ndarray, level: np.ndarray) -> tuple[float, float]:
    """Least squares of squared residuals on the count level: variance = a + b * level."""
    squared = np.square(residuals)
    if len(squared) < 3:
        return 0.25, 0.0
    design = np.column_stack([np.ones_like(level), level])
    (a, b), *_ = np.linalg.lstsq(design, squared, rcond=None)
    # A Poisson count has variance 1/4 on this scale; never claim less noise than a tenth
    # of that, and never a variance that falls with volume.
    return max(float(a), 0.025), max(float(b), 0.0)


def calibrate_band(
    counts: np.ndarray,
    expected: np.ndarray,
    clean: np.ndarray,
    interval_width: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The band around `expected` (counts), calibrated on the hours where `clean` is true,
    and the noise scale on the transformed scale it was built from."""
    center = _transform(expected)
    residuals = _transform(counts) - center
    a, b = _variance_model(residuals[clean], expected[clean])
    sigma = np.sqrt(a + b * expected)
    tail = (1.0 - interval_width) / 2.0
    gaussian = NormalDist().inv_cdf(1.0 - tail)
    standardized = residuals[clean] / sigma[clean]
    # Empirical tails where there are enough clean hours to see them, never thinner than
    # a normal distribution's.
    if len(standardized) >= 200:
        low_z = min(float(np.quantile(standardized, tail)), -gaussian)
        high_z = max(float(np.quantile(standardized, 1.0 - tail)), gaussian)
    else:
        low_z, high_z = -gaussian, gaussian
    lower = _from_transformed(center + low_z * sigma)
    upper = _from_transformed(center + high_z * sigma)
    return lower, upper, sigma


def _robust_outliers(residuals: np.ndarray, level: np.ndarray, outlier_z: float) -> np.ndarray:
    """Hours whose residual is beyond outlier_z noise levels; the noise level is fitted on
    the bulk of the residuals only, so the incidents being looked for do not inflate it."""
    spread = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
    bulk = np.abs(residuals) <= 5.0 * max(spread, 0.1)
    a, b = _variance_model(residuals[bulk], level[bulk])
    return np.abs(residuals) / np.sqrt(a + b * level) > outlier_z


def _prophet_model(settings: ForecastSettings, history_days: float, holidays):
    # Imported here: cmdstanpy makes its temporary folder when first imported, and only
    # the processes that fit should (forecast_step puts theirs inside the run's folder).
    from prophet import Prophet

    return Prophet(
        growth="linear",
        daily_seasonality=True,
        weekly_seasonality=history_days >= settings.min_history_days_for_weekly,
        yearly_seasonality=False,
        holidays=holidays,
        changepoint_prior_scale=settings.changepoint_prior_scale,
        seasonality_prior_scale=settings.seasonality_prior_scale,
        holidays_prior_scale=settings.holidays_prior_scale,
        uncertainty_samples=0,  # bands come from calibrate_band, not from sampling
    )


def _warm_start(params: dict | None) -> dict | None:
    if not params:
        return None
    return {
        name: np.asarray(value).ravel() if np.ndim(value) else value
        for name, value in params.items()
    }


def _fit_and_predict(frame, settings, history_days, holidays, warm_start):
    model = _prophet_model(settings, history_days, holidays)
    fit_arguments = {}
    if warm_start:
        fit_arguments["inits"] = _warm_start(warm_start)
    try:
        model.fit(frame, **fit_arguments)
    except RuntimeError:
        if not warm_start:
            raise
        # A warm start from a differently shaped model: fit from Prophet's own start.
        model = _prophet_model(settings, history_days, holidays)
        model.fit(frame)
    predicted = model.predict(frame[["ds"]])["yhat"].to_numpy()
    params = {
        name: (float(value[0][0]) if value.shape[1] == 1 else value[0].tolist())
        for name, value in model.params.items()
        if name in ("k", "m", "delta", "beta", "sigma_obs")
    }
    return predicted, params


def fit_total(
    hours: pd.DatetimeIndex,
    counts: np.ndarray,
    settings: ForecastSettings,
    holidays: pd.DataFrame | None = None,
    warm_start: dict | None = None,
) -> TotalFit:
    """Expected counts and band of one total series, robust to past incidents."""
    counts = np.asarray(counts, dtype=float)
    history_days = len(counts) / HOURS_PER_DAY
    nothing = np.zeros(len(counts), dtype=bool)
    if counts.sum() == 0:
        zeros = np.zeros(len(counts))
        quiet = np.full(len(counts), 0.5)  # a Poisson count's noise on this scale
        return TotalFit(SeriesForecast(zeros, zeros, zeros, quiet, "all_zero"), nothing, 0)
    if history_days < settings.min_history_days:
        # Too short for a daily curve: a flat expectation at the typical level.
        expected = np.full(len(counts), float(np.median(counts)))
        lower, upper, noise = calibrate_band(counts, expected, ~nothing, settings.interval_width)
        forecast = SeriesForecast(expected, lower, upper, noise, "short_history")
        return TotalFit(forecast, nothing, 0)

    # Silence that cannot be chance (a broken pixel, an outage) is left out of both fits:
    # left in, a flexible trend would bend down to it and expect the silence.
    silent = implausible_zero_runs(counts)
    frame = pd.DataFrame({"ds": hours, "y": _transform(counts)})
    first_training = frame.assign(y=frame["y"].where(~silent))
    first_pass, params = _fit_and_predict(
        first_training, settings, history_days, holidays, warm_start
    )
    is_outlier = silent | _robust_outliers(
        np.where(silent, 0.0, frame["y"].to_numpy() - first_pass),
        _from_transformed(first_pass),
        settings.outlier_z,
    )
    fits = 1
    center = first_pass
    if (is_outlier & ~silent).any():
        training = frame.assign(y=frame["y"].where(~is_outlier))
        center, params = _fit_and_predict(training, settings, history_days, holidays, params)
        fits = 2
    expected = np.maximum(np.square(np.maximum(center, 0.0)) - 0.125, 0.0)
    lower, upper, noise = calibrate_band(counts, expected, ~is_outlier, settings.interval_width)
    if silent[-STOPPED_AFTER_HOURS:].all():
        status = "stopped"
    elif history_days >= 7:
        status = "fitted"
    else:
        status = "short_history"
    forecast = SeriesForecast(expected, lower, upper, noise, status, int(is_outlier.sum()))
    return TotalFit(forecast, is_outlier, fits, params)


def implausible_zero_runs(counts: np.ndarray, max_probability: float = 1e-6) -> np.ndarray:
    """Hours inside runs of zeros that a Poisson count at the series' usual level for
    those hours of the day would produce with probability below max_probability."""
    counts = np.asarray(counts, dtype=float)
    hour_of_day = np.arange(len(counts)) % HOURS_PER_DAY
    usual = np.zeros(HOURS_PER_DAY)
    for hour in range(HOURS_PER_DAY):
        same_hour = counts[hour_of_day == hour]
        usual[hour] = np.median(same_hour) if len(same_hour) else 0.0
    silent = np.zeros(len(counts), dtype=bool)
    is_zero = counts == 0
    start = 0
    while start < len(counts):
        if not is_zero[start]:
            start += 1
            continue
        end = start
        while end < len(counts) and is_zero[end]:
            end += 1
        # P(a run of zeros) = exp(-sum of the usual rates over the run)
        if usual[hour_of_day[start:end]].sum() > -np.log(max_probability):
            silent[start:end] = True
        start = end
    return silent


def _trailing_same_hour_sums(values: np.ndarray, window_days: int) -> np.ndarray:
    """For every hour, the sum of `values` at the same hour of the previous window_days
    days (columns are hours; rows are series). The current hour is not included."""
    sums = np.zeros_like(values, dtype=float)
    for hour_of_day in range(HOURS_PER_DAY):
        same_hour = values[:, hour_of_day::HOURS_PER_DAY]
        running = np.cumsum(same_hour, axis=1)
        running = np.concatenate([np.zeros((values.shape[0], 1)), running], axis=1)
        days = same_hour.shape[1]
        end = np.arange(days)  # exclusive of the current day
        start = np.maximum(end - window_days, 0)
        sums[:, hour_of_day::HOURS_PER_DAY] = running[:, end] - running[:, start]
    return sums


def _trailing_sums(values: np.ndarray, window_hours: int) -> np.ndarray:
    running = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1)], axis=1)
    end = np.arange(values.shape[1])
    start = np.maximum(end - window_hours, 0)
    return running[:, end] - running[:, start]


def value_shares(
    value_counts: np.ndarray, clean: np.ndarray, settings: ForecastSettings
) -> np.ndarray:
    """Each value's expected share of its total for every hour; the shares of a dimension
    add up to one. A value's share is its part of the total at the same hour of day over
    the trailing window, shrunk towards its part over all hours of that window. Only hours
    since the value first appeared count, so a new value is not diluted by the weeks
    before it existed; hours flagged on the total are left out. The first hour, with no
    history at all, uses the first day's shares."""
    value_counts = np.asarray(value_counts, dtype=float)
    hour_index = np.arange(value_counts.shape[1])
    first_seen = np.argmax(value_counts > 0, axis=1)
    since_seen = hour_index[np.newaxis, :] >= first_seen[:, np.newaxis]
    usable = since_seen & clean[np.newaxis, :]
    own = value_counts * usable
    total = value_counts.sum(axis=0)[np.newaxis, :] * usable
    window_hours = settings.share_window_days * HOURS_PER_DAY
    own_same_hour = _trailing_same_hour_sums(own, settings.share_window_days)
    total_same_hour = _trailing_same_hour_sums(total, settings.share_window_days)
    own_all_hours = _trailing_sums(own, window_hours)
    total_all_hours = _trailing_sums(total, window_hours)
    # Before any history: the first day's shares (the whole series' if the first day is empty).
    first_day = value_counts[:, :HOURS_PER_DAY].sum(axis=1)
    if first_day.sum() == 0:
        first_day = value_counts.sum(axis=1)
    first_day_share = first_day / max(first_day.sum(), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        prior = np.where(
            total_all_hours > 0, own_all_hours / total_all_hours, first_day_share[:, np.newaxis]
        )
    prior = np.where(since_seen | (total_all_hours == 0), prior, 0.0)
    weight = settings.share_prior_events
    raw = (own_same_hour + weight * prior) / (total_same_hour + weight)
    column_sums = raw.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(column_sums > 0, raw / column_sums, 0.0)


def forecast_values(
    total: TotalFit,
    value_counts: np.ndarray,
    settings: ForecastSettings,
) -> list[SeriesForecast]:
    """Expected counts and bands of a dimension's values (rows of value_counts)."""
    value_counts = np.asarray(value_counts, dtype=float)
    shares = value_shares(value_counts, ~total.is_outlier, settings)
    forecasts = []
    history_days = value_counts.shape[1] / HOURS_PER_DAY
    for counts, share in zip(value_counts, shares, strict=True):
        expected = total.forecast.expected * share
        if counts.sum() == 0:
            zeros = np.zeros(len(counts))
            quiet = np.full(len(counts), 0.5)
            forecasts.append(SeriesForecast(zeros, zeros, zeros, quiet, "all_zero"))
            continue
        # A value is new if it first appears after the first week: its share is still
        # being learnt, and its band is calibrated on the hours since it appeared.
        first_seen = int(np.argmax(counts > 0))
        seen = np.arange(len(counts)) >= first_seen
        clean = seen & ~total.is_outlier
        residual_outlier = _robust_outliers(
            _transform(counts) - _transform(expected), expected, settings.outlier_z
        )
        clean &= ~residual_outlier
        lower, upper, noise = calibrate_band(counts, expected, clean, settings.interval_width)
        if total.forecast.status in ("all_zero", "short_history", "stopped"):
            status = total.forecast.status
        elif first_seen >= 7 * HOURS_PER_DAY and history_days > 7:
            status = "new_value"
        else:
            status = "share_of_total"
        forecasts.append(
            SeriesForecast(expected, lower, upper, noise, status, int((~clean & seen).sum()))
        )
    return forecasts
