"""`make bench`, hourly runs: a folder of events is built, a file of the next hour is added
and the folder built again (the hourly run), then the same folder is built by a full
rebuild into a database of its own; the tables of the two are compared. Each build is
`funnel-anomalies build` in a fresh process, as `make build` runs it."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from funnel_anomalies.bench_root_causes import cli_build_command

# Columns that say when or in which run a row was made, not what it says.
RUN_COLUMNS = {"run_id", "run_started_at", "fitted_at"}
# Tables that say how a run went (models learnt or taken from the cache, seconds), not
# what it found.
RUN_TABLES = {"forecasting_step"}
# What the CLI prints of a build's two parts it times itself.
PUBLISHED = re.compile(r"dbt (?P<dbt>[\d.]+) s, forecasts of .* (?P<forecasts>[\d.]+) s \(")


def added_hour(last: datetime) -> datetime:
    """The hour a bench adds to data that ends at `last`: 14:00 of the day before the
    last one, so that the hour before it falls on the same UTC day (the day's models are
    in the cache) and the data has whole days after it."""
    return last.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=10)


def split_at_an_hour(events_path: Path, folder: Path) -> pq.Table:
    """The events before the added_hour, written as a file in `folder`; returns those of
    that hour (the events after it are left out)."""
    events = pq.read_table(events_path)
    times = events["event_timestamp"]
    hour = added_hour(pc.max(times).as_py())
    folder.mkdir(parents=True)
    pq.write_table(events.filter(pc.less(times, hour)), folder / "until_the_hour.parquet")
    in_the_hour = pc.and_(pc.greater_equal(times, hour), pc.less(times, hour + timedelta(hours=1)))
    return events.filter(in_the_hour)


def table_differences(first_db: Path, second_db: Path) -> dict[str, tuple[int, int]]:
    """Per table of the first database: its rows found only in it and only in the second,
    compared exactly, as multisets, over every column but the RUN_COLUMNS, RUN_TABLES
    left out. Views are left
    out: they store nothing, and a float sum in one may differ in its last bit with the
    order DuckDB's threads added it in. A table missing from the second is an error."""
    con = duckdb.connect()
    con.execute("attach ? as first_db (read_only)", [str(first_db)])
    con.execute("attach ? as second_db (read_only)", [str(second_db)])
    tables = con.execute(
        "select table_name, list(column_name order by column_index) from duckdb_columns() "
        "join duckdb_tables() using (database_name, schema_name, table_name) "
        "where database_name = 'first_db' and schema_name = 'main' group by table_name"
    ).fetchall()
    differences = {}
    for table, columns in tables:
        kept = ", ".join(f'"{column}"' for column in columns if column not in RUN_COLUMNS)
        if not kept or table in RUN_TABLES:
            continue

        def only_in(one: str, other: str, table: str = table, kept: str = kept) -> int:
            return con.execute(
                f'select count(*) from (select {kept} from {one}.main."{table}" '
                f'except all select {kept} from {other}.main."{table}")'
            ).fetchone()[0]

        differences[table] = (only_in("first_db", "second_db"), only_in("second_db", "first_db"))
    return differences


@dataclass(frozen=True)
class TimedBuild:
    seconds: float
    dbt_seconds: float
    forecast_seconds: float
    summary: str  # the CLI's last line

    @property
    def other_seconds(self) -> float:
        """Checks, reports, chart, publishing and the process's own start."""
        return self.seconds - self.dbt_seconds - self.forecast_seconds


def _timed_build(events: Path, folder: Path, *flags: str) -> TimedBuild:
    started = time.perf_counter()
    completed = subprocess.run(
        [*cli_build_command(events, folder), *flags], check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    summary = completed.stdout.strip().splitlines()[-1]
    parts = PUBLISHED.search(summary)
    return TimedBuild(seconds, float(parts["dbt"]), float(parts["forecasts"]), summary)


@dataclass(frozen=True)
class HourlyRun:
    data: str
    events: int
    first: TimedBuild  # the folder before the hour, from an empty cache
    next_hour: TimedBuild
    full_rebuild: TimedBuild
    tables: int
    tables_differing: list[str]


def bench_hourly_run(data: str, events_path: Path) -> HourlyRun:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        folder = root / "events"
        the_hour = split_at_an_hour(events_path, folder)
        hourly, full = root / "hourly", root / "full"
        first = _timed_build(folder, hourly)
        pq.write_table(the_hour, folder / "the_hour.parquet")
        next_hour = _timed_build(folder, hourly)
        full_rebuild = _timed_build(folder, full, "--full-rebuild")
        differences = table_differences(hourly / "funnel.duckdb", full / "funnel.duckdb")
        with duckdb.connect() as con:
            events = con.execute(
                "select count(*) from read_parquet(?)", [str(folder / "*.parquet")]
            ).fetchone()[0]
    differing = [table for table, counts in differences.items() if counts != (0, 0)]
    return HourlyRun(data, events, first, next_hour, full_rebuild, len(differences), differing)


def format_table(rows: list[HourlyRun]) -> str:
    lines = [
        "| data | events | build | wall (s) | dbt (s) | forecasting step (s) | rest (s) "
        "| models | tables equal to the full rebuild's |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        equal = (
            f"{row.tables} of {row.tables}"
            if not row.tables_differing
            else f"no: {', '.join(row.tables_differing)}"
        )
        for name, build in (
            ("first, from an empty cache", row.first),
            ("the next hour", row.next_hour),
            ("full rebuild", row.full_rebuild),
        ):
            models = re.search(r"\((.*)\)$", build.summary)
            lines.append(
                f"| {row.data} | {row.events:,} | {name} | {build.seconds:.1f} "
                f"| {build.dbt_seconds:.1f} | {build.forecast_seconds:.1f} "
                f"| {build.other_seconds:.1f} | {models[1] if models else ''} "
                f"| {equal if build is row.next_hour else ''} |"
            )
    return "\n".join(lines)
