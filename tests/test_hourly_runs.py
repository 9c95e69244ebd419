"""Hourly runs: a file of one more hour added to a folder learns no model again (the day's
models come from the cache), changes no earlier hour's forecast, and gives the same tables
as a full rebuild of the folder."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from funnel_anomalies import pipeline, releases
from funnel_anomalies.bench_hourly_run import split_at_an_hour, table_differences

RUN_STARTED_AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def hourly_and_full(tmp_path_factory, small_events):
    root = tmp_path_factory.mktemp("hourly_runs")
    folder = root / "events"
    the_hour = split_at_an_hour(small_events, folder)
    assert the_hour.num_rows > 0
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
    differences = table_differences(hourly.db, full.db)
    assert {"fct_hourly_metrics", "series_forecast_hours", "fct_anomaly_groups"} <= set(differences)
    assert {table: counts for table, counts in differences.items() if counts != (0, 0)} == {}
    assert set(table_differences(full.db, hourly.db)) == set(differences)
    queries = [
        "select count(*) from fct_forecasts where hour_at > training_end_at",
        "select max(hour_at) from fct_hourly_metrics",
    ]
    with duckdb.connect(str(hourly.db), read_only=True) as con:
        forecast_ahead, last_hour = (con.execute(query).fetchone()[0] for query in queries)
    assert forecast_ahead > 0  # the hours after the models' day are in the comparison
    assert last_hour.hour == 14  # the added hour was built


def test_a_difference_in_one_row_is_found(hourly_and_full, tmp_path):
    _, hourly, _ = hourly_and_full
    changed = tmp_path / "changed.duckdb"
    with duckdb.connect(str(changed)) as con:
        con.execute("attach ? as hourly (read_only)", [str(hourly.db)])
        con.execute("copy from database hourly to changed")
        con.execute(
            "update series_forecast_hours set expected = expected + 1e-9 "
            "where hour_at = (select max(hour_at) from series_forecast_hours) "
            "and dimension = 'total' and metric = 'landing_page_views' "
            "and shop = (select min(shop) from series_forecast_hours)"
        )
    differences = table_differences(hourly.db, changed)
    assert differences["series_forecast_hours"] == (1, 1)
    assert sum(map(sum, differences.values())) == 2


def test_an_hourly_run_changes_no_earlier_hours_forecast(hourly_and_full):
    earlier, hourly, _ = hourly_and_full
    con = duckdb.connect()
    con.execute("attach ? as earlier (read_only)", [str(earlier.release / releases.DATABASE_NAME)])
    con.execute("attach ? as hourly (read_only)", [str(hourly.db)])
    # A run of 2-3 hours is scored on the hour that ends it: the new hour may join a run
    # with the two before it, so those two may change their verdict, and nothing earlier.
    tables = {
        "fct_forecasts": ("* exclude (fitted_at)", 0),
        "fct_leaf_forecasts": ("*", 0),
        "fct_anomalies": ("*", 2),
    }
    for table, (columns, hours_a_run_reaches_back) in tables.items():
        last_hour = con.execute(f"select max(hour_at) from earlier.{table}").fetchone()[0]
        earlier_rows, changed = con.execute(
            f"""
            with earlier_hours as (
                select {columns} from earlier.{table}
                where hour_at <= ?::timestamp - interval ({hours_a_run_reaches_back}) hour
            )
            select
                (select count(*) from earlier_hours),
                (select count(*) from (
                    select * from earlier_hours
                    except all
                    select {columns} from hourly.{table}
                )),
            """,
            [last_hour],
        ).fetchone()
        assert earlier_rows > 0, table
        assert changed == 0, table


def test_a_late_event_in_a_learnt_hour_relearns_only_the_models_it_touches(
    hourly_and_full, tmp_path
):
    _, hourly, _ = hourly_and_full
    root = hourly.db.parent.parent
    folder, db = tmp_path / "events", tmp_path / "late" / "funnel.duckdb"
    shutil.copytree(root / "events", folder)
    shutil.copytree(pipeline.default_cache_dir(hourly.db), pipeline.default_cache_dir(db))
    # Five of the hour's events of one shop, sent again three days earlier in sessions of
    # their own: they land in hours its models learnt from.
    events = pq.read_table(folder / "the_hour.parquet")
    shop = events["shop"][0].as_py()
    late = events.filter(pc.equal(events["shop"], shop)).slice(0, 5)
    late = late.set_column(
        late.schema.get_field_index("event_timestamp"),
        "event_timestamp",
        pc.subtract(late["event_timestamp"], pa.scalar(timedelta(days=3))),
    )
    late = late.set_column(
        late.schema.get_field_index("session_id"),
        "session_id",
        pa.array([f"late-{number}" for number in range(5)], late.schema.field("session_id").type),
    )
    pq.write_table(late, folder / "late.parquet")
    report = pipeline.build(folder, db, quiet=True, run_started_at=RUN_STARTED_AT)
    models = report.forecasts.learnt_totals + report.forecasts.cached_totals
    assert models == hourly.forecasts.cached_totals
    assert 0 < report.forecasts.learnt_totals < models
    with duckdb.connect(str(db), read_only=True) as con:
        relearnt_shops = con.execute(
            "select distinct shop from fct_forecasts where dimension = 'total' "
            "and fitted_at > (select min(fitted_at) from fct_forecasts)"
        ).fetchall()
    assert relearnt_shops == [(shop,)]
