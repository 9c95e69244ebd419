"""The hourly table against an independent count of the raw events in pandas."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq

METRIC_OF_NAME = {
    "product_viewed": "product_views",
    "product_view": "product_views",
    "product_added_to_cart": "add_to_cart",
    "add_to_cart": "add_to_cart",
    "checkout_started": "checkout_started",
    "checkout_completed": "checkout_completed",
    "purchase": "checkout_completed",
}


def expected_totals(events_path) -> pd.DataFrame:
    """Hourly totals per metric computed the obvious way, without dbt."""
    raw = pq.read_table(events_path).to_pandas().drop_duplicates()
    raw["hour_at"] = raw["event_timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("h")
    raw["metric"] = raw["event_name"].map(METRIC_OF_NAME)
    counted = raw.dropna(subset=["metric"])
    page_views = raw[raw["event_name"].isin(["page_viewed", "page_view", "landing_page_view"])]
    # The sample data's landing view is each session's earliest page view.
    landings = page_views.sort_values("event_timestamp").groupby(["shop", "session_id"]).head(1)
    landings = landings.assign(metric="landing_page_views")
    both = pd.concat([counted, landings])
    return both.groupby(["shop", "hour_at", "metric"]).size().rename("expected").reset_index()


def test_totals_match_an_independent_count(small_events, query):
    expected = expected_totals(small_events)
    actual = query(
        "select shop, hour_at, metric, events from fct_hourly_metrics where dimension = 'total'"
    )
    merged = actual.merge(expected, on=["shop", "hour_at", "metric"], how="left")
    merged["expected"] = merged["expected"].fillna(0).astype(int)
    assert len(merged) == len(actual)
    mismatched = merged[merged["events"] != merged["expected"]]
    assert mismatched.empty, mismatched.head()
    # Every non-zero expected count is present in the table.
    assert expected["expected"].sum() == actual["events"].sum()


def test_every_series_covers_every_hour_of_its_shop(query):
    spans = query(
        """
        select shop, metric, dimension, dimension_value, count(*) as hours,
            datediff('hour', min(hour_at), max(hour_at)) + 1 as span
        from fct_hourly_metrics group by all
        """
    )
    assert (spans["hours"] == spans["span"]).all()
    assert spans.groupby("shop")["hours"].nunique().eq(1).all()


def test_marketing_dimensions_belong_to_landing_page_views_only(query):
    metrics = query(
        "select distinct metric from fct_hourly_metrics "
        "where dimension in ('utm_source', 'utm_medium')"
    )
    assert metrics["metric"].tolist() == ["landing_page_views"]


def test_dimension_values_are_canonical(query):
    values = query(
        "select dimension, list(distinct dimension_value order by dimension_value) as v "
        "from fct_hourly_metrics group by dimension"
    ).set_index("dimension")["v"]
    assert set(values["device"]) == {"iOS", "Android", "Windows", "macOS", "Other"}
    assert "fbig" in values["utm_source"] and "facebook" not in values["utm_source"]
    assert "paid social" in values["utm_medium"]
    assert "affiliates" in values["utm_medium"] and "affiliate" not in values["utm_medium"]
    assert "(none)" in values["utm_source"]
    assert "unknown" in values["geography"]
    assert all(value == value.strip() for value in values["geography"])


def test_accounting_explains_every_raw_row(small_events, query):
    raw_rows = pq.read_metadata(small_events).num_rows
    accounting = query("select outcome, sum(events) as events from fct_event_accounting group by 1")
    by_outcome = accounting.set_index("outcome")["events"]
    assert by_outcome.sum() == raw_rows
    assert by_outcome["duplicate_dropped"] > 0
    assert by_outcome["unmapped_event_name"] > 0
    unmapped = query("select distinct event_name from fct_unmapped_event_names")
    assert {"collection_viewed", "scroll"} <= set(unmapped["event_name"])


def test_run_summary_reports_the_accounting(tmp_path, small_events, built_db):
    from funnel_anomalies import events_input, exports

    files = exports.render(built_db, events_input.resolve(small_events))
    summary = json.loads(files[exports.RUN_SUMMARY])
    raw_rows = pq.read_metadata(small_events).num_rows
    assert sum(shop["raw_events"] for shop in summary["shops"].values()) == raw_rows
    for shop in summary["shops"].values():
        assert set(shop["counted"]) == {
            "landing_page_views",
            "product_views",
            "add_to_cart",
            "checkout_started",
            "checkout_completed",
        }
        assert shop["hours"] >= 24
