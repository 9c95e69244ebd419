"""The forecasting step on a built database: every series, the cache, a shop that stops."""

from __future__ import annotations

import dataclasses
import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from funnel_anomalies import forecast_step, pipeline
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
