"""`make bench`, expectations: this project's forecasts against the plain way (a default
Prophet per series, 1,000 uncertainty samples), two simple baselines and, on generated
data, an oracle that knows every hour's true mean and noise.

- Real series (real_series.py): built as raw events by the whole pipeline. Per series:
  the mean absolute error of the expectation on hours outside the labelled windows (from
  the second week, where the baselines exist), as a share of the mean count; the windows
  caught (an anomalous hour inside) and the anomalous hours outside every window per week
  (after NAB's unlabelled first 15%), this project against the plain way under the same
  anomaly rule.
- Generated data: the band's width against the oracle's (a negative binomial with the
  true mean and variance) and coverage of clean hours, by shop size and day or night;
  detection scores of both.
- Injected effects: the smallest drop or surge, over 1-3 hours at low, medium and high
  counts, that each detector flags in 9 of 10 trials, on series drawn from the truth.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from funnel_anomalies import calendars, evaluation, forecasting, pipeline, real_series, sample_data

NOISE_FLOOR_SCORE = 4.0  # the anomaly rule's floor (dbt var anomaly_min_score)
MIN_DEVIATION = 5  # dbt var anomaly_min_deviation
# Relative sizes tried: a drop of 100% is a total outage; a surge may go beyond it.
EFFECTS = {
    "drop": (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0),
    "surge": (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5, 2.0),
}
TRIALS = 10
# How far the real series' thresholds are raised to show what fewer alarms would cost.
THRESHOLD_FACTORS = (1.0, 1.1, 1.2, 1.3, 1.5, 2.0)
# A flag outside the labelled windows this far from the median of 4 weeks (half again, or
# half) is a move of the series itself, whatever the labels say.
LARGE_MOVE = 0.5
# The factors a threshold chosen with hindsight of the labels may take.
HINDSIGHT_FACTORS = np.round(np.arange(0.5, 3.001, 0.05), 2)
COUNT_LEVELS = {"low": (8.0, 30.0), "medium": (60.0, 150.0), "high": (300.0, 900.0)}


def run_spread(length: int, autocorrelation) -> np.ndarray:
    """The spread of a sum of `length` consecutive standardized errors with lag-1
    correlation r (AR(1)): sqrt(length + 2 * sum over lags k of (length - k) r^k)."""
    r = np.asarray(autocorrelation, dtype=float)
    return np.sqrt(length + 2 * sum((length - lag) * r**lag for lag in range(1, length)))


def anomaly_rule(
    counts,
    expected,
    lower,
    upper,
    noise_scale,
    threshold,
    series_starts=None,
    autocorrelation=0.0,
) -> np.ndarray:
    """The rule of fct_anomalies, for forecasts made outside the pipeline, on consecutive
    hours: an hour beyond the band (and MIN_DEVIATION events off) is anomalous when its
    score, or the combined score of a run of 2 or 3 such hours in one direction that it
    is part of, reaches the threshold. A run's score is its sum over the spread of a sum
    of errors with the series' lag-1 `autocorrelation`. `series_starts` marks hours that
    begin another series: no run crosses them."""
    counts, expected, lower, upper, noise_scale = (
        np.asarray(values, dtype=float) for values in (counts, expected, lower, upper, noise_scale)
    )
    score = (np.sqrt(counts + 0.375) - np.sqrt(expected + 0.375)) / noise_scale
    beyond = ((counts < lower) | (counts > upper)) & (np.abs(counts - expected) >= MIN_DEVIATION)
    direction = np.sign(counts - expected)
    starts = np.zeros(len(counts), dtype=bool) if series_starts is None else series_starts
    strongest = np.where(beyond, np.abs(score), 0.0)
    window = np.lib.stride_tricks.sliding_window_view
    for length in (2, 3):
        if len(counts) < length:
            continue
        is_run = (
            window(beyond, length).all(axis=1)
            & (window(direction, length) == window(direction, length)[:, :1]).all(axis=1)
            & ~window(np.asarray(starts, dtype=bool), length)[:, 1:].any(axis=1)
        )
        spread = run_spread(length, np.broadcast_to(autocorrelation, counts.shape))
        combined = np.where(
            is_run, np.abs(window(score, length).sum(axis=1)) / window(spread, length)[:, -1], 0
        )
        for offset in range(length):
            covered = slice(offset, offset + len(combined))
            strongest[covered] = np.maximum(strongest[covered], combined)
    return beyond & (strongest >= np.maximum(threshold, NOISE_FLOOR_SCORE))


def null_flag_rates(hours: int = 5_000_000, seed: int = 5) -> pd.DataFrame:
    """Hours flagged per million under pure noise (independent Student-t scores of the
    given degrees of freedom, with the band and threshold this project would give them),
    by single hours alone and with runs: what the run rule costs where there is nothing
    to find."""
    rng = np.random.default_rng(seed)
    rows = []
    settings = forecasting.ForecastSettings()
    for dof in (forecasting.MAX_DEGREES_OF_FREEDOM, 42.0, 10.0, 5.0):
        noise = forecasting.NoiseModel(degrees_of_freedom=dof)
        expected = np.full(hours, 10_000.0)
        lower, upper, scale = forecasting.band_from_noise(expected, noise, settings.interval_width)
        scores = rng.standard_t(dof, size=hours)
        counts = np.square(np.sqrt(expected + 0.375) + scores * scale) - 0.375
        threshold = max(noise.score_threshold(settings.anomaly_risk), NOISE_FLOOR_SCORE)
        beyond = (counts < lower) | (counts > upper)
        rows.append(
            {
                "degrees of freedom": dof,
                "threshold": threshold,
                "single hours": (beyond & (np.abs(scores) >= threshold)).mean() * 1e6,
                "with runs": anomaly_rule(counts, expected, lower, upper, scale, threshold).mean()
                * 1e6,
            }
        )
    return pd.DataFrame(rows)


def format_null_flag_rates(rates: pd.DataFrame) -> str:
    lines = [
        "| noise degrees of freedom | score threshold | single hours | with runs of 2-3 |",
        "|---|---|---|---|",
    ]
    for dof, threshold, single, with_runs in rates.itertuples(index=False):
        lines.append(f"| {dof:.0f} | {threshold:.2f} | {single:.0f} | {with_runs:.0f} |")
    return "\n".join(lines)


def plain_forecast(hours: pd.DatetimeIndex, counts: np.ndarray) -> dict[str, np.ndarray]:
    """The plain way: a default Prophet, 99% band from 1,000 samples, clipped at zero; its
    band turned into the noise scale the anomaly rule divides by, and its errors'
    autocorrelation measured as this project's are (hours within 4 noise levels)."""
    from prophet import Prophet

    forecasting.quiet_stan_logging()
    frame = pd.DataFrame({"ds": hours, "y": counts})
    predicted = Prophet(interval_width=0.99, uncertainty_samples=1000).fit(frame).predict(frame)
    expected = predicted["yhat"].clip(lower=0).to_numpy()
    lower = np.minimum(predicted["yhat_lower"].clip(lower=0).to_numpy(), expected)
    upper = np.maximum(predicted["yhat_upper"].clip(lower=0).to_numpy(), expected)
    scale = np.maximum((np.sqrt(upper + 0.375) - np.sqrt(lower + 0.375)) / (2 * 2.576), 1e-3)
    standardized = (np.sqrt(counts + 0.375) - np.sqrt(expected + 0.375)) / scale
    autocorrelation = forecasting.error_autocorrelation(
        standardized, np.abs(standardized) <= forecasting.ForecastSettings().outlier_z
    )
    return {
        "expected": expected,
        "lower": lower,
        "upper": upper,
        "noise_scale": scale,
        "autocorrelation": autocorrelation,
    }


# ---- real series ----


@dataclass(frozen=True)
class RealFigures:
    series: str
    mean_count: float
    mae: dict[str, float]  # method -> mean absolute error / mean count
    windows: int
    caught: dict[str, int]
    false_per_week: dict[str, float]
    # This project's flags under a threshold raised by each factor: (caught, outside/week).
    raised: dict[float, tuple[int, float]]
    # The threshold factor, chosen with hindsight of this series' labels, that flags the
    # fewest hours outside the windows while catching as many as the plain way: (factor,
    # windows caught, outside per week), or None where no factor catches as many.
    hindsight: tuple[float, int, float] | None
    # Per method: hours flagged outside the windows, and how many of them are at least
    # LARGE_MOVE away from the median of 4 weeks (a yardstick neither method chose).
    outside_moves: dict[str, tuple[int, int]]


def build_from_cold(events: Path, db: Path) -> pipeline.BuildReport:
    """pipeline.build with a forecast cache of its own, emptied first, so that every model
    is learnt and timed in this run."""
    cache = db.with_name(db.name + ".forecast-cache")
    shutil.rmtree(cache, ignore_errors=True)
    return pipeline.build(events, db, quiet=True, cache_dir=cache)


def bench_real(folder: Path) -> tuple[list[RealFigures], float]:
    """Build every real series with the pipeline; return the figures and the build time."""
    all_series = real_series.available()
    if not all_series:
        return [], 0.0
    events = real_series.write_events(all_series, folder / "real_series.parquet")
    started = time.perf_counter()
    report = build_from_cold(events, folder / "real_series.duckdb")
    seconds = time.perf_counter() - started
    with duckdb.connect(str(report.db), read_only=True) as con:
        rows = con.execute(
            """
            select shop, hour_at, actual, expected, expected_lower, expected_upper,
                is_anomaly, score, run_score, score_threshold, is_hour_in_progress,
            from fct_anomalies
            where metric = 'landing_page_views' and dimension = 'total'
            order by shop, hour_at
            """
        ).df()
    figures = []
    for series in all_series:
        own = rows[rows["shop"] == series.name]
        hours = pd.DatetimeIndex(own["hour_at"])
        counts = own["actual"].to_numpy(dtype=float)
        plain = plain_forecast(hours, counts)
        # The newest hour may be in progress: never flagged, by either way.
        plain_flags = anomaly_rule(counts, threshold=0.0, **plain)
        plain_flags[-1] = False
        inside = real_series.in_windows(hours, series)
        scored = (~inside) & (np.arange(len(hours)) >= 168)
        mean = counts[scored].mean()
        expectations = {
            "this project": own["expected"].to_numpy(),
            "plain": plain["expected"],
            "same hour last week": real_series.same_hour_last_week(counts),
            "median of 4 weeks": real_series.median_of_four_weeks(counts),
        }
        after_probation = np.arange(len(hours)) >= int(real_series.PROBATION_SHARE * len(hours))
        weeks = (~inside & after_probation).sum() / 168
        flags = {"this project": own["is_anomaly"].to_numpy(), "plain": plain_flags}
        outside = ~inside & after_probation
        strength = _relative_strength(own)
        # Windows caught and hours outside them per week, every threshold times a factor.
        trades = {
            float(factor): (
                real_series.windows_caught(hours, strength >= factor, series),
                float(((strength >= factor) & outside).sum() / weeks),
            )
            for factor in {*THRESHOLD_FACTORS, *HINDSIGHT_FACTORS}
        }
        raised = {factor: trades[factor] for factor in THRESHOLD_FACTORS}
        hindsight = _hindsight_threshold(
            trades, real_series.windows_caught(hours, plain_flags, series)
        )
        median = expectations["median of 4 weeks"]
        with np.errstate(invalid="ignore", divide="ignore"):
            large = np.abs(counts / median - 1.0) >= LARGE_MOVE
        outside_moves = {
            m: (int((f & outside).sum()), int((f & outside & large).sum()))
            for m, f in flags.items()
        }
        figures.append(
            RealFigures(
                series.name,
                mean,
                {
                    method: float(np.mean(np.abs(counts - expected)[scored]) / mean)
                    for method, expected in expectations.items()
                },
                len(series.windows),
                {m: real_series.windows_caught(hours, f, series) for m, f in flags.items()},
                {m: float((f & outside).sum() / weeks) for m, f in flags.items()},
                raised,
                hindsight,
                outside_moves,
            )
        )
    return figures, seconds


def _relative_strength(own: pd.DataFrame) -> np.ndarray:
    """Each hour's strength against its threshold as fct_anomalies judges it (its score,
    or its run's, over score_threshold), 0 where it is not beyond the band: the hour is
    flagged where this reaches 1, and under thresholds times f where it reaches f."""
    counts = own["actual"].to_numpy(dtype=float)
    beyond = (
        ((counts < own["expected_lower"].to_numpy()) | (counts > own["expected_upper"].to_numpy()))
        & (np.abs(counts - own["expected"].to_numpy()) >= MIN_DEVIATION)
        & ~own["is_hour_in_progress"].to_numpy()
    )
    strength = np.fmax(own["score"].abs().to_numpy(), own["run_score"].to_numpy())
    return np.where(beyond, strength / own["score_threshold"].to_numpy(), 0.0)


def _hindsight_threshold(
    trades: dict[float, tuple[int, float]], plain_caught: int
) -> tuple[float, int, float] | None:
    """The best a threshold of this series alone could do, chosen knowing the labels:
    the factor whose flags catch as many windows as the plain way with the fewest hours
    outside them (`trades`: both, by factor)."""
    best = None
    for factor in HINDSIGHT_FACTORS:
        caught, per_week = trades[float(factor)]
        if caught >= plain_caught and (best is None or per_week < best[2]):
            best = (float(factor), caught, per_week)
    return best


def format_hindsight(figures: list[RealFigures]) -> str:
    """Whether any threshold of a series, chosen with hindsight of its labels, meets both
    real-series targets at once: as many windows as the plain way, at most half its
    flags outside them."""
    lines = [
        "| series | plain: caught / outside per week | best factor | this project: caught / "
        "outside per week | at most half the plain way's outside |",
        "|---|---|---|---|---|",
    ]
    for row in figures:
        plain = f"{row.caught['plain']} / {row.false_per_week['plain']:.2f}"
        if row.hindsight is None:
            lines.append(f"| {row.series} | {plain} | none catches as many | | no |")
            continue
        factor, caught, per_week = row.hindsight
        met = "yes" if per_week <= row.false_per_week["plain"] / 2 else "no"
        lines.append(f"| {row.series} | {plain} | {factor:g} | {caught} / {per_week:.2f} | {met} |")
    return "\n".join(lines)


def format_real_table(figures: list[RealFigures]) -> str:
    methods = ["this project", "plain", "same hour last week", "median of 4 weeks"]
    lines = [
        "| series | mean per hour | "
        + " | ".join(f"MAE {m}" for m in methods)
        + " | lowest (within 3%) | windows | caught: this project / plain "
        "| outside windows per week: this project / plain |",
        "|" + "---|" * (len(methods) + 6),
    ]
    for row in figures:
        best = min(row.mae.values())
        lowest = "yes" if row.mae["this project"] <= best * 1.03 else "no"
        lines.append(
            f"| {row.series} | {row.mean_count:,.0f} | "
            + " | ".join(f"{row.mae[m]:.1%}" for m in methods)
            + f" | {lowest} | {row.windows} | {row.caught['this project']} / "
            f"{row.caught['plain']} | {row.false_per_week['this project']:.2f} / "
            f"{row.false_per_week['plain']:.2f} |"
        )
    if figures:
        caught = {m: sum(f.caught[m] for f in figures) for m in ("this project", "plain")}
        false = {m: sum(f.false_per_week[m] for f in figures) for m in ("this project", "plain")}
        lines.append(
            f"| all | | | | | | | {sum(f.windows for f in figures)} "
            f"| {caught['this project']} / {caught['plain']} "
            f"| {false['this project']:.2f} / {false['plain']:.2f} |"
        )
    return "\n".join(lines)


def format_threshold_trade(figures: list[RealFigures]) -> str:
    """What raising every series' score threshold trades: windows for quiet."""
    lines = [
        "| threshold x | windows caught | outside windows per week |",
        "|---|---|---|",
    ]
    for factor in THRESHOLD_FACTORS:
        caught = sum(f.raised[factor][0] for f in figures)
        outside = sum(f.raised[factor][1] for f in figures)
        lines.append(f"| {factor:g} | {caught} | {outside:.2f} |")
    return "\n".join(lines)


def format_outside_moves(figures: list[RealFigures]) -> str:
    """How far the hours flagged outside the labelled windows are from the median of 4
    weeks: noise the detector mistook, or moves nobody labelled."""
    lines = [
        "| detector | hours flagged outside windows | of them at least "
        f"{LARGE_MOVE:.0%} off the median of 4 weeks |",
        "|---|---|---|",
    ]
    for method in ("this project", "plain"):
        flagged = sum(f.outside_moves[method][0] for f in figures)
        large = sum(f.outside_moves[method][1] for f in figures)
        share = f"{large / flagged:.0%}" if flagged else "-"
        lines.append(f"| {method} | {flagged} | {large} ({share}) |")
    return "\n".join(lines)


# ---- generated data against the oracle ----


def negative_binomial(expected, variance) -> tuple[np.ndarray, np.ndarray]:
    """The size and success probability of the negative binomial with this mean and
    variance (nearly a Poisson where the variance does not exceed the mean)."""
    variance = np.maximum(variance, expected * (1 + 1e-9))
    success = expected / variance
    return expected * success / (1.0 - success), success


def oracle_band(
    expected: np.ndarray, variance: np.ndarray, interval_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """The interval of a negative binomial with the true mean and variance (a Poisson where
    the variance does not exceed the mean)."""
    tail = (1.0 - interval_width) / 2.0
    size, success = negative_binomial(expected, variance)
    return stats.nbinom.ppf(tail, size, success), stats.nbinom.ppf(1.0 - tail, size, success)


def oracle_noise_scale(expected: np.ndarray, variance: np.ndarray) -> np.ndarray:
    return np.sqrt(variance) / (2.0 * np.sqrt(expected + 0.375))


@dataclass(frozen=True)
class GeneratedFigures:
    name: str
    cells: pd.DataFrame  # shop size, daypart: clean hours, coverage, band width / oracle's
    ours: dict
    oracle: dict


def _oracle_scores(hours: pd.DataFrame, labels: dict) -> dict:
    """Precision, recall and false alarms of the oracle's flags on the totals, scored as
    evaluation.detection_scores scores this project's."""
    flagged = hours[hours["oracle_flag"]]
    windows = labels["incidents"]
    inside = np.array(
        [
            any(i["shop"] == shop and evaluation.in_window(at, i) for i in windows)
            for shop, at in zip(flagged["shop"], flagged["hour_at"], strict=True)
        ],
        dtype=bool,
    )
    pairs = detected = 0
    for incident in windows:
        for metric in incident["metrics"]:
            pairs += 1
            found = flagged[
                (flagged["shop"] == incident["shop"])
                & (flagged["metric"] == metric)
                & (flagged["direction"] == incident["direction"])
                & flagged["hour_at"].map(lambda at, i=incident: evaluation.in_window(at, i))
            ]
            detected += not found.empty
    precision = float(inside.mean()) if len(flagged) else float("nan")
    recall = detected / pairs if pairs else float("nan")
    weeks = hours.groupby("shop")["hour_at"].nunique().sum() / 168
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "false_alarms_per_week_per_shop": float((~inside).sum() / weeks),
    }


def bench_generated(name: str, events: Path, db: Path) -> GeneratedFigures:
    """Bands and detection of a built generated data set against its oracle."""
    labels = evaluation.load_labels(sample_data.labels_path_for(events))
    truth = pd.read_parquet(sample_data.truth_path_for(events))
    with duckdb.connect(str(db), read_only=True) as con:
        ours = evaluation.detection_scores(con, labels)
        hours = con.execute(
            """
            select shop, hour_at, metric, actual as events, expected, expected_lower,
                expected_upper, dimension
            from fct_anomalies where dimension = 'total'
            """
        ).df()
        interval_width = con.execute(
            "select any_value(interval_width) from fct_forecasts"
        ).fetchone()[0]
    hours = hours.merge(
        truth.rename(columns={"expected": "true_expected"}), on=["shop", "hour_at", "metric"]
    )
    hours = hours.sort_values(["shop", "metric", "hour_at"], ignore_index=True)
    lower, upper = oracle_band(hours["true_expected"], hours["variance"], interval_width)
    hours["oracle_width"] = np.maximum(upper - lower, 1.0)
    same_series = (hours[["shop", "metric"]] == hours[["shop", "metric"]].shift()).all(axis=1)
    next_hour = hours["hour_at"].diff() == pd.Timedelta(hours=1)
    hours["oracle_flag"] = anomaly_rule(
        hours["events"],
        hours["true_expected"],
        lower,
        upper,
        oracle_noise_scale(hours["true_expected"], hours["variance"]),
        0.0,
        series_starts=~(same_series & next_hour).to_numpy(),
    )
    hours["direction"] = np.where(hours["events"] > hours["true_expected"], "positive", "negative")
    marked = evaluation.mark_incident_hours(hours, labels)
    clean = marked[~marked["is_near_incident"]].copy()
    sizes = evaluation.shop_sizes(marked)
    clean["shop_size"] = clean["shop"].map(sizes)
    clean["daypart"] = evaluation.dayparts(clean)
    clean["is_covered"] = (clean["events"] >= clean["expected_lower"]) & (
        clean["events"] <= clean["expected_upper"]
    )
    clean["width_ratio"] = (clean["expected_upper"] - clean["expected_lower"]) / clean[
        "oracle_width"
    ]
    oracle_lower, oracle_upper = oracle_band(
        clean["true_expected"], clean["variance"], interval_width
    )
    clean["oracle_covered"] = (clean["events"] >= oracle_lower) & (clean["events"] <= oracle_upper)
    cells = (
        clean.groupby(["shop_size", "daypart"])
        .agg(
            hours=("is_covered", "size"),
            coverage=("is_covered", "mean"),
            oracle_coverage=("oracle_covered", "mean"),
            width_ratio=("width_ratio", "median"),
        )
        .reset_index()
    )
    return GeneratedFigures(name, cells, ours, _oracle_scores(hours, labels))


def format_generated_table(figures: list[GeneratedFigures]) -> str:
    lines = [
        "| data | shop size | daypart | clean hours | coverage | oracle's coverage "
        "| band width / oracle's (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for figure in figures:
        for row in figure.cells.itertuples():
            lines.append(
                f"| {figure.name} | {row.shop_size} | {row.daypart} | {row.hours:,} "
                f"| {row.coverage:.2%} | {row.oracle_coverage:.2%} | {row.width_ratio:.2f} |"
            )
    lines.append("")
    lines.append("| data | detector | precision | recall | F1 | false alarms / week / shop |")
    lines.append("|---|---|---|---|---|---|")
    for figure in figures:
        for detector, scores in (("this project", figure.ours), ("oracle", figure.oracle)):
            lines.append(
                f"| {figure.name} | {detector} | {scores['precision']:.3f} "
                f"| {scores['recall']:.3f} | {scores['f1']:.3f} "
                f"| {scores['false_alarms_per_week_per_shop']:.2f} |"
            )
    return "\n".join(lines)


# ---- injected effects ----


@dataclass(frozen=True)
class _Trial:
    hours: pd.DatetimeIndex
    calendar: forecasting.Calendar
    expected: np.ndarray
    variance: np.ndarray
    seed: int
    level: str
    direction: str
    effect: float


def _draw_counts(rng, expected, variance) -> np.ndarray:
    """Counts from a negative binomial with the given mean and variance."""
    return rng.negative_binomial(*negative_binomial(expected, variance)).astype(float)


def _run_trial(trial: _Trial) -> tuple[str, str, float, bool, bool]:
    """One injected effect: whether this project's forecast and the oracle flag it."""
    rng = np.random.default_rng(trial.seed)
    counts = _draw_counts(rng, trial.expected, trial.variance)
    low, high = COUNT_LEVELS[trial.level]
    # An hour of the level in the last week, so that the effect is forecast from history.
    candidates = np.flatnonzero(
        (trial.expected >= low)
        & (trial.expected <= high)
        & (np.arange(len(counts)) >= len(counts) - 7 * 24)
        & (np.arange(len(counts)) < len(counts) - 4)
    )
    start = int(rng.choice(candidates))
    window = slice(start, start + int(rng.integers(1, 4)))
    factor = 1.0 - trial.effect if trial.direction == "drop" else 1.0 + trial.effect
    if trial.direction == "drop":
        counts[window] = rng.binomial(counts[window].astype(np.int64), factor)
    else:
        counts[window] += rng.poisson(trial.expected[window] * trial.effect)
    forecasting.quiet_stan_logging()
    settings = forecasting.ForecastSettings()
    fit = forecasting.fit_total(trial.hours, counts, settings, trial.calendar).forecast
    ours = anomaly_rule(
        counts,
        fit.expected,
        fit.lower,
        fit.upper,
        fit.noise_scale,
        fit.score_threshold,
        autocorrelation=fit.noise_autocorrelation,
    )[window].any()
    lower, upper = oracle_band(trial.expected, trial.variance, 0.99)
    oracle = anomaly_rule(
        counts,
        trial.expected,
        lower,
        upper,
        oracle_noise_scale(trial.expected, trial.variance),
        0.0,
    )[window].any()
    return trial.level, trial.direction, trial.effect, bool(ours), bool(oracle)


def smallest_effects(events: Path, db: Path, workers: int = 2) -> pd.DataFrame:
    """The smallest effect of the grid each detector flags in 9 of 10 trials, by count
    level and direction, on the busiest generated shop's landing page views (its truth,
    scaled so that each count level has hours in the last week), forecast on the shop's
    own hours and calendar as read from `db`, its build."""
    truth = pd.read_parquet(sample_data.truth_path_for(events))
    landing = truth[truth["metric"] == "landing_page_views"]
    busiest = landing.groupby("shop")["expected"].mean().idxmax()
    base = landing[landing["shop"] == busiest]
    hours = pd.DatetimeIndex(base["hour_at"])
    with duckdb.connect(str(db), read_only=True) as con:
        calendar = calendars.read_calendar(con, busiest)
    dispersion = (base["variance"] - base["expected"]) / base["expected"] ** 2
    trials = []
    for level, (_, high) in COUNT_LEVELS.items():
        # Scale the shop so that its peak sits at the top of the level's range.
        scale = high / base["expected"].max()
        expected = base["expected"].to_numpy() * scale
        variance = expected + dispersion.to_numpy() * expected**2
        for direction in ("drop", "surge"):
            for effect in EFFECTS[direction]:
                for _ in range(TRIALS):
                    seed = len(trials)  # the same trials every run
                    trials.append(
                        _Trial(hours, calendar, expected, variance, seed, level, direction, effect)
                    )
    # Fresh interpreters: a fork of this process, which has run DuckDB's threads, can
    # deadlock in its children.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        results = pd.DataFrame(
            list(pool.map(_run_trial, trials, chunksize=8)),
            columns=["level", "direction", "effect", "ours", "oracle"],
        )
    rates = results.groupby(["level", "direction", "effect"])[["ours", "oracle"]].mean()
    rows = []
    for (level, direction), group in rates.groupby(level=["level", "direction"]):
        row = {"level": level, "direction": direction}
        for detector in ("ours", "oracle"):
            enough = group[group[detector] >= 0.9].index.get_level_values("effect")
            row[detector] = float(min(enough)) if len(enough) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def format_effects_table(effects: pd.DataFrame) -> str:
    lines = [
        "| count level | direction | smallest effect flagged 9 in 10: this project | oracle "
        "| ratio (target ≤ 1.3) |",
        "|---|---|---|---|---|",
    ]
    order = {level: index for index, level in enumerate(COUNT_LEVELS)}
    for row in sorted(effects.itertuples(), key=lambda r: (order[r.level], r.direction)):
        largest = max(EFFECTS[row.direction])
        ours, oracle = (
            f"{effect:.0%}" if effect == effect else f"none up to {largest:.0%}"
            for effect in (row.ours, row.oracle)
        )
        ratio = row.ours / row.oracle if row.ours == row.ours and row.oracle == row.oracle else None
        lines.append(
            f"| {row.level} | {row.direction} | {ours} | {oracle} "
            f"| {'-' if ratio is None else f'{ratio:.2f}'} |"
        )
    return "\n".join(lines)


def plot(real: list[RealFigures], path: Path) -> Path:
    """The real series side by side: each method's error, and windows against alarms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (errors, alarms) = plt.subplots(1, 2, figsize=(13, 4.5))
    methods = ["this project", "plain", "same hour last week", "median of 4 weeks"]
    positions = np.arange(len(real))
    for offset, method in enumerate(methods):
        errors.bar(
            positions + (offset - 1.5) * 0.2,
            [row.mae[method] for row in real],
            width=0.2,
            label=method,
        )
    errors.set_xticks(positions, [row.series.removeprefix("tweets-") for row in real])
    errors.set_ylabel("mean absolute error / mean count")
    errors.set_title("Expected values on hours outside labelled windows")
    errors.legend(fontsize=8)
    for method, marker in (("this project", "o"), ("plain", "s")):
        alarms.scatter(
            [row.false_per_week[method] for row in real],
            [row.caught[method] / row.windows for row in real],
            marker=marker,
            label=method,
        )
    alarms.set_xlabel("anomalous hours outside windows per week")
    alarms.set_ylabel("share of labelled windows caught")
    alarms.set_title("Detection on the real series")
    alarms.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
