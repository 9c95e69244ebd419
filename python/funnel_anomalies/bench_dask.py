"""`make bench`, forecasts on Dask: the forecasting step of one database from an empty
fit cache, in this process, in two multiprocessing workers, and on local Dask clusters of
one and two workers, with whether each gives the in-process forecasts."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from funnel_anomalies import bench_dbt, dask_fits, forecast_step
from funnel_anomalies.dbt_invocation import DbtFolders
from funnel_anomalies.forecast_cache import ForecastCache
from funnel_anomalies.forecasting import ForecastSettings

# How the fits run: (label, workers, scheduler, fits in worker processes).
WAYS = (
    ("in this process", 1, None, False),
    ("2 multiprocessing workers", 2, None, True),
    ("Dask, local cluster of 1 worker", 1, dask_fits.LOCAL, True),
    ("Dask, local cluster of 2 workers", 2, dask_fits.LOCAL, True),
)


@dataclass(frozen=True)
class Way:
    label: str
    fits: int
    seconds: float
    same_as_in_process: bool


def bench_dask(events: Path) -> list[Way]:
    ways = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        db = folder / "building.duckdb"
        bench_dbt.prepare(events, db)
        bench_dbt.hourly_tables(db, DbtFolders(folder / "target", folder / "logs"))
        reference: pa.Table | None = None
        for label, workers, scheduler, isolated in WAYS:
            cache = folder / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            with duckdb.connect(str(db), read_only=True) as con:
                table, _, run = forecast_step.forecast_all(
                    con,
                    ForecastSettings(),
                    ForecastCache(cache),
                    workers,
                    isolated_in=folder if isolated else None,
                    scheduler=scheduler,
                )
            forecasts = table.drop_columns(["fitted_at"])
            if reference is None:
                reference = forecasts
            ways.append(Way(label, run.prophet_fits, run.seconds, forecasts.equals(reference)))
    return ways


def format_dask_table(ways: list[Way]) -> str:
    baseline = ways[0].seconds
    lines = [
        "| fits run | Prophet fits | forecast step (s) | fits / s | against in-process "
        "| forecasts equal to in-process |",
        "|---|---|---|---|---|---|",
    ]
    for way in ways:
        lines.append(
            f"| {way.label} | {way.fits} | {way.seconds:.1f} | {way.fits / way.seconds:.2f} "
            f"| {baseline / way.seconds:.2f} | {'yes' if way.same_as_in_process else 'NO'} |"
        )
    return "\n".join(lines)
