"""Expected hourly counts and count-aware bands: pure functions, series in, arrays out.

How a (shop, metric) total is forecast. Its model is learnt once a day, from the hours
before the UTC day of its last hour (learn_total), and forecasts that day; every run of the
day applies it to the hours it has (apply_total), so an hourly run fits nothing and an
earlier hour keeps its expectation and band all day:

1. **Shape.** Prophet, on sqrt(y + 3/8) (a variance-stabilizing transform for counts) in
   the shop's local time, with multiplicative seasonality: one daily shape for weekdays
   and one for weekend days (conditional seasonalities), a weekly shape for the level of
   each day, the holidays of the shop's country and the promotions seed, and a stiff
   trend. Multiplicative on the square-root scale is multiplicative on counts too
   (sqrt(L s) = sqrt(L) sqrt(s)), so a day's hourly shape scales with the day's level.
2. **Level.** The expectation of an hour is that shape times a level learnt only from
   the hours before it: an exponentially weighted ratio of counts to shape over the
   recent past, skipping hours far off expectation (an incident does not teach the level)
   unless they persist for `level_shift_hours` (then they are a new level, followed).
   Candidate half-lives are compared by a rolling-origin backtest over the last weeks
   (each hour forecast from the hours before it); the one with the lowest error is kept.
3. **Robust to past incidents**: runs of zeros no Poisson count would produce are left
   out of every fit, and the hours the level step flags are left out of Prophet's second
   and final fit, so an incident neither bends the shape nor teaches the level.
4. **Noise.** The out-of-sample errors on the square-root scale get a Student-t model
   whose scale grows with the level as a + b * level + c / (level + 1) (Poisson noise,
   noise proportional to volume, bursts of a fixed size) and whose degrees of freedom say
   how heavy the series' tails are. The band is its interval, mapped back to counts
   (asymmetric, never negative); the score threshold of the series is the t quantile at
   `anomaly_risk`, so a bursty series needs a larger deviation to be flagged than a calm one.
   How much an error persists into the next hour (its lag-1 autocorrelation) goes with
   it: fct_anomalies scores runs of hours by it.
5. **Holidays are learnt, not assumed.** A holiday's effect applies only where an earlier
   occurrence of it lies in the series' own history; the first time a shop meets it, it
   is not expected (and is flagged if it moves the shop), unless it is a promotion whose
   size the user gave.
6. **Dimension values** get the total's expectation times their share of it, learnt at
   the same hour of day over the trailing weeks, so that the values of a dimension add up
   to their total; each value has its own noise model, learnt from the hours its
   total's model learnt.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import gammaln, stdtrit

from funnel_anomalies import project

STABILIZING_OFFSET = float(project.dbt_var("variance_stabilizing_offset"))  # sqrt(y + 3/8)
HOURS_PER_DAY = 24
# A series whose last hours are an implausible silence this long has stopped; a single
# silent last hour is more likely an hour still in progress when the data was exported.
STOPPED_AFTER_HOURS = 3
# The smallest noise the model may claim on the square-root scale (a Poisson count's is
# 1/4): a tenth of that.
MIN_NOISE_VARIANCE = 0.025
MAX_DEGREES_OF_FREEDOM = 200.0


@dataclass(frozen=True)
class ForecastSettings:
    """Everything that changes a forecast; part of the cache key."""

    interval_width: float = 0.99
    # The chance, per hour of a series, that its normal variability alone reaches the
    # score threshold (both directions together): that of 4 noise levels of a normal.
    anomaly_risk: float = 6.334e-5
    outlier_z: float = 4.0
    share_window_days: int = 28
    share_prior_events: float = 30.0
    min_history_days_for_weekly: int = 14
    min_history_days: int = 2
    seasonality_prior_scale: float = 10.0
    holidays_prior_scale: float = 10.0
    daily_fourier_order: int = 10
    weekly_fourier_order: int = 3
    # Candidate half-lives of the level, in hours; 0 stands for none (Prophet's trend).
    level_half_lives_hours: tuple[int, ...] = (0, 24, 72, 168)
    level_prior_events: float = 50.0
    level_shift_hours: int = 24
    backtest_days: int = 14

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Calendar:
    """A shop's local time and the days that may move it: its country's holidays and the
    promotions seed, as Prophet holidays (`holiday`, `ds`, `lower_window`, `upper_window`)
    with `expected_lift` (the user's size of a promotion, else NaN)."""

    time_zone: str = "UTC"
    days: pd.DataFrame | None = None


@dataclass(frozen=True)
class NoiseModel:
    """Student-t noise on the square-root scale: scale^2 = a + b * level + c / (level + 1)."""

    a: float = 0.25
    b: float = 0.0
    c: float = 0.0
    degrees_of_freedom: float = MAX_DEGREES_OF_FREEDOM

    def scale(self, level: np.ndarray) -> np.ndarray:
        level = np.maximum(np.asarray(level, dtype=float), 0.0)
        return np.sqrt(self.a + self.b * level + self.c / (level + 1.0))

    def quantile(self, probability: float) -> float:
        return float(stdtrit(self.degrees_of_freedom, probability))

    def score_threshold(self, risk: float) -> float:
        return self.quantile(1.0 - risk / 2.0)


@dataclass
class SeriesForecast:
    """Expected counts and band for every hour of one series."""

    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    noise_scale: np.ndarray  # noise of sqrt(y + 3/8) around sqrt(expected + 3/8)
    status: str
    excluded_hours: int = 0
    score_threshold: float = 4.0
    noise_degrees_of_freedom: float = MAX_DEGREES_OF_FREEDOM
    noise_autocorrelation: float = 0.0


@dataclass
class TotalFit:
    """The fitted total of one (shop, metric) with what its values need."""

    forecast: SeriesForecast
    is_outlier: np.ndarray
    prophet_fits: int
    level_half_life_hours: int | None = None  # the backtest's choice; 0: no level
    backtest_mae: float | None = None
    holiday: np.ndarray | None = None  # the holiday or promotion of each hour, or None
    holiday_is_expected: np.ndarray | None = None
    trained_hours: int = 0  # the leading hours its model learnt from (0: no model)

    def learnt(self) -> np.ndarray:
        """The hours its model learnt from (every hour where it has none). Its values' and
        leaves' noise is learnt from these hours too, so that every run of a day gives an
        hour the same band and verdict."""
        hours = len(self.is_outlier)
        return np.arange(hours) < (self.trained_hours or hours)


@dataclass
class TotalModel:
    """What a total learns once a day (learn_total): the shape of every hour it learnt
    from and of the day after them, and its level and noise. Any run of that day applies
    it to the hours it has (apply_total) without fitting again."""

    shape: np.ndarray  # expected counts before the level: learnt hours, then HOURS_PER_DAY
    trained_hours: int
    first_noise: NoiseModel  # the bulk's noise, which decides what is far off
    teach_z: float
    level_half_life_hours: int
    noise: NoiseModel
    noise_autocorrelation: float
    backtest_mae: float | None
    prophet_fits: int
    excluded_hours: int  # learnt hours left out as far off
    usual: np.ndarray  # the learnt hours' median count at each hour of the day


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
    return np.sqrt(np.asarray(counts, dtype=float) + STABILIZING_OFFSET)


def _from_transformed(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.square(np.maximum(values, 0.0)) - STABILIZING_OFFSET, 0.0)


# ---- noise ----


def _noise_design(level: np.ndarray) -> np.ndarray:
    level = np.maximum(level, 0.0)
    return np.column_stack([np.ones_like(level), level, 1.0 / (level + 1.0)])


def _nonnegative_least_squares(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient kept at zero or above (three columns: a
    dropped negative term is refitted without)."""
    active = np.ones(design.shape[1], dtype=bool)
    coefficients = np.zeros(design.shape[1])
    for _ in range(design.shape[1]):
        solved, *_ = np.linalg.lstsq(design[:, active], target, rcond=None)
        coefficients[:] = 0.0
        coefficients[active] = solved
        if (solved >= 0).all():
            break
        active[np.flatnonzero(active)[solved < 0]] = False
    return coefficients


# From just above 4: the scale is fitted as a regression of squared errors, which needs
# errors with a finite fourth moment (a t has one beyond 4 degrees of freedom); tails any
# heavier are a series' incidents rather than its noise.
DEGREES_OF_FREEDOM_GRID = np.geomspace(4.5, MAX_DEGREES_OF_FREEDOM, 40)


# The part of a t's log density that depends on its degrees of freedom alone, per grid point.
_GRID_CONSTANTS = (
    gammaln((DEGREES_OF_FREEDOM_GRID + 1) / 2)
    - gammaln(DEGREES_OF_FREEDOM_GRID / 2)
    - 0.5 * np.log(DEGREES_OF_FREEDOM_GRID * np.pi)
)


def _t_log_likelihoods(squared_ratio: np.ndarray) -> np.ndarray:
    """Log-likelihood of standardized squared errors under a Student-t of each degrees of
    freedom of the grid."""
    grid = DEGREES_OF_FREEDOM_GRID[:, np.newaxis]
    tails = np.log1p(squared_ratio[np.newaxis, :] / grid).sum(axis=1)
    return len(squared_ratio) * _GRID_CONSTANTS - (DEGREES_OF_FREEDOM_GRID + 1) / 2 * tails


def _most_likely_degrees_of_freedom(squared_ratio: np.ndarray) -> float:
    """The grid's degrees of freedom under which the standardized errors are likeliest
    (a grid evaluated at once is faster than a search, and finer than it needs)."""
    likelihoods = _t_log_likelihoods(squared_ratio)
    return float(DEGREES_OF_FREEDOM_GRID[int(np.argmax(likelihoods))])


def _as_noise_model(coefficients: np.ndarray, dof: float) -> NoiseModel:
    a, b, c = (float(value) for value in coefficients)
    return NoiseModel(max(a, MIN_NOISE_VARIANCE), max(b, 0.0), max(c, 0.0), float(dof))


def fit_noise(residuals: np.ndarray, level: np.ndarray, iterations: int = 12) -> NoiseModel:
    """The noise of `residuals` (square-root scale) around a scale that depends on the
    count `level`: a Student-t, fitted by expectation-maximization (Lange, Little and
    Taylor, 1989), each hour weighted by how plausible it is under the current tails.

    How heavy the tails are sets every threshold, and a thousand hours say little about
    it: a few errors of 3.5 noise levels are as likely a normal's chance as a heavy tail.
    So the degrees of freedom kept are the largest (the lightest tails) that the errors do
    not reject at 95% (the profile likelihood's bound, half of chi-squared's 3.84 below its
    peak): a series must show its heavy tails before its thresholds rise."""
    residuals = np.asarray(residuals, dtype=float)
    level = np.asarray(level, dtype=float)
    if len(residuals) < 24:
        return NoiseModel()
    design = _noise_design(level)
    squared = np.square(residuals)
    dof = 10.0
    coefficients = _nonnegative_least_squares(design, squared)
    for _ in range(iterations):
        scale2 = np.maximum(design @ coefficients, MIN_NOISE_VARIANCE)
        weights = (dof + 1) / (dof + squared / scale2)
        coefficients = _nonnegative_least_squares(design, weights * squared)
        scale2 = np.maximum(design @ coefficients, MIN_NOISE_VARIANCE)
        dof = _most_likely_degrees_of_freedom(squared / scale2)
    profile = _t_log_likelihoods(squared / scale2)
    plausible = DEGREES_OF_FREEDOM_GRID[profile >= profile.max() - 3.84 / 2]
    lightest = float(plausible.max())
    if lightest >= MAX_DEGREES_OF_FREEDOM:
        # A normal's tails fit: its scale is the plain least-squares one.
        return _as_noise_model(_nonnegative_least_squares(design, squared), lightest)
    return _as_noise_model(coefficients, lightest)


def band_from_noise(
    expected: np.ndarray, noise: NoiseModel, interval_width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The band around `expected` (counts) and the noise scale it was built from."""
    center = _transform(expected)
    scale = noise.scale(expected)
    half_width = noise.quantile(1.0 - (1.0 - interval_width) / 2.0)
    return (
        _from_transformed(center - half_width * scale),
        _from_transformed(center + half_width * scale),
        scale,
    )


# Pairs of consecutive clean hours below which an autocorrelation is not estimated (0).
MIN_AUTOCORRELATION_PAIRS = 48
MAX_AUTOCORRELATION = 0.95


def error_autocorrelation(standardized: np.ndarray, clean: np.ndarray) -> float:
    """The lag-1 autocorrelation of a series' standardized errors over pairs of
    consecutive clean hours, in [0, MAX_AUTOCORRELATION]. Errors that persist from hour to
    hour (real traffic's bursts, a level the model follows late) make a run of deviations
    likelier than independent hours would be; the anomaly rule's run score divides by the
    spread of a sum of such errors. Negative values count as none: a run is never scored
    as rarer than under independent errors."""
    standardized = np.asarray(standardized, dtype=float)
    pairs = clean[:-1] & clean[1:]
    if pairs.sum() < MIN_AUTOCORRELATION_PAIRS:
        return 0.0
    earlier, later = standardized[:-1][pairs], standardized[1:][pairs]
    spread = earlier.std() * later.std()
    if spread == 0:
        return 0.0
    correlation = float(np.mean((earlier - earlier.mean()) * (later - later.mean())) / spread)
    return float(np.clip(correlation, 0.0, MAX_AUTOCORRELATION))


def _bulk_noise(residuals: np.ndarray, level: np.ndarray) -> NoiseModel:
    """A first, robust noise model from the bulk of the residuals (within five MADs), for
    deciding which hours are far off before the noise is known."""
    spread = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
    bulk = np.abs(residuals) <= 5.0 * max(spread, 0.1)
    if bulk.sum() < 3:
        return NoiseModel()
    design = np.column_stack([np.ones(bulk.sum()), np.maximum(level[bulk], 0.0)])
    a, b = _nonnegative_least_squares(design, np.square(residuals[bulk]))
    return NoiseModel(max(float(a), MIN_NOISE_VARIANCE), max(float(b), 0.0))


# ---- time and calendar ----


def local_hours(hours: pd.DatetimeIndex, time_zone: str) -> pd.DatetimeIndex:
    """UTC hours as the shop's wall-clock time: the daily shape follows it, so a change to
    or from daylight saving time does not move the shape by an hour."""
    return hours.tz_localize("UTC").tz_convert(time_zone).tz_localize(None)


@dataclass(frozen=True)
class _CalendarDays:
    """The calendar's days that touch a series: the Prophet holidays frame, and for each
    hour the day's name and whether its effect may be expected there."""

    prophet_frame: pd.DataFrame | None
    name: np.ndarray  # object array, None where no holiday or promotion
    is_expected: np.ndarray
    lift: np.ndarray  # the user's size where a promotion is expected from it, else 1


def _calendar_days(local: pd.DatetimeIndex, calendar: Calendar) -> _CalendarDays:
    hours = len(local)
    name = np.full(hours, None, dtype=object)
    is_expected = np.zeros(hours, dtype=bool)
    lift = np.ones(hours)
    days = calendar.days
    if days is None or days.empty:
        return _CalendarDays(None, name, is_expected, lift)
    local_days = local.normalize()
    first_day, last_day = local_days.min(), local_days.max()
    seen: set[str] = set()
    used = []
    for row in days.sort_values(["ds", "holiday"]).itertuples(index=False):
        start = pd.Timestamp(row.ds) + pd.Timedelta(days=int(row.lower_window))
        end = pd.Timestamp(row.ds) + pd.Timedelta(days=int(row.upper_window))
        if end < first_day or start > last_day:
            continue
        used.append(row)
        within = (local_days >= start) & (local_days <= end)
        # Learnt only from an earlier occurrence in this series' own history.
        expected_here = row.holiday in seen
        user_lift = getattr(row, "expected_lift", np.nan)
        name[within] = row.holiday
        if expected_here:
            is_expected[within] = True
        elif pd.notna(user_lift):
            is_expected[within] = True
            lift[within] = float(user_lift)
        if within.any():
            seen.add(row.holiday)
    if not used:
        return _CalendarDays(None, name, is_expected, lift)
    frame = pd.DataFrame(used)[["holiday", "ds", "lower_window", "upper_window"]]
    frame["ds"] = pd.to_datetime(frame["ds"])
    return _CalendarDays(frame, name, is_expected, lift)


# ---- shape ----


_BACKEND = None


def _stan_backend():
    """Prophet's cmdstanpy backend, handing cmdstanpy the data as numpy arrays: Prophet's
    own turns them into Python lists first, which cmdstanpy then walks value by value to
    write its JSON, most of a fit's time at hourly resolution."""
    global _BACKEND
    if _BACKEND is None:
        from prophet.models import CmdStanPyBackend

        class NumpyDataBackend(CmdStanPyBackend):
            @staticmethod
            def prepare_data(init, data):
                arrays = {
                    name: np.asarray(data[name], dtype=float)
                    for name in ("y", "t", "cap", "t_change", "s_a", "s_m")
                }
                arrays["X"] = data["X"].to_numpy(dtype=float)
                scalars = {name: data[name] for name in ("T", "S", "K", "tau")}
                scalars["trend_indicator"] = data["trend_indicator"]
                scalars["sigmas"] = np.asarray(data["sigmas"], dtype=float)
                inits = {
                    "k": init["k"],
                    "m": init["m"],
                    "delta": np.asarray(init["delta"], dtype=float),
                    "beta": np.asarray(init["beta"], dtype=float),
                    "sigma_obs": init["sigma_obs"],
                }
                return inits, {**scalars, **arrays}

        _BACKEND = NumpyDataBackend()
    return _BACKEND


class SharedFeatures:
    """Prophet's regression features of the largest frame one series has shown it, kept
    for the next fit and predict of that series. Every feature of an hour (its Fourier
    terms, weekday or weekend condition, holidays) depends only on that hour's local time,
    so any frame whose hours all lie in the kept one takes its rows from it: a series'
    two fits and two predicts build them once instead of four times."""

    def __init__(self) -> None:
        self.hours: np.ndarray | None = None
        self.built: tuple | None = None
        self.holiday_names = None

    def rows_for(self, hours: np.ndarray) -> np.ndarray | None:
        if self.hours is None:
            return None
        rows = np.minimum(np.searchsorted(self.hours, hours), len(self.hours) - 1)
        return rows if np.array_equal(self.hours[rows], hours) else None


_FEATURE_SHARING_PROPHET = None


def _feature_sharing_prophet():
    # Imported here: cmdstanpy makes its temporary folder when first imported, and only
    # the processes that fit should (forecast_step puts theirs inside the run's folder).
    global _FEATURE_SHARING_PROPHET
    if _FEATURE_SHARING_PROPHET is None:
        from prophet import Prophet

        class FeatureSharingProphet(Prophet):
            shared_features: SharedFeatures | None = None

            def make_all_seasonality_features(self, df):
                shared = self.shared_features
                if shared is None:
                    return super().make_all_seasonality_features(df)
                hours = df["ds"].to_numpy()
                rows = shared.rows_for(hours)
                if rows is None:
                    built = super().make_all_seasonality_features(df)
                    if shared.hours is None or len(hours) > len(shared.hours):
                        shared.hours, shared.built = hours, built
                        shared.holiday_names = self.train_holiday_names
                    return built
                features, prior_scales, component_columns, modes = shared.built
                if self.train_holiday_names is None:
                    self.train_holiday_names = shared.holiday_names
                chosen = features.iloc[rows].reset_index(drop=True)
                return chosen, list(prior_scales), component_columns, modes

        _FEATURE_SHARING_PROPHET = FeatureSharingProphet
    return _FEATURE_SHARING_PROPHET


def _prophet_model(
    settings: ForecastSettings, history_days: float, holidays, shared: SharedFeatures
):
    model = _feature_sharing_prophet()(
        growth="linear",
        daily_seasonality=False,
        weekly_seasonality=False,
        yearly_seasonality=False,
        seasonality_mode="multiplicative",
        holidays=holidays,
        # A trend that hardly bends: one fitted to every hour at once would bend towards a
        # step in level it sees on both sides; the level is learnt from the hours before
        # each hour instead. (A straight trend without changepoints, the stiffest, makes
        # Prophet's optimizer fail over to a minute-long search on some series.)
        n_changepoints=3,
        changepoint_prior_scale=0.001,
        seasonality_prior_scale=settings.seasonality_prior_scale,
        holidays_prior_scale=settings.holidays_prior_scale,
        uncertainty_samples=0,  # bands come from the out-of-sample noise model
    )
    for day_kind in ("weekday", "weekend"):
        model.add_seasonality(
            f"daily_{day_kind}",
            period=1,
            fourier_order=settings.daily_fourier_order,
            condition_name=f"is_{day_kind}",
        )
    if history_days >= settings.min_history_days_for_weekly:
        model.add_seasonality("weekly", period=7, fourier_order=settings.weekly_fourier_order)
    model.stan_backend = _stan_backend()
    model.shared_features = shared
    return model


def _shape_frame(local: pd.DatetimeIndex, counts: np.ndarray) -> pd.DataFrame:
    """Prophet's frame of `local` hours; the hours past `counts` have no y (the day ahead)."""
    y = np.full(len(local), np.nan)
    y[: len(counts)] = _transform(counts)
    frame = pd.DataFrame({"ds": local, "y": y})
    frame["is_weekday"] = local.day_of_week < 5
    frame["is_weekend"] = ~frame["is_weekday"]
    return frame


def _fit_shape(frame, trained, excluded, settings, history_days, days: _CalendarDays, shared):
    """Prophet's expectation on the square-root scale for every hour of `frame`, learnt
    from its first `trained` hours less the `excluded` ones, with each holiday's effect
    left out where it may not be expected yet."""
    training = frame.iloc[:trained].assign(y=frame["y"].iloc[:trained].where(~excluded))
    # L-BFGS whose line search stops short ("no more progress can be made") keeps its last
    # point, as close to the optimum as the point of a run that converged; Prophet would
    # refit with Newton's method instead, at ten to twenty times the cost.
    model = _prophet_model(settings, history_days, days.prophet_frame, shared)
    model.fit(training, require_converged=False)
    predicted = model.predict(frame)
    center = predicted["yhat"].to_numpy()
    if days.prophet_frame is not None:
        for holiday in days.prophet_frame["holiday"].unique():
            # Not learnt from an earlier occurrence (the user's lift applies, if any).
            not_yet = (days.name == holiday) & (~days.is_expected | (days.lift != 1.0))
            if not_yet.any() and holiday in predicted:
                effect = predicted[holiday].to_numpy()
                center = np.where(not_yet, center - predicted["trend"].to_numpy() * effect, center)
    return center


# ---- level ----


def online_level(
    counts: np.ndarray,
    base: np.ndarray,
    half_life_hours: float,
    noise: NoiseModel,
    teach_z: float,
    never: np.ndarray,
    prior_events: float,
    shift_hours: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each hour's expectation `base` times a level learnt from the hours before it, and
    which hours taught it nothing. The level is an exponentially weighted ratio of counts
    to `base`, shrunk to 1 by `prior_events`. An hour outside the band (beyond `teach_z`
    noise levels) is unexpected and teaches the level nothing, unless `shift_hours`
    unexpected hours in one direction gather within twice that many hours: then they are
    a new level (a campaign, a move of the trend), taught at once, so the level follows
    within a day or two while an incident of a few hours never becomes normal. Hours in
    `never` (silences no chance explains) never teach. A half-life of 0 keeps the level at
    1 (Prophet's trend alone)."""
    hours = len(counts)
    expected = np.array(base, dtype=float)
    untaught = np.zeros(hours, dtype=bool)
    adapts = half_life_hours > 0
    decay = 0.5 ** (1.0 / half_life_hours) if adapts else 1.0
    counts_sum = base_sum = 0.0
    pending: dict[float, list[int]] = {1.0: [], -1.0: []}
    transformed = _transform(counts)
    for hour in range(hours):
        if adapts:
            expected[hour] = base[hour] * (counts_sum + prior_events) / (base_sum + prior_events)
        level = max(float(expected[hour]), 0.0)
        # The noise model's scale, in scalar arithmetic: this loop runs once an hour.
        scale = math.sqrt(noise.a + noise.b * level + noise.c / (level + 1.0))
        deviation = (transformed[hour] - math.sqrt(level + STABILIZING_OFFSET)) / scale
        taught: list[int] = []
        if never[hour]:
            untaught[hour] = True
        elif abs(deviation) > teach_z:
            untaught[hour] = True
            direction = 1.0 if deviation > 0 else -1.0
            recent = [past for past in pending[direction] if past > hour - 2 * shift_hours]
            pending[direction] = [*recent, hour]
            if len(pending[direction]) >= shift_hours:
                taught, pending[direction] = pending[direction], []
        else:
            taught = [hour]
        if adapts:
            counts_sum *= decay
            base_sum *= decay
            for past in taught:
                weight = decay ** (hour - past)
                counts_sum += weight * counts[past]
                base_sum += weight * base[past]
    return expected, untaught


def _backtest_window(hours: int, settings: ForecastSettings) -> np.ndarray:
    days = min(settings.backtest_days, max(1, hours // HOURS_PER_DAY // 3))
    return np.arange(hours) >= hours - days * HOURS_PER_DAY


# ---- the total ----


def training_hours(hours: pd.DatetimeIndex, counts: np.ndarray, settings: ForecastSettings) -> int:
    """How many leading hours a total's model learns from: those before the UTC day of its
    last hour, so that the model is learnt once a day and every run of that day applies it
    (a model depends only on what it learnt from: hourly runs and a full rebuild meet the
    same one). 0 when those hours are too few for a daily curve, or silent: no model."""
    trained = int(hours.searchsorted(hours[-1].normalize())) if len(hours) else 0
    if trained < settings.min_history_days * HOURS_PER_DAY:
        return 0
    if not np.any(np.asarray(counts[:trained]) > 0):
        return 0
    return trained


def _next_day(hours: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """`hours` and the HOURS_PER_DAY hours after them: what a model forecasts."""
    ahead = pd.date_range(hours[-1], periods=HOURS_PER_DAY + 1, freq="h")[1:]
    return hours.append(ahead)


def fit_total(
    hours: pd.DatetimeIndex,
    counts: np.ndarray,
    settings: ForecastSettings,
    calendar: Calendar | None = None,
    model: TotalModel | None = None,
) -> TotalFit:
    """Expected counts and band of one total series, robust to past incidents: its model
    (`model`, else learnt from the hours training_hours gives) applied to every hour."""
    counts = np.asarray(counts, dtype=float)
    nothing = np.zeros(len(counts), dtype=bool)
    if counts.sum() == 0:
        zeros = np.zeros(len(counts))
        quiet = np.full(len(counts), 0.5)  # a Poisson count's noise on this scale
        return TotalFit(SeriesForecast(zeros, zeros, zeros, quiet, "all_zero"), nothing, 0)
    trained = training_hours(hours, counts, settings)
    if trained == 0:
        # Too short for a daily curve: a flat expectation at the typical level.
        expected = np.full(len(counts), float(np.median(counts)))
        noise = NoiseModel()
        lower, upper, scale = band_from_noise(expected, noise, settings.interval_width)
        forecast = SeriesForecast(
            expected,
            lower,
            upper,
            scale,
            "short_history",
            score_threshold=noise.score_threshold(settings.anomaly_risk),
        )
        return TotalFit(forecast, nothing, 0)
    if model is None:
        model = learn_total(hours[:trained], counts[:trained], settings, calendar)
    return apply_total(model, hours, counts, settings, calendar)


def _far_off(counts, expected, noise: NoiseModel, settings: ForecastSettings) -> np.ndarray:
    """Hours beyond outlier_z noise levels: incidents, left out of what is learnt."""
    deviation = (_transform(counts) - _transform(expected)) / noise.scale(expected)
    return np.abs(deviation) > settings.outlier_z


def _days_of(hours: pd.DatetimeIndex, trained: int, calendar: Calendar) -> _CalendarDays:
    """The calendar of `hours`; Prophet's holidays are those of the first `trained` hours,
    the ones it can learn from."""
    local = local_hours(hours, calendar.time_zone)
    days = _calendar_days(local, calendar)
    return replace(days, prophet_frame=_calendar_days(local[:trained], calendar).prophet_frame)


def learn_total(
    hours: pd.DatetimeIndex,
    counts: np.ndarray,
    settings: ForecastSettings,
    calendar: Calendar | None = None,
) -> TotalModel:
    """The model of a total learnt from `hours` (at least min_history_days of them, not
    all silent): the shape of those hours and of the day after them, the level's
    half-life and the noise."""
    counts = np.asarray(counts, dtype=float)
    calendar = calendar or Calendar()
    trained = len(counts)
    history_days = trained / HOURS_PER_DAY
    ahead = _next_day(hours)
    days = _days_of(ahead, trained, calendar)
    frame = _shape_frame(local_hours(ahead, calendar.time_zone), counts)
    # Silence that cannot be chance (a broken pixel, an outage) is left out of every fit:
    # left in, the trend would bend down to it and expect the silence.
    usual = usual_counts(counts)
    silent = implausible_zero_runs(counts, usual)
    shared = SharedFeatures()
    center = _fit_shape(frame, trained, silent, settings, history_days, days, shared)
    shape = _from_transformed(center) * days.lift
    base = shape[:trained]
    first_noise = _bulk_noise(np.where(silent, 0.0, _transform(counts) - _transform(base)), base)
    teach_z = first_noise.quantile(1.0 - (1.0 - settings.interval_width) / 2.0)

    def level(base: np.ndarray, half_life: float) -> np.ndarray:
        return online_level(
            counts,
            base,
            half_life,
            first_noise,
            teach_z,
            silent,
            settings.level_prior_events,
            settings.level_shift_hours,
        )[0]

    # The hours far off a one-day level are left out of the final fit of the shape.
    not_yet_holiday = ((days.name != None) & ~days.is_expected)[:trained]  # noqa: E711
    one_day = level(base, HOURS_PER_DAY)
    excluded = silent | _far_off(counts, one_day, first_noise, settings) | not_yet_holiday
    fits = 1
    if (excluded & ~silent).any():
        center = _fit_shape(frame, trained, excluded, settings, history_days, days, shared)
        shape = _from_transformed(center) * days.lift
        base = shape[:trained]
        fits = 2

    candidates = {
        half_life: level(base, half_life) for half_life in settings.level_half_lives_hours
    }
    # Compared on the recent hours no candidate finds far off (an incident is no test of
    # how well a configuration forecasts normal hours).
    window = _backtest_window(trained, settings)
    far_off_any = np.any(
        [_far_off(counts, e, first_noise, settings) for e in candidates.values()], axis=0
    )
    comparable = window & ~silent & ~far_off_any
    errors = {
        half_life: float(np.mean(np.abs(counts - expected)[comparable]))
        if comparable.any()
        else np.inf
        for half_life, expected in candidates.items()
    }
    chosen = min(errors, key=lambda half_life: (errors[half_life], half_life))
    expected = candidates[chosen]
    is_outlier = silent | _far_off(counts, expected, first_noise, settings) | not_yet_holiday

    # The noise is that of the hours that are not far off: a past incident must not make
    # the series look noisier than it is (cutting at outlier_z noise levels of the bulk
    # loses next to nothing of a light tail, and the t's degrees of freedom still see a
    # heavy one within it).
    residual_hours = ~is_outlier
    noise = fit_noise(
        _transform(counts[residual_hours]) - _transform(expected[residual_hours]),
        expected[residual_hours],
    )
    autocorrelation = error_autocorrelation(
        (_transform(counts) - _transform(expected)) / noise.scale(expected), residual_hours
    )
    return TotalModel(
        shape=shape,
        trained_hours=trained,
        first_noise=first_noise,
        teach_z=teach_z,
        level_half_life_hours=chosen,
        noise=noise,
        noise_autocorrelation=autocorrelation,
        backtest_mae=errors[chosen] if np.isfinite(errors[chosen]) else None,
        prophet_fits=fits,
        excluded_hours=int(is_outlier.sum()),
        usual=usual,
    )


def apply_total(
    model: TotalModel,
    hours: pd.DatetimeIndex,
    counts: np.ndarray,
    settings: ForecastSettings,
    calendar: Calendar | None = None,
) -> TotalFit:
    """The expectation and band of every hour of a total from its `model`: the model's
    shape times the level learnt from the hours before each hour. The hours are the
    model's learnt ones and at most a day after them."""
    counts = np.asarray(counts, dtype=float)
    if not model.trained_hours <= len(counts) <= len(model.shape):
        raise ValueError(
            f"a model of {model.trained_hours} hours forecasts at most a day more, "
            f"not {len(counts)} hours"
        )
    calendar = calendar or Calendar()
    days = _days_of(hours, model.trained_hours, calendar)
    # Judged against the learnt hours' usual counts: only a run of zeros that reaches the
    # newest hours can change its verdict from one run of the day to the next.
    silent = implausible_zero_runs(counts, model.usual)
    expected, _ = online_level(
        counts,
        model.shape[: len(counts)],
        model.level_half_life_hours,
        model.first_noise,
        model.teach_z,
        silent,
        settings.level_prior_events,
        settings.level_shift_hours,
    )
    not_yet_holiday = (days.name != None) & ~days.is_expected  # noqa: E711 (object array)
    is_outlier = silent | _far_off(counts, expected, model.first_noise, settings) | not_yet_holiday
    lower, upper, scale = band_from_noise(expected, model.noise, settings.interval_width)
    if silent[-STOPPED_AFTER_HOURS:].all():
        status = "stopped"
    elif len(counts) >= 7 * HOURS_PER_DAY:
        status = "fitted"
    else:
        status = "short_history"
    forecast = SeriesForecast(
        expected,
        lower,
        upper,
        scale,
        status,
        model.excluded_hours,
        model.noise.score_threshold(settings.anomaly_risk),
        model.noise.degrees_of_freedom,
        model.noise_autocorrelation,
    )
    return TotalFit(
        forecast,
        is_outlier,
        model.prophet_fits,
        model.level_half_life_hours,
        model.backtest_mae,
        days.name,
        days.is_expected,
        model.trained_hours,
    )


def usual_counts(counts: np.ndarray) -> np.ndarray:
    """The median count at each hour of the day (counted from the series' first hour)."""
    counts = np.asarray(counts, dtype=float)
    hour_of_day = np.arange(len(counts)) % HOURS_PER_DAY
    usual = np.zeros(HOURS_PER_DAY)
    for hour in range(HOURS_PER_DAY):
        same_hour = counts[hour_of_day == hour]
        usual[hour] = np.median(same_hour) if len(same_hour) else 0.0
    return usual


def implausible_zero_runs(
    counts: np.ndarray, usual: np.ndarray | None = None, max_probability: float = 1e-6
) -> np.ndarray:
    """Hours inside runs of zeros that a Poisson count at the series' usual level for
    those hours of the day (`usual`, else usual_counts of `counts`) would produce with
    probability below max_probability."""
    counts = np.asarray(counts, dtype=float)
    hour_of_day = np.arange(len(counts)) % HOURS_PER_DAY
    usual = usual_counts(counts) if usual is None else usual
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


# ---- dimension values ----


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


def forecast_leaves(total: TotalFit, leaf_counts: np.ndarray, settings: ForecastSettings):
    """Expected counts of a metric's leaves (rows of leaf_counts, every combination of its
    dimensions' values): the total's expectation times each leaf's share, learnt as a
    dimension value's is. A leaf's sparse same-hour history is shrunk towards its share
    over all hours of the window, so the leaves of an hour add up to the total."""
    shares = value_shares(np.asarray(leaf_counts, dtype=float), ~total.is_outlier, settings)
    return total.forecast.expected[np.newaxis, :] * shares


def forecast_values(
    total: TotalFit,
    value_counts: np.ndarray,
    settings: ForecastSettings,
    noise_fit: Callable[[np.ndarray, np.ndarray], NoiseModel] = fit_noise,
) -> list[SeriesForecast]:
    """Expected counts and bands of a dimension's values (rows of value_counts); each
    value's noise fitted by `noise_fit` (fit_noise, or a cache of its results)."""
    value_counts = np.asarray(value_counts, dtype=float)
    shares = value_shares(value_counts, ~total.is_outlier, settings)
    forecasts = []
    history_days = value_counts.shape[1] / HOURS_PER_DAY
    learnt = total.learnt()
    for counts, share in zip(value_counts, shares, strict=True):
        expected = total.forecast.expected * share
        if counts.sum() == 0:
            zeros = np.zeros(len(counts))
            quiet = np.full(len(counts), 0.5)
            forecasts.append(SeriesForecast(zeros, zeros, zeros, quiet, "all_zero"))
            continue
        # A value is new if it first appears after the first week: its share is still
        # being learnt, and its noise is learnt from the hours since it appeared (of those
        # its total's model learnt from).
        first_seen = int(np.argmax(counts > 0))
        seen = (np.arange(len(counts)) >= first_seen) & learnt
        residuals = _transform(counts) - _transform(expected)
        bulk = _bulk_noise(residuals[seen], expected[seen]) if seen.any() else NoiseModel()
        far_off = np.abs(residuals) / bulk.scale(expected) > settings.outlier_z
        clean = seen & ~total.is_outlier & ~far_off
        noise = noise_fit(residuals[clean], expected[clean])
        lower, upper, scale = band_from_noise(expected, noise, settings.interval_width)
        autocorrelation = error_autocorrelation(residuals / scale, clean)
        if total.forecast.status in ("all_zero", "short_history", "stopped"):
            status = total.forecast.status
        elif first_seen >= 7 * HOURS_PER_DAY and history_days > 7:
            status = "new_value"
        else:
            status = "share_of_total"
        forecasts.append(
            SeriesForecast(
                expected,
                lower,
                upper,
                scale,
                status,
                int((~clean & seen).sum()),
                noise.score_threshold(settings.anomaly_risk),
                noise.degrees_of_freedom,
                autocorrelation,
            )
        )
    return forecasts
