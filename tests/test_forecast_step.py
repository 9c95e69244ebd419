"""The forecasting step on a built database: every series, the cache, a shop that stops."""

from __future__ import annotations

import dataclasses
import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from funnel_anomalies import dask_fits, forecast_step, pipeline
from funnel_anomalies.errors import PipelineError
from funnel_anomalies.forecast_cache import ForecastCache
from funnel_anomalies.forecasting import ForecastSettings


def test_every_series_gets_a_forecast_and_values_add_up(query):
    counts = query(
        """
        select
            (select count(*) from fct_hourly_metrics) as hourly_rows,
            (select count(*) from fct_forecasts) as forecast_rows,
            (select count(*) from fct_forecasts where dimension = 'total'
                and fit_status not in ('fitted', 'short_history')) as unfitted_totals,
        """
    ).iloc[0]
    assert counts["hourly_rows"] == counts["forecast_rows"]
    assert counts["unfitted_totals"] == 0
    gaps = query(
        """
        with by_dimension as (
            select shop, hour_at, metric, dimension, sum(expected) as summed
            from fct_forecasts where dimension != 'total' group by all
        )
        select max(abs(summed - total.expected)) as gap
        from by_dimension
        join fct_forecasts as total using (shop, hour_at, metric)
        where total.dimension = 'total'
        """
    )
    assert gaps["gap"].iloc[0] < 1e-6


def test_nothing_is_refitted_when_nothing_changed(tmp_path, built_db):
    db = tmp_path / "copy.duckdb"
    shutil.copy(built_db, db)
    cache = ForecastCache(tmp_path / "cache")
    settings = ForecastSettings()
    with duckdb.connect(str(db)) as con:
        first_table, _, first = forecast_step.forecast_all(con, settings, cache, workers=1)
        second_table, _, second = forecast_step.forecast_all(con, settings, cache, workers=1)
        wider = dataclasses.replace(settings, interval_width=0.995)
        _, _, third = forecast_step.forecast_all(con, wider, cache, workers=1)
    assert first.prophet_fits > 0 and first.cached_totals == 0
    assert second.prophet_fits == 0 and second.cached_totals == first.series_totals
    assert first_table.equals(second_table)
    # Other settings: every total is fitted again.
    assert third.cached_totals == 0 and third.prophet_fits >= first.series_totals


def test_a_shop_that_stops_sending_early_is_forecast_over_its_own_span(tmp_path, small_events):
    events = pq.read_table(small_events)
    stops_at = (
        pc.min(events["event_timestamp"]).as_py().replace(hour=0)
        + (pc.max(events["event_timestamp"]).as_py() - pc.min(events["event_timestamp"]).as_py())
        / 2
    )
    quitter = events["shop"][0].as_py()
    keep = pc.or_(
        pc.not_equal(events["shop"], quitter), pc.less(events["event_timestamp"], stops_at)
    )
    path = tmp_path / "quitter.parquet"
    pq.write_table(events.filter(keep), path)
    db = pipeline.build(path, tmp_path / "funnel.duckdb", quiet=True).db
    with duckdb.connect(str(db), read_only=True) as con:
        spans = con.execute(
            "select shop, max(hour_at) as last_hour_at, count(*) as rows "
            "from fct_forecasts group by shop order by shop"
        ).df()
    spans = spans.set_index("shop")
    assert spans.loc[quitter, "last_hour_at"] < stops_at.replace(tzinfo=None)
    others = spans.drop(index=quitter)
    assert (others["last_hour_at"] > spans.loc[quitter, "last_hour_at"]).all()


def test_fits_on_a_local_dask_cluster_give_the_same_forecasts(tmp_path, small_events, built_db):
    db = tmp_path / "dask" / "funnel.duckdb"
    report = pipeline.build(small_events, db, quiet=True, workers=2, scheduler=dask_fits.LOCAL)
    assert report.forecasts.prophet_fits > 0  # fitted there, not read from a cache
    queries = {
        "fct_forecasts": "select * exclude (fitted_at) from fct_forecasts order by all",
        "fct_leaf_forecasts": "select * from fct_leaf_forecasts order by all",
    }
    for table, query in queries.items():
        with duckdb.connect(str(db), read_only=True) as on_dask:
            fitted_on_dask = on_dask.sql(query).df()
        with duckdb.connect(str(built_db), read_only=True) as in_process:
            fitted_here = in_process.sql(query).df()
        assert len(fitted_here) > 0
        assert fitted_on_dask.equals(fitted_here), table


def test_an_unreachable_scheduler_is_named(tmp_path, small_events, monkeypatch):
    monkeypatch.setattr(dask_fits, "CONNECT_TIMEOUT_SECONDS", 1)
    address = "tcp://127.0.0.1:9"
    with pytest.raises(PipelineError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        pipeline.build(small_events, tmp_path / "funnel.duckdb", quiet=True, scheduler=address)
    assert not (tmp_path / "funnel.duckdb").exists()  # nothing published


def test_forecasts_written_a_shop_at_a_time_equal_those_of_one_batch(
    tmp_path, built_db, monkeypatch
):
    db = tmp_path / "copy.duckdb"
    shutil.copy(built_db, db)
    monkeypatch.setattr(forecast_step, "SHOPS_PER_BATCH", 1)
    # The build's own cache: the same fits, so only the batching differs.
    cache = pipeline.default_cache_dir(built_db)
    forecast_step.run_forecast_step(db, ForecastSettings(), cache, workers=1)
    with (
        duckdb.connect(str(built_db), read_only=True) as whole,
        duckdb.connect(str(db), read_only=True) as batched,
    ):
        shops = batched.execute("select count(distinct shop) from fct_forecasts").fetchone()[0]
        assert shops > 1
        for table in ("fct_forecasts", "fct_leaf_forecasts"):
            query = f"select * from {table} order by all"
            assert whole.execute(query).df().equals(batched.execute(query).df()), table
