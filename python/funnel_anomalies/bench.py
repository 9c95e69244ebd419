"""`make bench`: the hourly-table build against a bare DuckDB GROUP BY over the same file.

The build's time is what DuckDB spent executing the models (dbt's run_results), so dbt's
own start-up and parsing, reported beside it, do not blur the comparison. The bare
GROUP BY counts events per shop, hour, event name and the raw dimension columns, written
to a table like the models are: what one query gives without deduplication, sessions or
normalization. It runs before and after the build and the faster time is kept.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from funnel_anomalies import pipeline, sample_data
from funnel_anomalies.project import DBT_PROJECT_DIR, ROOT

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


def model_seconds(run_results: Path) -> float:
    results = json.loads(run_results.read_text())["results"]
    return sum(r["execution_time"] for r in results if r["unique_id"].startswith("model."))


def bench_build(size: int) -> BuildFigures:
    events = bench_events(size)
    rows = duckdb.execute(
        "select sum(num_rows) from parquet_file_metadata(?)", [str(events)]
    ).fetchone()[0]
    scratch = BENCH_DIR / "bare.duckdb"
    bare_before = time_bare_group_by(events, scratch)
    db = BENCH_DIR / f"bench_{size}.duckdb"
    started = time.perf_counter()
    pipeline.build(events, db, quiet=True)
    dbt_wall = time.perf_counter() - started
    models = model_seconds(DBT_PROJECT_DIR / "target" / "run_results.json")
    bare_after = time_bare_group_by(events, scratch)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return BuildFigures(rows, models, dbt_wall, min(bare_before, bare_after), peak_kb / 1024**2)


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


if __name__ == "__main__":
    main()
