"""The forecasting step of a run: every series of fct_hourly_metrics in, fct_forecasts out.

Only the totals are fitted (in parallel where cores exist, from the cache where nothing
changed); the dimension values follow from their total by shares (forecasting.py).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from tqdm import tqdm

from funnel_anomalies import forecasting, warehouse
from funnel_anomalies.forecast_cache import ForecastCache, cache_key
from funnel_anomalies.forecasting import ForecastSettings, SeriesForecast, TotalFit

TOTAL_METHOD = "prophet on sqrt(y + 3/8), robust refit"
VALUE_METHOD = "share of total"


@dataclass(frozen=True)
class ForecastRun:
    series: int
    series_totals: int
    prophet_fits: int
    cached_totals: int
    seconds: float


@dataclass(frozen=True)
class _FitTask:
    index: int
    hours: pd.DatetimeIndex
    counts: np.ndarray
    holidays: pd.DataFrame | None
    warm_start: dict | None


def _fit(task: _FitTask, settings: ForecastSettings) -> tuple[int, TotalFit]:
    forecasting.quiet_stan_logging()
    return task.index, forecasting.fit_total(
        task.hours, task.counts, settings, task.holidays, task.warm_start
    )


def _fit_all(tasks: list[_FitTask], settings: ForecastSettings, workers: int) -> dict:
    progress = tqdm(
        total=len(tasks), desc="fitting totals", unit="series", disable=not sys.stderr.isatty()
    )
    fits = {}
    with progress:
        if workers > 1 and len(tasks) > 1:
            # Workers start from a clean server process: forking a process that has
            # threads running (polars, DuckDB) can deadlock the child.
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for index, fit in pool.map(_fit, tasks, [settings] * len(tasks)):
                    fits[index] = fit
                    progress.update()
        else:
            for task in tasks:
                index, fit = _fit(task, settings)
                fits[index] = fit
                progress.update()
    return fits


def _rows(
    series: warehouse.MetricSeries,
    dimension: str,
    value: str,
    forecast: SeriesForecast,
    method: str,
    metadata: dict,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop": series.shop,
            "hour_at": series.hours,
            "metric": series.metric,
            "dimension": dimension,
            "dimension_value": value,
            "expected": forecast.expected,
            "expected_lower": forecast.lower,
            "expected_upper": forecast.upper,
            "noise_scale": forecast.noise_scale,
            "method": method if forecast.status != "all_zero" else "none: no events",
            "fit_status": forecast.status,
            "excluded_hours": forecast.excluded_hours,
            **metadata,
        }
    )


def forecast_all(
    con: duckdb.DuckDBPyConnection,
    settings: ForecastSettings,
    cache: ForecastCache,
    workers: int | None = None,
) -> tuple[pd.DataFrame, ForecastRun]:
    """Forecast every series in the database; return the table and what it cost."""
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    all_series = list(warehouse.read_series(con))
    holidays_by_shop = {
        shop: warehouse.read_holidays(con, shop) for shop in {s.shop for s in all_series}
    }
    fits: dict[int, TotalFit] = {}
    fitted_at: dict[int, str] = {}
    keys: dict[int, str] = {}
    pending = []
    for index, series in enumerate(all_series):
        holidays = holidays_by_shop[series.shop]
        keys[index] = cache_key(series.hours, series.total, settings, holidays)
        cached = cache.load(keys[index])
        if cached is not None:
            fits[index], fitted_at[index] = cached
        else:
            warm = cache.warm_start(series.shop, series.metric)
            pending.append(_FitTask(index, series.hours, series.total, holidays, warm))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    for index, fit in _fit_all(pending, settings, workers).items():
        fits[index], fitted_at[index] = fit, now
        cache.save(keys[index], fit, now)
        cache.remember_warm_start(all_series[index].shop, all_series[index].metric, fit.warm_start)

    settings_json = json.dumps(settings.as_dict(), sort_keys=True)
    frames = []
    series_count = 0
    for index, series in enumerate(all_series):
        metadata = {
            "interval_width": settings.interval_width,
            "training_start_at": series.hours[0],
            "training_end_at": series.hours[-1],
            "fitted_at": pd.Timestamp(fitted_at[index]),
            "model_settings": settings_json,
        }
        total = fits[index]
        frames.append(_rows(series, "total", "all", total.forecast, TOTAL_METHOD, metadata))
        series_count += 1
        for dimension, (values, counts) in series.dimensions.items():
            for value, forecast in zip(
                values, forecasting.forecast_values(total, counts, settings), strict=True
            ):
                frames.append(_rows(series, dimension, value, forecast, VALUE_METHOD, metadata))
                series_count += 1
    table = pd.concat(frames, ignore_index=True)
    run = ForecastRun(
        series=series_count,
        series_totals=len(all_series),
        prophet_fits=sum(fit.prophet_fits for fit in fits.values()),
        cached_totals=len(all_series) - len(pending),
        seconds=time.perf_counter() - started,
    )
    return table, run


def run_forecast_step(
    db: Path, settings: ForecastSettings, cache_dir: Path | None, workers: int | None = None
) -> ForecastRun:
    """Read the hourly series of `db`, forecast them and write fct_forecasts into it."""
    with duckdb.connect(str(db)) as con:
        table, run = forecast_all(con, settings, ForecastCache(cache_dir), workers)
        warehouse.write_forecasts(con, table)
    return run
