"""Hourly runs: a file of one more hour added to a folder learns no model again (the day's
models come from the cache), and gives the same tables as a full rebuild of the folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from funnel_anomalies import pipeline

# Columns that say when or in which run a row was made, not what it says.
RUN_COLUMNS = {"run_id", "run_started_at", "fitted_at"}
RUN_STARTED_AT = datetime(2030, 1, 1, tzinfo=UTC)


def _split_at_an_hour(events_path, folder):
    """The events before 14:00 of the day before the last one, as a file in `folder`, and
    those of 14:00 to 15:00 (the next hour of the same day) as a table; the later events
    are left out."""
    events = pq.read_table(events_path)
    last = pc.max(events["event_timestamp"]).as_py()
    hour = last.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=10)
    times = events["event_timestamp"]
    folder.mkdir()
    pq.write_table(events.filter(pc.less(times, hour)), folder / "until_the_hour.parquet")
    in_the_hour = pc.and_(pc.greater_equal(times, hour), pc.less(times, hour + timedelta(hours=1)))
    return events.filter(in_the_hour)


def _differences(first_db, second_db) -> dict[str, tuple[int, int]]:
    """Per table of either database: rows only in the first and only in the second,
    compared exactly, as multisets, over every column but the RUN_COLUMNS. Views are left
    out: they store nothing, and a float sum in one may differ in its last bit with the
    order DuckDB's threads added it in."""
    con = duckdb.connect()
    con.execute(f"attach '{first_db}' as first_db (read_only)")
    con.execute(f"attach '{second_db}' as second_db (read_only)")
    tables = con.execute(
        "select table_name, list(column_name order by column_index) from duckdb_columns() "
        "join duckdb_tables() using (database_name, schema_name, table_name) "
        "where database_name = 'first_db' and schema_name = 'main' group by table_name"
    ).fetchall()
    second_tables = con.execute(
        "select table_name from duckdb_tables() where database_name = 'second_db' "
        "and schema_name = 'main'"
    ).fetchall()
    assert {name for name, _ in tables} == {name for (name,) in second_tables}
    differences = {}
    for table, columns in tables:
        kept = ", ".join(f'"{column}"' for column in columns if column not in RUN_COLUMNS)
        if not kept:
            continue

        def only_in(one, other, table=table, kept=kept):
            return con.execute(
                f"select count(*) from (select {kept} from {one}.main.{table} "
                f"except all select {kept} from {other}.main.{table})"
            ).fetchone()[0]

        differences[table] = (only_in("first_db", "second_db"), only_in("second_db", "first_db"))
    return differences


@pytest.fixture(scope="module")
def hourly_and_full(tmp_path_factory, small_events):
    root = tmp_path_factory.mktemp("hourly_runs")
    folder = root / "events"
    the_hour = _split_at_an_hour(small_events, folder)
    hourly_db = root / "hourly" / "funnel.duckdb"
    earlier = pipeline.build(folder, hourly_db, quiet=True, run_started_at=RUN_STARTED_AT)
    pq.write_table(the_hour, folder / "the_hour.parquet")
    hourly = pipeline.build(folder, hourly_db, quiet=True, run_started_at=RUN_STARTED_AT)
    full_db = root / "full" / "funnel.duckdb"
    full = pipeline.build(
        folder, full_db, quiet=True, run_started_at=RUN_STARTED_AT, full_rebuild=True
    )
    return earlier, hourly, full


def test_the_next_hour_of_a_day_learns_no_model_again(hourly_and_full):
    earlier, hourly, full = hourly_and_full
    assert earlier.forecasts.learnt_totals > 0 and earlier.forecasts.cached_totals == 0
    assert hourly.forecasts.learnt_totals == 0 and hourly.forecasts.prophet_fits == 0
    assert hourly.forecasts.cached_totals == earlier.forecasts.learnt_totals
    # A full rebuild takes no model from the cache, though the hourly run left them there.
    assert full.forecasts.cached_totals == 0
    assert full.forecasts.learnt_totals == earlier.forecasts.learnt_totals
    assert full.forecasts.prophet_fits == earlier.forecasts.prophet_fits


def test_an_hourly_run_gives_the_tables_of_a_full_rebuild(hourly_and_full):
    _, hourly, full = hourly_and_full
    differences = _differences(hourly.db, full.db)
    assert "fct_forecasts" in differences and "fct_anomaly_groups" in differences
    assert {table: counts for table, counts in differences.items() if counts != (0, 0)} == {}
    with duckdb.connect(str(hourly.db), read_only=True) as con:
        rows, last_hour = con.execute(
            "select count(*), max(hour_at) from fct_forecasts where dimension = 'total'"
        ).fetchone()
    assert rows > 0
    with duckdb.connect(str(full.db), read_only=True) as con:
        assert con.execute("select max(hour_at) from fct_forecasts").fetchone()[0] == last_hour
