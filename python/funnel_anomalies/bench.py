"""`make bench`: what the pipeline's steps cost against the plain way of doing them.

Hourly tables: the build's time is what dbt spent executing the models of the hourly
half of `dbt build` (their execution times in run_results: the SQL and dbt's bookkeeping
for each model), so dbt's start-up and parsing, reported beside it, do not blur the
comparison. The bare GROUP BY counts events per shop, hour, event name and the raw
dimension columns, written to a table like the models are: what one query gives without
deduplication, sessions or normalization. The two take turns, three times each, and their
medians are compared: on a shared two-core machine one run can be 15% off the next, more
than the differences being measured. Both are also timed on a small file of the same
shops and weeks: what they cost there does not grow with the events (dbt's work per model,
the zero-filled mart of hours x series), and the ratio of what remains is shown beside the
target's, which stays judged on the whole build.

Forecasts (bench_forecasts.py): real series through the whole pipeline against the plain
way and two simple baselines; generated data of three seeds and sizes built and scored
against their labels and against an oracle that knows the true mean and noise; injected
effects; and the forecasting step against the plain way (one default Prophet model per
series, 1,000 uncertainty samples, its Gaussian 99% band, one series after another) on
the same series in the same run, each with its coverage and the anomaly rules' scores on
top of it, so that speed is never bought with quality.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from funnel_anomalies import (
    bench_chart,
    bench_dask,
    bench_dbt,
    bench_hostile,
    bench_hourly_run,
    bench_localizer,
    bench_plain,
    bench_root_causes,
    bench_shops,
    evaluation,
    forecast_step,
    forecasting,
    pipeline,
    pixel_strings,
    sample_data,
    warehouse,
)
from funnel_anomalies import bench_forecasts as bench_forecasts_module
from funnel_anomalies.dbt_invocation import DbtFolders, model_seconds, run_dbt
from funnel_anomalies.forecast_cache import ForecastCache
from funnel_anomalies.project import ROOT

BENCH_DIR = ROOT / ".bench"
BENCH_DBT = DbtFolders(BENCH_DIR / "dbt" / "target", BENCH_DIR / "dbt" / "logs")
SIZES = (3_000_000, 30_000_000)
RATIO_TARGET = 2.0
HOURLY_TURNS = 3
# The same shops and weeks with so few events that what the build costs there is its
# fixed part.
FIXED_PART_EVENTS = 30_000
# The small-shop variant: the default shops at about a third of the volume (peaks of
# about 200, 100 and 50 sessions an hour).
SMALL_SHOP_EVENTS = 1_200_000

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
class HourlyTimes:
    """Medians of the hourly models and of the bare GROUP BY over one file."""

    models_seconds: float
    bare_seconds: float


@dataclass(frozen=True)
class BuildFigures:
    events: int
    times: HourlyTimes
    fixed_part: HourlyTimes
    dbt_wall_seconds: float
    peak_rss_gb: float

    @property
    def ratio(self) -> float:
        return self.times.models_seconds / self.times.bare_seconds

    @property
    def ratio_beyond_fixed_part(self) -> float:
        return (self.times.models_seconds - self.fixed_part.models_seconds) / (
            self.times.bare_seconds - self.fixed_part.bare_seconds
        )


def bench_events(size: int) -> Path:
    """The generated input of `size` events, made once and kept in .bench/."""
    return _generated(f"events_{size}", sample_data.default_spec(events=size))


def _generated(name: str, spec: sample_data.SampleSpec) -> Path:
    """Events of `spec` with their labels, generated once into .bench/ under a name that
    changes with the spec and with the generator's code, so nothing stale is reused."""
    generator_code = b"".join(
        Path(module.__file__).read_bytes() for module in (sample_data, pixel_strings)
    )
    fingerprint = hashlib.sha256(repr(spec).encode() + generator_code).hexdigest()[:12]
    path = BENCH_DIR / f"{name}-{fingerprint}.parquet"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        sample_data.write_sample(spec, path)
    return path


def time_bare_group_by(events: Path, scratch_db: Path) -> float:
    scratch_db.unlink(missing_ok=True)
    with duckdb.connect(str(scratch_db)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        started = time.perf_counter()
        con.execute(BARE_GROUP_BY, [str(events)])
        con.execute("checkpoint")
        elapsed = time.perf_counter() - started
    scratch_db.unlink(missing_ok=True)
    return elapsed


def time_hourly_models(events: Path, scratch_db: Path) -> float:
    """Seconds dbt spends executing the hourly models (their SQL and its bookkeeping for
    each), built from scratch."""
    scratch_db.unlink(missing_ok=True)
    bench_dbt.prepare(events, scratch_db)
    run_results = bench_dbt.hourly_tables(scratch_db, BENCH_DBT)
    scratch_db.unlink(missing_ok=True)
    return model_seconds(run_results)


def time_hourly(events: Path) -> HourlyTimes:
    """The bare GROUP BY and the hourly models taking turns over `events`."""
    bare_runs, hourly_runs = [], []
    for _ in range(HOURLY_TURNS):
        bare_runs.append(time_bare_group_by(events, BENCH_DIR / "bare.duckdb"))
        hourly_runs.append(time_hourly_models(events, BENCH_DIR / "hourly.duckdb"))
    return HourlyTimes(statistics.median(hourly_runs), statistics.median(bare_runs))


def bench_build(size: int, fixed_part: HourlyTimes) -> BuildFigures:
    events = bench_events(size)
    rows = duckdb.execute(
        "select sum(num_rows) from parquet_file_metadata(?)", [str(events)]
    ).fetchone()[0]
    # The whole pipeline once, as `make build` runs it: its dbt time, its memory, and the
    # database the forecast bench starts from.
    report = pipeline.build(events, BENCH_DIR / f"{events.stem}.duckdb", quiet=True)
    times = time_hourly(events)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return BuildFigures(rows, times, fixed_part, report.dbt_seconds, peak_kb / 1024**2)


def format_table(rows: list[BuildFigures]) -> str:
    header = (
        f"| events | hourly build (models, s, median of {HOURLY_TURNS}) | whole dbt build (s) "
        f"| bare GROUP BY (s, median of {HOURLY_TURNS}) | ratio | target ≤ {RATIO_TARGET:g} "
        "| ratio beyond the fixed part | peak memory so far (GB) |"
    )
    lines = [header, "|" + "---|" * 8]
    for row in rows:
        verdict = "met" if row.ratio <= RATIO_TARGET else "missed"
        lines.append(
            f"| {row.events:,} | {row.times.models_seconds:.2f} | {row.dbt_wall_seconds:.2f} "
            f"| {row.times.bare_seconds:.2f} | {row.ratio:.2f} | {verdict} "
            f"| {row.ratio_beyond_fixed_part:.2f} | {row.peak_rss_gb:.1f} |"
        )
    fixed_part = rows[0].fixed_part
    lines.append(
        f"\nFixed part (the same shops and weeks, {FIXED_PART_EVENTS:,} events): hourly models "
        f"{fixed_part.models_seconds:.2f} s, bare GROUP BY {fixed_part.bare_seconds:.2f} s "
        f"(medians of {HOURLY_TURNS}); the ratio beyond it is (build - its fixed part) / "
        "(bare - its fixed part)."
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class ForecastFigures:
    method: str
    series: int
    seconds: float
    coverage: pd.DataFrame
    detection: dict  # the anomaly rules on top of these forecasts, scored on the labels

    @property
    def seconds_per_series(self) -> float:
        return self.seconds / self.series


def plain_forecasts(con) -> tuple[pd.DataFrame, int]:
    """The plain way (bench_forecasts.plain_forecast) for every series, in turn, as a
    fct_forecasts table the anomaly models can run on."""
    frames = []
    for series in warehouse.read_series(con):
        for dimension, value, counts in bench_plain.named_counts(series):
            plain = bench_forecasts_module.plain_forecast(series.hours, counts)
            hours = len(series.hours)
            frames.append(
                pd.DataFrame(
                    {
                        "shop": series.shop,
                        "hour_at": series.hours,
                        "metric": series.metric,
                        "dimension": dimension,
                        "dimension_value": value,
                        "expected": plain["expected"],
                        "expected_lower": plain["lower"],
                        "expected_upper": plain["upper"],
                        "noise_scale": plain["noise_scale"],
                        "noise_autocorrelation": plain["autocorrelation"],
                        # The rule's floor alone, as for a Gaussian noise; no holidays.
                        "score_threshold": bench_forecasts_module.NOISE_FLOOR_SCORE,
                        "holiday": pd.Series(pd.NA, index=range(hours), dtype="string"),
                        "is_holiday_expected": pd.Series(
                            pd.NA, index=range(hours), dtype="boolean"
                        ),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True), len(frames)


def _anomaly_scores(
    db: Path,
    forecasts: pa.Table | pd.DataFrame,
    events: Path,
    labels: dict,
    leaf_forecasts: forecast_step.LeafForecasts | None = None,
) -> dict:
    """Write `forecasts` as fct_forecasts (and `leaf_forecasts`, else keep the build's)
    into `db`, build the anomaly models on them and score the anomalies, contributors and
    scenarios against the labels."""
    with duckdb.connect(str(db)) as con:
        warehouse.write_forecasts(con, forecasts)
        if leaf_forecasts is not None:
            warehouse.write_leaf_forecasts(con, leaf_forecasts.values, leaf_forecasts.keys)
    # Only the models: the plain way's values do not add up to their totals, which the
    # forecasts' tests would (rightly) refuse.
    run_dbt(["run", *pipeline.AFTER_FORECASTS], db, BENCH_DBT, quiet=True)
    with duckdb.connect(str(db), read_only=True) as con:
        return evaluation.detection_scores(con, labels)


def _next_hour_forecasts(db: Path, scratch: Path, events: Path, labels: dict) -> ForecastFigures:
    """The hourly run's case: the hours of `db` before its added_hour put that day's
    models in the cache, and the hours up to it apply them (both on one UTC day, as 23 of
    a day's 24 runs are; the hours after it are left out of this row)."""
    cache = ForecastCache(scratch / "forecast-cache")
    with duckdb.connect(str(db), read_only=True) as con:
        last = con.execute("select max(hour_at) from fct_hourly_metrics").fetchone()[0]
    next_hour = bench_hourly_run.added_hour(last)
    previous = scratch / "previous_hour.duckdb"
    shutil.copy(db, previous)
    with duckdb.connect(str(previous)) as con:
        con.execute("delete from fct_hourly_metrics where hour_at >= ?", [next_hour])
        forecast_step.forecast_all(con, forecasting.ForecastSettings(), cache)
    latest = scratch / "next_hour.duckdb"
    shutil.copy(db, latest)
    with duckdb.connect(str(latest)) as con:
        con.execute("delete from fct_hourly_metrics where hour_at > ?", [next_hour])
        table, leaves, run = forecast_step.forecast_all(con, forecasting.ForecastSettings(), cache)
    assert run.learnt_totals == 0, "the next hour of a day learns no model"
    scores = _anomaly_scores(latest, table, events, labels, leaves)
    with duckdb.connect(str(latest), read_only=True) as con:
        coverage = evaluation.coverage_table(evaluation.scored_hours(con), labels)
    return ForecastFigures(
        "this project, the default workers, the next hour (the day's models from the cache)",
        run.series,
        run.seconds,
        coverage,
        scores,
    )


def bench_forecasts(db: Path, events: Path, labels: dict) -> list[ForecastFigures]:
    """Both ways on a copy of a built database, each timed and scored. Prophet is imported
    before either is timed: a run pays its import once, whatever its series, and the way
    timed first would otherwise pay it for both."""
    import prophet  # noqa: F401

    figures = []
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "forecast_bench.duckdb"
        shutil.copy(db, copy)
        for workers in (1, 2):
            with duckdb.connect(str(copy)) as con:
                table, leaves, run = forecast_step.forecast_all(
                    con, forecasting.ForecastSettings(), ForecastCache(None), workers=workers
                )
            scores = _anomaly_scores(copy, table, events, labels, leaves)
            with duckdb.connect(str(copy), read_only=True) as con:
                coverage = evaluation.coverage_table(evaluation.scored_hours(con), labels)
            figures.append(
                ForecastFigures(
                    f"this project, {workers} worker{'s' if workers > 1 else ''}",
                    run.series,
                    run.seconds,
                    coverage,
                    scores,
                )
            )
        figures.append(_next_hour_forecasts(db, Path(scratch), events, labels))
        with duckdb.connect(str(copy), read_only=True) as con:
            started = time.perf_counter()
            plain, series = plain_forecasts(con)
            seconds = time.perf_counter() - started
        scores = _anomaly_scores(copy, plain, events, labels)
        with duckdb.connect(str(copy), read_only=True) as con:
            coverage = evaluation.coverage_table(evaluation.scored_hours(con), labels)
        figures.append(
            ForecastFigures(
                "plain: default Prophet per series, 1,000 samples, in turn",
                series,
                seconds,
                coverage,
                scores,
            )
        )
    return figures


def format_forecast_table(figures: list[ForecastFigures]) -> str:
    plain = figures[-1]
    lines = [
        "| method | series | seconds | s / series | throughput vs plain "
        "| totals: clean-hour coverage (min-max over size x daypart) "
        "| F1 | root-cause accuracy | scenario accuracy | false alarms / week / shop |",
        "|" + "---|" * 10,
    ]
    for figure in figures:
        totals = figure.coverage[figure.coverage["series"] == "totals"]["coverage"]
        scores = figure.detection
        lines.append(
            f"| {figure.method} | {figure.series} | {figure.seconds:.1f} "
            f"| {figure.seconds_per_series:.4f} "
            f"| {plain.seconds_per_series / figure.seconds_per_series:.1f}x "
            f"| {totals.min():.2%} - {totals.max():.2%} "
            f"| {scores['f1']:.3f} | {scores['root_cause_accuracy']:.3f} "
            f"| {scores['scenario_accuracy']:.3f} "
            f"| {scores['false_alarms_per_week_per_shop']:.2f} |"
        )
    return "\n".join(lines)


PARTS = (
    "hourly",
    "forecasts",
    "hostile",
    "localizer",
    "root-causes",
    "dbt",
    "dask",
    "shops",
    "plain",
    "next-hour",
)
# Generated data the forecasts are judged on: the default sample, and data of other seeds,
# sizes and lengths on which nothing was tuned.
FORECAST_SPECS = {
    "default (seed 7)": sample_data.default_spec(),
    "seed 23, 4 shops, 6 weeks": sample_data.default_spec(shops=4, days=42, seed=23),
    "small shops, seed 31": sample_data.default_spec(events=SMALL_SHOP_EVENTS, seed=31),
}


# The make build sample, and a week of two small shops: the size of most tests' builds.
DBT_COST_SPECS = {
    "events_default": sample_data.default_spec(),
    "events_week_small": sample_data.default_spec(shops=2, days=7, events=30_000, seed=5),
}


# Enough totals to fit (five per shop) for throughput to show.
DASK_SPEC = sample_data.default_spec(shops=30, days=35, events=2_000_000, seed=29)
# Whole builds against the plain way: the 30 shops above, and two shops over seven weeks.
# The plain way's many series at 30 shops are sampled (bench_plain).
PLAIN_SPECS = {
    "events_30_shops": ("30 shops, 5 weeks (seed 29)", DASK_SPEC, 60),
    "events_2_shops_7_weeks": (
        "2 shops, 7 weeks (seed 13)",
        sample_data.default_spec(shops=2, days=49, seed=13),
        None,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="event counts to bench"
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="hourly: hourly tables and the chart; forecasts: expectations against the plain "
        "way, baselines and an oracle; hostile: crafted input; localizer: root causes on "
        "semi-synthetic cases; root-causes: whole builds with combination incidents, and "
        "the build's time against the commit before the leaves; dbt: what a build's dbt "
        "invocations cost, node by node and around the nodes; dask: the forecasting step "
        "in process, on multiprocessing and on local Dask clusters; shops: whole builds of "
        "populations of many shops; plain: whole builds against the plain way; next-hour: "
        "a build, the next hour added, and a full rebuild of the same files",
    )
    parser.add_argument(
        "--shop-counts",
        type=int,
        nargs="+",
        default=[30, 300, 1000],
        help="populations of shops to build (shops part)",
    )
    arguments = parser.parse_args()
    BENCH_DIR.mkdir(exist_ok=True)
    if "hourly" in arguments.parts:
        bench_pipeline(arguments.sizes)
    if "forecasts" in arguments.parts:
        bench_expectations()
    if "hostile" in arguments.parts:
        print("\nHostile input: whole builds of a week of 100,000 events, and crafted variants")
        print(bench_hostile.format_hostile_table(bench_hostile.bench_hostile(BENCH_DIR)))
    if "localizer" in arguments.parts:
        print(
            f"\nRoot causes: {bench_localizer.CASES_PER_CELL} semi-synthetic cases per cell, "
            "F1 of exact element matches"
        )
        print(bench_localizer.format_localizer_table(bench_localizer.bench_localizer()))
    if "root-causes" in arguments.parts:
        print("\nRoot causes in whole builds: combination incidents and a dominant segment")
        print(evaluation.DETECTION_HEADER)
        for row in bench_root_causes.detection_rows(_generated):
            print(row)
        print("\nThe hourly build of the default sample, from an empty forecast cache")
        default_events = _generated("events_default", sample_data.default_spec())
        print(bench_root_causes.build_time_table(default_events))
    if "dbt" in arguments.parts:
        print("\nWhat a build's dbt invocations cost (models, tests and seeds as dbt times them)")
        for name, spec in DBT_COST_SPECS.items():
            events = _generated(name, spec)
            print(bench_dbt.format_costs_table(name, bench_dbt.dbt_costs(events)))
    if "dask" in arguments.parts:
        print(
            "\nThe forecasting step from an empty fit cache, 30 shops over 5 weeks "
            "(2 million events)"
        )
        events = _generated("events_30_shops", DASK_SPEC)
        print(bench_dask.format_dask_table(bench_dask.bench_dask(events)))
    if "shops" in arguments.parts:
        print(
            f"\nWhole builds of shop populations ({bench_shops.DAYS} days, "
            f"{bench_shops.EVENTS_PER_SHOP:,} events per shop on average), from an empty fit "
            "cache"
        )
        builds = []
        for shops in arguments.shop_counts:  # a row as each build ends: they are long
            builds += bench_shops.bench_shops([shops], _generated)
            print(bench_shops.format_shops_table(builds), flush=True)
    if "plain" in arguments.parts:
        print(
            "\nWhole builds (as `make build` runs them, from an empty fit cache) against the "
            "plain way: a default Prophet per series, one after another"
        )
        rows = [
            bench_plain.compare(data, _generated(name, spec), sampled)
            for name, (data, spec, sampled) in PLAIN_SPECS.items()
        ]
        print(bench_plain.format_table(rows))
    if "next-hour" in arguments.parts:
        print(
            "\nHourly runs: a folder built, a file of the next hour added and built again, "
            "then the folder built by a full rebuild (each a fresh `funnel-anomalies build`)"
        )
        runs = [
            bench_hourly_run.bench_hourly_run(data, _generated(name, spec))
            for name, (data, spec, _) in PLAIN_SPECS.items()
        ]
        print(bench_hourly_run.format_table(runs))


def bench_pipeline(sizes: list[int]) -> None:
    fixed_part = time_hourly(bench_events(FIXED_PART_EVENTS))
    figures = [bench_build(size, fixed_part) for size in sizes]
    print("\nHourly tables: the dbt build against a bare GROUP BY over the same file")
    print(format_table(figures))
    print(
        "\nThe chart of the default data (3 shops, 8 weeks): an index, a page per shop, one "
        f"plotly.js; loads are medians of {bench_chart.LOADS} in headless Chromium"
    )
    events = _generated("events_default", sample_data.default_spec())
    chart_out = BENCH_DIR / "detection_default_out"
    pipeline.build(events, BENCH_DIR / "detection_default.duckdb", chart_out, quiet=True)
    print(bench_chart.TABLE_HEAD)
    print(bench_chart.format_row(bench_chart.measure(chart_out)))


def bench_expectations() -> None:
    """Issue 19's figures in one run: real series, generated data against the oracle,
    injected effects, and the forecasting step's throughput against the plain way."""
    real, seconds = bench_forecasts_module.bench_real(BENCH_DIR)
    print(f"\nReal series, built as raw events by the pipeline ({seconds:.0f} s for all)")
    print(bench_forecasts_module.format_real_table(real))
    if real:
        print("\nThis project's flags on the real series under raised score thresholds")
        print(bench_forecasts_module.format_threshold_trade(real))
        print("\nA threshold per series chosen with hindsight of its labels (factor x today's)")
        print(bench_forecasts_module.format_hindsight(real))
        print("\nThe hours flagged outside the labelled windows")
        print(bench_forecasts_module.format_outside_moves(real))
        png = bench_forecasts_module.plot(real, BENCH_DIR / "real_series.png")
        print(f"\nplot: {png}")
    generated, built = [], {}
    print("\nAnomalies, contributors and scenarios against the labelled incidents")
    print(evaluation.DETECTION_HEADER)
    for name, spec in FORECAST_SPECS.items():
        events = _generated("events_" + name.split(" ")[0].replace(",", ""), spec)
        db = BENCH_DIR / f"forecasts_{len(built)}.duckdb"
        bench_forecasts_module.build_from_cold(events, db)
        built[name] = (events, db)
        with duckdb.connect(str(db), read_only=True) as con:
            print(
                evaluation.format_detection(
                    name,
                    evaluation.detection_scores(
                        con, evaluation.load_labels(sample_data.labels_path_for(events))
                    ),
                )
            )
        generated.append(bench_forecasts_module.bench_generated(name, events, db))
    print("\nBands of the totals against the oracle's (true mean and variance), clean hours")
    print(bench_forecasts_module.format_generated_table(generated))
    default_events, default_db = built["default (seed 7)"]
    print("\nInjected effects (1-3 hours, on series drawn from the truth, 10 trials each)")
    print(
        bench_forecasts_module.format_effects_table(
            bench_forecasts_module.smallest_effects(default_events, default_db)
        )
    )
    labels = evaluation.load_labels(sample_data.labels_path_for(default_events))
    forecast_figures = bench_forecasts(default_db, default_events, labels)
    print("\nForecasts of every series of the default data, the same run")
    print(format_forecast_table(forecast_figures))
    print("\nHours flagged per million under pure noise, by the anomaly rule without and with runs")
    print(bench_forecasts_module.format_null_flag_rates(bench_forecasts_module.null_flag_rates()))


if __name__ == "__main__":
    main()
