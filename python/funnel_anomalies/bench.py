"""`make bench`: what the pipeline's steps cost against the plain way of doing them.

Hourly tables: the build's time is what DuckDB spent executing the models (dbt's
run_results), so dbt's own start-up and parsing, reported beside it, do not blur the
comparison. The bare
GROUP BY counts events per shop, hour, event name and the raw dimension columns, written
to a table like the models are: what one query gives without deduplication, sessions or
normalization. It runs before and after the build and the faster time is kept.

Forecasts: the forecasting step against the plain way (one default Prophet model per
series, 1,000 uncertainty samples, its Gaussian 99% band, one series after another), on
the same series of the 3-million-event data in the same run, each with the coverage and
band detection figures of evaluation.py so that speed is never bought with quality.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from funnel_anomalies import (
    evaluation,
    forecast_step,
    forecasting,
    pipeline,
    sample_data,
    warehouse,
)
from funnel_anomalies.forecast_cache import ForecastCache
from funnel_anomalies.project import ROOT

BENCH_DIR = ROOT / ".bench"
SIZES = (3_000_000, 30_000_000)
RATIO_TARGET = 2.0

BARE_GROUP_BY = """
create or replace table bare_hourly_counts as
select
    shop,
    date_trunc('hour', cast(event_timestamp as timestamptz)) as hour_at,
    event_name,
    geography,
    user_agent,
    device_type,
    utm_source,
    utm_medium,
    count(*) as events,
from read_parquet(?)
group by all
"""


@dataclass(frozen=True)
class BuildFigures:
    events: int
    models_seconds: float
    dbt_wall_seconds: float
    bare_seconds: float
    peak_rss_gb: float

    @property
    def ratio(self) -> float:
        return self.models_seconds / self.bare_seconds


def bench_events(size: int) -> Path:
    """The generated input of `size` events, made once and kept in .bench/."""
    path = BENCH_DIR / f"events_{size}.parquet"
    if not path.exists():
        print(f"generating {size:,} events into {path} ...", flush=True)
        sample_data.write_sample(sample_data.default_spec(events=size), path)
    return path


def time_bare_group_by(events: Path, scratch_db: Path) -> float:
    scratch_db.unlink(missing_ok=True)
    with duckdb.connect(str(scratch_db)) as con:
        con.execute("set TimeZone = 'UTC'")
        started = time.perf_counter()
        con.execute(BARE_GROUP_BY, [str(events)])
        con.execute("checkpoint")
        elapsed = time.perf_counter() - started
    scratch_db.unlink(missing_ok=True)
    return elapsed


def bench_build(size: int) -> BuildFigures:
    events = bench_events(size)
    rows = duckdb.execute(
        "select sum(num_rows) from parquet_file_metadata(?)", [str(events)]
    ).fetchone()[0]
    scratch = BENCH_DIR / "bare.duckdb"
    bare_before = time_bare_group_by(events, scratch)
    db = BENCH_DIR / f"bench_{size}.duckdb"
    report = pipeline.build(events, db, quiet=True)
    bare_after = time_bare_group_by(events, scratch)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return BuildFigures(
        rows,
        report.model_seconds,
        report.dbt_seconds,
        min(bare_before, bare_after),
        peak_kb / 1024**2,
    )


def format_table(rows: list[BuildFigures]) -> str:
    header = (
        "| events | hourly build (models, s) | whole dbt build (s) | bare GROUP BY (s) "
        f"| ratio | target ≤ {RATIO_TARGET:g} | peak memory so far (GB) |"
    )
    lines = [header, "|" + "---|" * 7]
    for row in rows:
        verdict = "met" if row.ratio <= RATIO_TARGET else "missed"
        lines.append(
            f"| {row.events:,} | {row.models_seconds:.2f} | {row.dbt_wall_seconds:.2f} "
            f"| {row.bare_seconds:.2f} | {row.ratio:.2f} | {verdict} | {row.peak_rss_gb:.1f} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class ForecastFigures:
    method: str
    series: int
    seconds: float
    coverage: pd.DataFrame
    detection: dict

    @property
    def seconds_per_series(self) -> float:
        return self.seconds / self.series


def plain_forecasts(con) -> tuple[pd.DataFrame, int]:
    """The plain way: every series its own default Prophet, sampled 99% band, in turn."""
    from prophet import Prophet

    forecasting.quiet_stan_logging()
    frames = []
    for series in warehouse.read_series(con):
        named = [("total", "all", series.total)]
        for dimension, (values, counts) in series.dimensions.items():
            named += [(dimension, value, row) for value, row in zip(values, counts, strict=True)]
        for dimension, value, counts in named:
            frame = pd.DataFrame({"ds": series.hours, "y": counts})
            model = Prophet(interval_width=0.99, uncertainty_samples=1000).fit(frame)
            predicted = model.predict(frame[["ds"]])
            frames.append(
                pd.DataFrame(
                    {
                        "shop": series.shop,
                        "hour_at": series.hours,
                        "metric": series.metric,
                        "dimension": dimension,
                        "dimension_value": value,
                        "expected": predicted["yhat"].to_numpy(),
                        "expected_lower": predicted["yhat_lower"].to_numpy(),
                        "expected_upper": predicted["yhat_upper"].to_numpy(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True), len(frames)


def bench_forecasts(db: Path, labels: dict) -> list[ForecastFigures]:
    """Both ways on a copy of a built database, each timed and scored."""
    figures = []
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "forecast_bench.duckdb"
        shutil.copy(db, copy)
        with duckdb.connect(str(copy)) as con:
            for workers in (1, 2):
                settings = forecasting.ForecastSettings()
                table, run = forecast_step.forecast_all(
                    con, settings, ForecastCache(None), workers=workers
                )
                warehouse.write_forecasts(con, table)
                hours = evaluation.scored_hours(con)
                figures.append(
                    ForecastFigures(
                        f"this project, {workers} worker{'s' if workers > 1 else ''}",
                        run.series,
                        run.seconds,
                        evaluation.coverage_table(hours, labels),
                        evaluation.band_detection(hours, labels),
                    )
                )
            started = time.perf_counter()
            plain, series = plain_forecasts(con)
            seconds = time.perf_counter() - started
            con.register("plain_frame", plain)
            con.execute("create or replace table plain_forecasts as select * from plain_frame")
            hours = evaluation.scored_hours(con, "plain_forecasts")
            figures.append(
                ForecastFigures(
                    "plain: default Prophet per series, 1,000 samples, in turn",
                    series,
                    seconds,
                    evaluation.coverage_table(hours, labels),
                    evaluation.band_detection(hours, labels),
                )
            )
    return figures


def format_forecast_table(figures: list[ForecastFigures]) -> str:
    plain = figures[-1]
    lines = [
        "| method | series | seconds | s / series | throughput vs plain "
        "| totals: clean-hour coverage (min-max over size x daypart) "
        "| band recall of labelled hours | clean hours outside band / week / shop |",
        "|" + "---|" * 8,
    ]
    for figure in figures:
        totals = figure.coverage[figure.coverage["series"] == "totals"]["coverage"]
        lines.append(
            f"| {figure.method} | {figure.series} | {figure.seconds:.1f} "
            f"| {figure.seconds_per_series:.4f} "
            f"| {plain.seconds_per_series / figure.seconds_per_series:.1f}x "
            f"| {totals.min():.2%} - {totals.max():.2%} "
            f"| {figure.detection['recall']:.1%} "
            f"| {figure.detection['false_flags_per_week_per_shop']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="event counts to bench"
    )
    arguments = parser.parse_args()
    BENCH_DIR.mkdir(exist_ok=True)
    figures = [bench_build(size) for size in arguments.sizes]
    print("\nHourly tables: the dbt build against a bare GROUP BY over the same file")
    print(format_table(figures))
    smallest = min(arguments.sizes)
    labels = evaluation.load_labels(sample_data.labels_path_for(bench_events(smallest)))
    forecast_figures = bench_forecasts(BENCH_DIR / f"bench_{smallest}.duckdb", labels)
    print(f"\nForecasts of every series of the {smallest:,}-event data, the same run")
    print(format_forecast_table(forecast_figures))
    print("\nCoverage of clean hours by the 99% band (this project, 2 workers)")
    print(evaluation.format_coverage(forecast_figures[1].coverage))


if __name__ == "__main__":
    main()
