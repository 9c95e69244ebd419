"""The forecasting step of a run: every series of fct_hourly_metrics in, fct_forecasts out.
dbt runs it as the Python model `forecasting_step`, between the hourly tables and the
models on the forecasts, so that a build is one dbt invocation (the build passes its
options in STEP_OPTIONS_VARIABLE).

Only the totals' models are learnt, once a day (in parallel where cores exist; from the
cache when an earlier run learnt the day's model), and applied, all of them first; the
dimension values and the leaves then follow from their total by shares (forecasting.py),
SHOPS_PER_BATCH shops at a time, each batch appended to the tables before the next is read.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import ndtri, stdtrit
from tqdm import tqdm

from funnel_anomalies import calendars, dask_fits, forecasting, localizer, warehouse
from funnel_anomalies.forecast_cache import ForecastCache, cache_key
from funnel_anomalies.forecasting import (
    Calendar,
    ForecastSettings,
    SeriesForecast,
    TotalFit,
    TotalModel,
)

# Shops whose values and leaves are forecast together: enough to keep DuckDB's statements
# few, few enough that a batch's arrays stay small beside the tables.
SHOPS_PER_BATCH = 20
TOTAL_METHOD = "prophet shape on sqrt(y + 3/8) in local time, level from the hours before"
VALUE_METHOD = "share of total"


@dataclass(frozen=True)
class ForecastRun:
    series: int
    series_totals: int
    prophet_fits: int
    learnt_totals: int  # totals whose model was learnt in this run
    cached_totals: int  # totals whose model came from the cache
    seconds: float


# The build's options for the step, as JSON (StepOptions), in the environment of dbt.
STEP_OPTIONS_VARIABLE = "FUNNEL_FORECAST_STEP"


@dataclass(frozen=True)
class StepOptions:
    """What a build tells the forecasting step: forecast_into's arguments but the
    connection. Without them (dbt run by hand) the defaults hold and nothing is cached."""

    settings: ForecastSettings = ForecastSettings()
    cache_dir: str | None = None
    workers: int | None = None
    isolated_in: str | None = None
    scheduler: str | None = None
    relearn: bool = False

    def as_environment(self) -> dict[str, str]:
        return {STEP_OPTIONS_VARIABLE: json.dumps(asdict(self))}

    @staticmethod
    def from_environment() -> StepOptions:
        given = os.environ.get(STEP_OPTIONS_VARIABLE)
        if not given:
            return StepOptions()
        options = json.loads(given)
        settings = options.pop("settings")
        settings["level_half_lives_hours"] = tuple(settings["level_half_lives_hours"])
        return StepOptions(settings=ForecastSettings(**settings), **options)


@dataclass(frozen=True)
class _LearnTask:
    """A total's model to learn: its hours before the day of its last hour."""

    index: int
    hours: pd.DatetimeIndex
    counts: np.ndarray
    calendar: Calendar


def _learn(task: _LearnTask, settings: ForecastSettings) -> tuple[int, TotalModel]:
    forecasting.quiet_stan_logging()
    return task.index, forecasting.learn_total(task.hours, task.counts, settings, task.calendar)


def _use_temporary_folder(folder: str) -> None:
    """In a worker, before Prophet is imported: cmdstanpy makes its folder of temporary
    files once, at import, in the temporary folder of that moment."""
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder


@contextlib.contextmanager
def _workers_start_from_this_module() -> Iterator[None]:
    """Spawned workers first run the main module of the process that starts them. Run as
    dbt's model that would be dbt's own script, an import of seconds the fits never use:
    while this holds, they run this module instead."""
    main = sys.modules["__main__"]
    given = getattr(main, "__spec__", None)
    main.__spec__ = importlib.machinery.ModuleSpec(__name__, None)
    try:
        yield
    finally:
        main.__spec__ = given


def _learn_all(
    tasks: list[_LearnTask],
    settings: ForecastSettings,
    workers: int,
    isolated_in: Path | None = None,
    scheduler: str | None = None,
) -> dict:
    """Learn every task's model; on a Dask cluster when a `scheduler` is given
    (dask_fits), else in `workers` processes, or in this one when there is one worker and
    no `isolated_in` folder. With `isolated_in`, fits always run in worker processes whose
    temporary files go there, so a killed run leaves them in a folder the next run removes
    (multiprocessing's workers exit without running cmdstanpy's clean-up)."""
    progress = tqdm(
        total=len(tasks), desc="learning totals", unit="series", disable=not sys.stderr.isatty()
    )
    models = {}
    with progress, _workers_start_from_this_module():
        if scheduler is not None and tasks:
            models = dask_fits.fit_on_dask(
                _learn, tasks, settings, scheduler, workers, isolated_in, progress.update
            )
        elif isolated_in is not None or (workers > 1 and len(tasks) > 1):
            # Workers are fresh interpreters: forking a process that has threads running
            # (polars, DuckDB) can deadlock the child, and a fresh one needs no server.
            context = multiprocessing.get_context("spawn")
            folder = str(isolated_in or tempfile.gettempdir())
            with ProcessPoolExecutor(
                max_workers=max(1, min(workers, len(tasks))),
                mp_context=context,
                initializer=_use_temporary_folder,
                initargs=(folder,),
            ) as pool:
                for index, model in pool.map(_learn, tasks, [settings] * len(tasks)):
                    models[index] = model
                    progress.update()
        else:
            for task in tasks:
                index, model = _learn(task, settings)
                models[index] = model
                progress.update()
    return models


def _noise_band_ratio(forecast: SeriesForecast, interval_width: float) -> np.ndarray:
    """The band's width against the width a Poisson count's own noise would give, on the
    square-root scale where that noise is 1/2 at every level: 1 is the noise floor."""
    gaussian = ndtri(1.0 - (1.0 - interval_width) / 2.0)
    band = (
        stdtrit(forecast.noise_degrees_of_freedom, 1.0 - (1.0 - interval_width) / 2.0)
        * forecast.noise_scale
    )
    return band / (gaussian * 0.5)


# fct_forecasts' columns as the forecasting step makes them.
FORECAST_SCHEMA = pa.schema(
    [
        ("shop", pa.string()),
        ("hour_at", pa.timestamp("us")),
        ("metric", pa.string()),
        ("dimension", pa.string()),
        ("dimension_value", pa.string()),
        ("expected", pa.float64()),
        ("expected_lower", pa.float64()),
        ("expected_upper", pa.float64()),
        ("noise_scale", pa.float64()),
        ("score_threshold", pa.float64()),
        ("noise_degrees_of_freedom", pa.float64()),
        ("noise_autocorrelation", pa.float64()),
        ("noise_band_ratio", pa.float64()),
        ("method", pa.string()),
        ("fit_status", pa.string()),
        ("excluded_hours", pa.int64()),
        ("level_half_life_hours", pa.int64()),
        ("backtest_mae", pa.float64()),
        ("holiday", pa.string()),
        ("is_holiday_expected", pa.bool_()),
        ("interval_width", pa.float64()),
        ("training_start_at", pa.timestamp("us")),
        ("training_end_at", pa.timestamp("us")),
        ("fitted_at", pa.timestamp("us")),
        ("model_settings", pa.string()),
    ]
)


class _ForecastColumns:
    """fct_forecasts' columns, gathered series by series as arrays and made into one Arrow
    table at the end: a table per series would cost more than the forecasts beside it. A
    text that is one value per series (shop, metric, method, the settings' JSON) is
    dictionary-encoded, not a string per hour; DuckDB stores it as text."""

    def __init__(self, interval_width: float) -> None:
        self.interval_width = interval_width
        self.arrays: dict[str, list[np.ndarray]] = {}
        self.texts: dict[str, list[str]] = {}
        self.lengths: list[int] = []

    def add(
        self,
        series: warehouse.MetricSeries,
        dimension: str,
        value: str,
        forecast: SeriesForecast,
        method: str,
        metadata: dict,
    ) -> None:
        hours = len(series.hours)
        columns = {
            "shop": series.shop,
            "hour_at": series.hours.to_numpy(),
            "metric": series.metric,
            "dimension": dimension,
            "dimension_value": value,
            "expected": forecast.expected,
            "expected_lower": forecast.lower,
            "expected_upper": forecast.upper,
            "noise_scale": forecast.noise_scale,
            "score_threshold": forecast.score_threshold,
            "noise_degrees_of_freedom": forecast.noise_degrees_of_freedom,
            "noise_autocorrelation": forecast.noise_autocorrelation,
            "noise_band_ratio": _noise_band_ratio(forecast, self.interval_width),
            "method": method if forecast.status != "all_zero" else "none: no events",
            "fit_status": forecast.status,
            "excluded_hours": forecast.excluded_hours,
            **metadata,
        }
        self.lengths.append(hours)
        for name, column in columns.items():
            if isinstance(column, str):
                self.texts.setdefault(name, []).append(column)
                continue
            if isinstance(column, pd.Timestamp):
                column = column.to_datetime64()
            if np.ndim(column) == 0:
                column = np.full(hours, column)
            self.arrays.setdefault(name, []).append(np.asarray(column))

    def _encoded(self, texts: list[str]) -> pa.DictionaryArray:
        categories, codes = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        return pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(codes.astype(np.int32), self.lengths)),
            pa.array(categories, pa.string()),
        )

    def table(self) -> pa.Table:
        if not self.lengths:
            return _no_forecasts()
        columns = []
        for field in FORECAST_SCHEMA:
            if field.name in self.texts:
                columns.append(self._encoded(self.texts[field.name]))
            else:
                values = np.concatenate(self.arrays[field.name])
                columns.append(pa.array(values, field.type, from_pandas=True))
        return pa.table(columns, names=FORECAST_SCHEMA.names)


@dataclass
class FittedTotals:
    """Every (shop, metric) total of a database with its fit, both keyed by the total's
    position in `totals`."""

    totals: list[warehouse.MetricSeries]
    fits: dict[int, TotalFit]
    learnt_at: dict[int, str]  # when each total's model was learnt (none: no model)
    learnt: int  # models learnt in this run
    cached: int  # models taken from the cache
    prophet_fits: int  # Prophet fits of the models learnt in this run
    started: float  # perf_counter when the step began

    def index_of(self) -> dict[tuple[str, str], int]:
        return {(series.shop, series.metric): index for index, series in enumerate(self.totals)}


def fit_totals(
    con: duckdb.DuckDBPyConnection,
    settings: ForecastSettings,
    cache: ForecastCache,
    workers: int | None = None,
    isolated_in: Path | None = None,
    scheduler: str | None = None,
) -> FittedTotals:
    """Fit every total of the database: its model from the cache where one was learnt
    from the same hours, else learnt now (on the Dask cluster of `scheduler` when one is
    given), applied to all its hours."""
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    totals = warehouse.read_totals(con)
    calendar_of = {shop: calendars.read_calendar(con, shop) for shop in {s.shop for s in totals}}
    models: dict[int, TotalModel] = {}
    learnt_at: dict[int, str] = {}
    keys: dict[int, str] = {}
    pending = []
    for index, series in enumerate(totals):
        calendar = calendar_of[series.shop]
        trained = forecasting.training_hours(series.hours, series.total, settings)
        if trained == 0:
            continue  # no model: fit_total's flat or silent expectation
        hours, counts = series.hours[:trained], series.total[:trained]
        keys[index] = cache_key(hours, counts, settings, calendar)
        cached = cache.load(keys[index])
        if cached is not None:
            models[index], learnt_at[index] = cached
        else:
            pending.append(_LearnTask(index, hours, counts, calendar))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    for index, model in _learn_all(pending, settings, workers, isolated_in, scheduler).items():
        models[index], learnt_at[index] = model, now
        cache.save(keys[index], model, now)
    fits = {
        index: forecasting.fit_total(
            series.hours, series.total, settings, calendar_of[series.shop], models.get(index)
        )
        for index, series in enumerate(totals)
    }
    prophet_fits = sum(models[task.index].prophet_fits for task in pending)
    return FittedTotals(
        totals, fits, learnt_at, len(pending), len(models) - len(pending), prophet_fits, started
    )


def shop_batches(fitted: FittedTotals) -> list[list[str]]:
    """The shops in groups of SHOPS_PER_BATCH: the values and leaves of one group at a time
    are in memory, however many shops a run has."""
    shops = sorted({series.shop for series in fitted.totals})
    return [
        shops[start : start + SHOPS_PER_BATCH] for start in range(0, len(shops), SHOPS_PER_BATCH)
    ]


def forecast_batch(
    con: duckdb.DuckDBPyConnection,
    fitted: FittedTotals,
    shops: list[str],
    settings: ForecastSettings,
    cache: ForecastCache,
) -> tuple[pa.Table, LeafForecasts, int]:
    """fct_forecasts' and fct_leaf_forecasts' rows of `shops`, and how many series; the
    values' noise fits from `cache` where an earlier run made the same ones."""
    settings_json = json.dumps(settings.as_dict(), sort_keys=True)
    columns = _ForecastColumns(settings.interval_width)
    index_of = fitted.index_of()
    batch_series = list(warehouse.read_series(con, shops))
    series_count = 0
    for series in batch_series:
        index = index_of[(series.shop, series.metric)]
        total = fitted.fits[index]
        hours = len(series.hours)
        metadata = {
            "level_half_life_hours": total.level_half_life_hours,
            "backtest_mae": total.backtest_mae,
            "holiday": total.holiday if total.holiday is not None else np.full(hours, None),
            "is_holiday_expected": (
                total.holiday_is_expected
                if total.holiday_is_expected is not None
                else np.zeros(hours, dtype=bool)
            ),
            "interval_width": settings.interval_width,
            "training_start_at": series.hours[0],
            "training_end_at": (
                series.hours[total.trained_hours - 1] if total.trained_hours else pd.NaT
            ),
            "fitted_at": pd.Timestamp(fitted.learnt_at.get(index)),
            "model_settings": settings_json,
        }
        columns.add(series, "total", "all", total.forecast, TOTAL_METHOD, metadata)
        series_count += 1
        for dimension, (values, counts) in series.dimensions.items():
            for value, forecast in zip(
                values,
                forecasting.forecast_values(total, counts, settings, cache.fit_noise),
                strict=True,
            ):
                columns.add(series, dimension, value, forecast, VALUE_METHOD, metadata)
                series_count += 1
    hours_of = {(series.shop, series.metric): series.hours for series in batch_series}
    ids = [index_of[key] for key in hours_of]
    leaves = leaf_forecasts(
        batch_series, ids, fitted.fits, warehouse.read_leaves(con, hours_of), settings
    )
    return columns.table(), leaves, series_count


def _run_figures(fitted: FittedTotals, series_count: int) -> ForecastRun:
    return ForecastRun(
        series=series_count,
        series_totals=len(fitted.totals),
        prophet_fits=fitted.prophet_fits,
        learnt_totals=fitted.learnt,
        cached_totals=fitted.cached,
        seconds=time.perf_counter() - fitted.started,
    )


def forecast_all(
    con: duckdb.DuckDBPyConnection,
    settings: ForecastSettings,
    cache: ForecastCache,
    workers: int | None = None,
    isolated_in: Path | None = None,
    scheduler: str | None = None,
) -> tuple[pa.Table, LeafForecasts, ForecastRun]:
    """Forecast every series and leaf in the database; return fct_forecasts,
    fct_leaf_forecasts and what it cost, whole (run_forecast_step writes them a batch of
    shops at a time instead)."""
    fitted = fit_totals(con, settings, cache, workers, isolated_in, scheduler)
    tables, leaves, series_count = [], [], 0
    for shops in shop_batches(fitted):
        table, batch_leaves, count = forecast_batch(con, fitted, shops, settings, cache)
        tables.append(table)
        leaves.append(batch_leaves)
        series_count += count
    cache.keep_noise_fits()
    if not tables:
        return _no_forecasts(), _no_leaf_forecasts(), _run_figures(fitted, 0)
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return table, LeafForecasts.joined(leaves), _run_figures(fitted, series_count)


@dataclass(frozen=True)
class LeafForecasts:
    """The leaves' forecasts in the two parts they are stored in (the dbt view
    fct_leaf_forecasts joins them): the many rows as numbers, and what each
    (series_id, leaf) stands for."""

    values: pa.Table  # series_id, leaf, hour_at, events, expected: arrays, never a frame
    keys: pd.DataFrame  # series_id, leaf, shop, metric, dimensions, noise

    @staticmethod
    def joined(parts: list[LeafForecasts]) -> LeafForecasts:
        if len(parts) == 1:
            return parts[0]
        return LeafForecasts(
            pa.concat_tables([part.values for part in parts]),
            pd.concat([part.keys for part in parts], ignore_index=True),
        )


def leaf_forecasts(
    all_series: list[warehouse.MetricSeries],
    series_ids: list[int],
    fits: dict[int, TotalFit],
    leaves: dict[tuple[str, str], warehouse.MetricLeaves],
    settings: ForecastSettings,
) -> LeafForecasts:
    """Every leaf's count and expectation from the hour it first occurred on, or was first
    expected on (before any history the first day's shares stand in), so that an hour's
    leaves add up to its total; and the leaves' noise, learnt from their clean hours. A
    combination that never occurred has no rows. `series_ids` numbers `all_series` as
    `fits` does."""
    values: dict[str, list[np.ndarray]] = {
        "series_id": [],
        "leaf": [],
        "hour_at": [],
        "events": [],
        "expected": [],
    }
    keys = []
    for index, series in zip(series_ids, all_series, strict=True):
        metric_leaves = leaves.get((series.shop, series.metric))
        if metric_leaves is None:
            continue
        total = fits[index]
        expected = forecasting.forecast_leaves(total, metric_leaves.counts, settings)
        clean = total.learnt() & ~total.is_outlier
        noise = localizer.leaf_noise(metric_leaves.counts, expected, clean)
        first_seen = np.argmax(metric_leaves.counts > 0, axis=1)
        since_seen = np.arange(len(series.hours))[np.newaxis, :] >= first_seen[:, np.newaxis]
        leaf_of_row, hour_of_row = np.nonzero(since_seen | (expected > 0))
        values["series_id"].append(np.full(len(leaf_of_row), index, dtype=np.int32))
        values["leaf"].append(leaf_of_row.astype(np.int32))
        values["hour_at"].append(series.hours.to_numpy()[hour_of_row])
        values["events"].append(metric_leaves.counts[leaf_of_row, hour_of_row].astype(np.int64))
        values["expected"].append(expected[leaf_of_row, hour_of_row])
        keys.append(
            metric_leaves.keys.assign(
                series_id=index,
                shop=series.shop,
                metric=series.metric,
                noise_dispersion=noise.dispersion,
                noise_relative=noise.relative,
            )
        )
    if not keys:
        return _no_leaf_forecasts()
    return LeafForecasts(
        pa.table({name: pa.chunked_array(parts) for name, parts in values.items()}),
        pd.concat(keys, ignore_index=True),
    )


def _no_leaf_forecasts() -> LeafForecasts:
    """The leaf forecasts of a run with no leaves: the tables' columns only."""
    return LeafForecasts(
        pa.table(
            {
                "series_id": pa.array([], pa.int32()),
                "leaf": pa.array([], pa.int32()),
                "hour_at": pa.array([], pa.timestamp("us")),
                "events": pa.array([], pa.int64()),
                "expected": pa.array([], pa.float64()),
            }
        ),
        pd.DataFrame(
            {
                "series_id": pd.Series(dtype="int64"),
                "leaf": pd.Series(dtype="int32"),
                "shop": pd.Series(dtype=str),
                "metric": pd.Series(dtype=str),
                **{name: pd.Series(dtype=str) for name in warehouse.LEAF_DIMENSIONS},
                "noise_dispersion": pd.Series(dtype=float),
                "noise_relative": pd.Series(dtype=float),
            }
        ),
    )


def _no_forecasts() -> pa.Table:
    """The forecasts of a run whose every event was set aside: the table's columns only."""
    return FORECAST_SCHEMA.empty_table()


def run_forecast_step(
    db: Path,
    settings: ForecastSettings,
    cache_dir: Path | None,
    workers: int | None = None,
    isolated_in: Path | None = None,
    scheduler: str | None = None,
    relearn: bool = False,
) -> ForecastRun:
    """forecast_into the database at `db`, on a connection of its own."""
    with warehouse.connect(db) as con:
        return forecast_into(con, settings, cache_dir, workers, isolated_in, scheduler, relearn)


def forecast_into(
    con: duckdb.DuckDBPyConnection,
    settings: ForecastSettings,
    cache_dir: Path | None,
    workers: int | None = None,
    isolated_in: Path | None = None,
    scheduler: str | None = None,
    relearn: bool = False,
) -> ForecastRun:
    """Read the hourly series, forecast them and write the forecasting sources (the
    series' and the leaves' forecasts), a batch of shops at a time. With `relearn`, every
    total's model is learnt again, none taken from the cache."""
    cache = ForecastCache(cache_dir, relearns=relearn)
    fitted = fit_totals(con, settings, cache, workers, isolated_in, scheduler)
    batches = shop_batches(fitted)
    if not batches:
        warehouse.write_forecasts(con, _no_forecasts())
        empty = _no_leaf_forecasts()
        warehouse.write_leaf_forecasts(con, empty.values, empty.keys)
    series_count = 0
    for number, shops in enumerate(batches):
        table, leaves, count = forecast_batch(con, fitted, shops, settings, cache)
        warehouse.write_forecasts(con, table, append=number > 0)
        warehouse.write_leaf_forecasts(con, leaves.values, leaves.keys, append=number > 0)
        series_count += count
    cache.keep_noise_fits()
    return _run_figures(fitted, series_count)


def forecast_in_dbt(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The model `forecasting_step`: forecast_into dbt's connection with the build's
    options; its table is one row, what the step did (the build reads it back)."""
    options = StepOptions.from_environment()
    figures = forecast_into(
        con,
        options.settings,
        Path(options.cache_dir) if options.cache_dir else None,
        options.workers,
        Path(options.isolated_in) if options.isolated_in else None,
        options.scheduler,
        options.relearn,
    )
    return pd.DataFrame([asdict(figures)])


def read_run_figures(con: duckdb.DuckDBPyConnection) -> ForecastRun:
    """What the model `forecasting_step` of the build in `con` did."""
    names = list(ForecastRun.__dataclass_fields__)
    row = con.execute(f"select {', '.join(names)} from forecasting_step").fetchone()
    return ForecastRun(*row)
