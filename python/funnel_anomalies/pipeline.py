"""The whole run: check, build a scratch database, publish it only if all passed.

0. Before any long work: DB and OUT are usable, no process holds DB open for writing, no
   other build of DB runs, and every input file passes its check (events_input).
1. The checked files and the run's context are registered in a scratch database;
2. dbt builds and tests everything in one invocation: the hourly tables, the forecasting
   step (the Python model forecasting_step, forecast_step.py, which writes the forecasts
   into the same file) and what stands on the forecasts;
3. the reports and the chart are rendered beside the database, and the set is published
   in one switch (releases.py).

Everything a run writes before the switch is inside its own run folder, temporary files
of dbt, DuckDB, cmdstanpy and multiprocessing included, so a killed run leaves nothing
elsewhere and the next run removes its folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from funnel_anomalies import calendars, events_input, exports, forecast_step, releases
from funnel_anomalies.dbt_invocation import DbtFolders, run_dbt
from funnel_anomalies.errors import PipelineError
from funnel_anomalies.forecasting import ForecastSettings

# Unit tests check the SQL, which no run changes: `make test` runs them
# (tests/test_dbt_unit.py), not every hourly build.
WITHOUT_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]
# The two halves of a build, split at the forecasting step, for the benches and tests
# that put forecasts of their own in between.
BEFORE_FORECASTS = ["--exclude", "forecasting_step+"]
AFTER_FORECASTS = ["--select", "forecasting_step+", "--exclude", "forecasting_step"]


@dataclass(frozen=True)
class BuildReport:
    db: Path
    release: Path
    dbt_seconds: float  # dbt's invocation, start-up included, but the forecasting step
    forecasts: forecast_step.ForecastRun
    summary: dict  # run_summary.json


def default_cache_dir(db: Path) -> Path:
    return db.parent / "forecast-cache"


def prepare_scratch(
    scratch_db: Path,
    event_files: events_input.EventFiles,
    run_id: str,
    run_started_at: datetime,
    input_format: str = "events",
) -> None:
    """The relations dbt's sources read: the checked input files and the run's context."""
    with duckdb.connect(str(scratch_db)) as con:
        events_input.register(con, event_files, input_format)
        con.execute(
            "create or replace table run_context as "
            "select ?::varchar as run_id, ?::timestamp as run_started_at",
            [run_id, run_started_at.astimezone(UTC).replace(tzinfo=None)],
        )


@contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """Temporary files of this process and of every process it starts go into `folder`."""
    previous_environment = os.environ.get("TMPDIR")
    previous_tempdir = tempfile.tempdir
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous_tempdir
        if previous_environment is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous_environment


def _checkpointed(scratch: Path, destination: Path) -> None:
    # Fold any write-ahead log into the file, so that the move takes a complete database.
    with duckdb.connect(str(scratch)) as con:
        con.execute("checkpoint")
    scratch.replace(destination)


def build(
    events: str | Path,
    db: Path,
    out: Path | None = None,
    quiet: bool = False,
    settings: ForecastSettings | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    run_started_at: datetime | None = None,
    scheduler: str | None = None,
    full_rebuild: bool = False,
    strict: bool = False,
    input_format: str = "events",
) -> BuildReport:
    """Build every model and test from `events`, then publish the database at `db` and
    the reports and chart in `out`, all in one switch. The totals' models are learnt on
    the Dask cluster of `scheduler` (`local` or an address; dask_fits) when one is given;
    a `full_rebuild` learns every one again instead of taking the day's from the cache. A
    `strict` build publishes nothing when most events have names the funnel does not count
    (exports.too_few_recognized). `input_format` names what the files are
    (events_input.INPUT_FORMATS: the storefront events, or a GA4 export)."""
    db = Path(os.path.abspath(db))
    out = Path(os.path.abspath(out)) if out is not None else None
    releases.check_paths(db, out, exports.FILE_NAMES)
    calendars.check_seeds()
    event_files = events_input.validate(events, input_format)
    run_started_at = run_started_at or datetime.now(UTC)
    store = releases.store_for(db)
    with releases.build_lock(store):
        run = releases.new_run(store)
        folders = DbtFolders(run.dbt_target, run.dbt_logs)
        try:
            with temporary_files_in(run.tmp):
                prepare_scratch(
                    run.scratch_db, event_files, run.run_id, run_started_at, input_format
                )
                options = forecast_step.StepOptions(
                    settings or ForecastSettings(),
                    str(cache_dir if cache_dir is not None else default_cache_dir(db)),
                    workers,
                    str(run.tmp),
                    scheduler,
                    full_rebuild,
                )
                started = time.perf_counter()
                run_dbt(
                    ["build", *WITHOUT_UNIT_TESTS],
                    run.scratch_db,
                    folders,
                    quiet=quiet,
                    environment=options.as_environment(),
                )
                with duckdb.connect(str(run.scratch_db), read_only=True) as con:
                    forecasts = forecast_step.read_run_figures(con)
                dbt_seconds = time.perf_counter() - started - forecasts.seconds
                releases.kill_point("dbt_built")
                summary = exports.write(run.scratch_db, event_files, run.release_out)
                warning = exports.too_few_recognized(summary)
                if strict and warning:
                    raise PipelineError(f"--strict: {warning}")
                _checkpointed(run.scratch_db, run.release / releases.DATABASE_NAME)
                releases.kill_point("rendered")
            release = releases.publish(store, run, out, exports.FILE_NAMES)
        except BaseException:
            _keep_only_the_log(run)
            raise
        shutil.rmtree(run.folder, ignore_errors=True)
    return BuildReport(db, release, dbt_seconds, forecasts, summary)


def _keep_only_the_log(run: releases.Run) -> None:
    """A failed run's folder keeps dbt's log to debug it from (the next run removes it)."""
    for leftover in run.folder.iterdir():
        if leftover.name == "dbt":
            shutil.rmtree(run.dbt_target, ignore_errors=True)
        elif leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
