"""The whole run: check the input, build a scratch database, publish it only if all passed.

1. dbt builds (and tests) everything up to the hourly tables;
2. the forecasting step writes fct_forecasts into the same file;
3. dbt builds and tests what stands on the forecasts (declared as a dbt source).

Readers (and the previous run's outputs) never see a half-built database: all of it is
written into `<db>.building`, and only a run whose every step succeeded renames it over
`<db>` and then replaces the files in OUT, each by a rename.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from funnel_anomalies import events_input, exports, forecast_step
from funnel_anomalies.dbt_invocation import run_dbt
from funnel_anomalies.forecasting import ForecastSettings

# dbt selectors for the two halves of the build, split at the forecasts source.
BEFORE_FORECASTS = ["--exclude", "source:forecasting+"]
AFTER_FORECASTS = ["--select", "source:forecasting+"]


def scratch_path(db: Path) -> Path:
    return db.with_name(db.name + ".building")


def _remove_database(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _publish(scratch: Path, db: Path) -> None:
    # Fold any write-ahead log into the file first, so the rename moves a complete database.
    with duckdb.connect(str(scratch)) as con:
        con.execute("checkpoint")
    scratch.replace(db)
    db.with_name(db.name + ".wal").unlink(missing_ok=True)


@dataclass(frozen=True)
class BuildReport:
    db: Path
    dbt_seconds: float  # both dbt invocations, start-up included
    forecasts: forecast_step.ForecastRun


def default_cache_dir(db: Path) -> Path:
    return db.parent / "forecast-cache"


def build(
    events: str | Path,
    db: Path,
    out: Path | None = None,
    quiet: bool = False,
    settings: ForecastSettings | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> BuildReport:
    """Build every model and test from `events` into `db`, then replace OUT's files."""
    event_files = events_input.validate(events)
    db = db.resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    scratch = scratch_path(db)
    _remove_database(scratch)
    dbt_vars = {"events": event_files.pattern}
    staged: list = []
    try:
        started = time.perf_counter()
        run_dbt(["build", *BEFORE_FORECASTS], scratch, dbt_vars, quiet=quiet)
        dbt_seconds = time.perf_counter() - started
        forecasts = forecast_step.run_forecast_step(
            scratch,
            settings or ForecastSettings(),
            cache_dir if cache_dir is not None else default_cache_dir(db),
            workers,
        )
        started = time.perf_counter()
        run_dbt(["build", *AFTER_FORECASTS], scratch, dbt_vars, quiet=quiet)
        dbt_seconds += time.perf_counter() - started
        if out is not None:
            files = exports.render(scratch, [str(file) for file in event_files.files])
            staged = exports.stage(out, files)
        _publish(scratch, db)
        exports.publish(staged)
    finally:
        exports.discard(staged)
        _remove_database(scratch)
    return BuildReport(db, dbt_seconds, forecasts)
