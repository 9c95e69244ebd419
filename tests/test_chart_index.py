"""The index of the shops' charts: impacts, the latest incidents and their order."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from funnel_anomalies import chart, chart_index, chart_site

HOURS = pd.date_range("2026-03-01", periods=30 * 24, freq="h")


def _tables() -> dict[str, pd.DataFrame]:
    """Three shops over 30 days. quiet-shop has no incident; big-shop has a rise of 800
    events and, earlier, a drop of 100; small-shop a two-metric drop of 500, and one of 900
    older than the 14 days an index lists."""
    series = pd.DataFrame(
        [
            {"shop": shop, "metric": "landing_page_views", "hour_at": hour}
            for shop in ("big-shop", "small-shop", "quiet-shop")
            for hour in HOURS
        ]
    )
    late, early, old = HOURS[-30], HOURS[-100], HOURS[-20 * 24]

    def hour(group_id, shop, metric, at, direction, actual, expected):
        return dict(
            group_id=group_id,
            shop=shop,
            metric=metric,
            hour_at=at,
            direction=direction,
            actual=actual,
            expected=expected,
        )

    anomalies = pd.DataFrame(
        [
            hour(4, "big-shop", "landing_page_views", late, "positive", 1300, 500.0),
            hour(2, "big-shop", "landing_page_views", early, "negative", 400, 500.0),
            hour(3, "small-shop", "landing_page_views", late, "negative", 100, 400.0),
            hour(
                3, "small-shop", "product_views", late + pd.Timedelta(hours=1), "negative", 0, 200.0
            ),
            hour(1, "small-shop", "landing_page_views", old, "negative", 100, 1000.0),
            # Another direction in the same hours is a group of its own.
            hour(5, "small-shop", "add_to_cart", late, "positive", 90, 10.0),
        ]
    )

    def group(group_id, shop, direction, start, end, metrics):
        return dict(
            group_id=group_id,
            shop=shop,
            direction=direction,
            start_at=start,
            end_at=end,
            metrics=metrics,
            scenario="D",
            root_cause=f"{shop} group {group_id}",
        )

    groups = pd.DataFrame(
        [
            group(1, "small-shop", "negative", old, old, ["landing_page_views"]),
            group(2, "big-shop", "negative", early, early, ["landing_page_views"]),
            group(
                3,
                "small-shop",
                "negative",
                late,
                late + pd.Timedelta(hours=1),
                ["landing_page_views", "product_views"],
            ),
            group(4, "big-shop", "positive", late, late, ["landing_page_views"]),
            group(5, "small-shop", "positive", late, late, ["add_to_cart"]),
        ]
    )
    return {"series": series, "anomalies": anomalies, "groups": groups}


def _frames() -> dict[str, pd.DataFrame]:
    """The chart's frames as chart.read_chart_data reads them from tables of _tables()."""
    tables = _tables()
    with duckdb.connect() as con:
        for name, frame in tables.items():
            con.register(f"{name}_frame", frame)
        con.execute(
            "create table fct_anomalies as select *, 'total' as dimension, 1 as actual, "
            "1.0 as expected, 0.0 as expected_lower, 2.0 as expected_upper from series_frame"
        )
        con.execute(
            "create table fct_anomaly_group_members as "
            "select group_id, shop, direction, hour_at, metric from anomalies_frame"
        )
        con.execute(
            "create table fct_anomaly_hours as select * exclude (group_id), 0.0 as pct_diff, "
            "null::varchar as primary_element, null::varchar as root_cause_elements, "
            "null::struct(dimension varchar, value varchar, contribution double)[] "
            "as top_contributors from anomalies_frame"
        )
        con.execute("create table fct_anomaly_groups as select * from groups_frame")
        return chart.read_chart_data(con)


def test_a_groups_impact_is_its_events_gained_or_lost_over_its_own_hours():
    groups = _frames()["groups"]
    impacts = dict(zip(groups["group_id"], groups["impact"], strict=True))
    assert impacts == {1: -900.0, 2: -100.0, 3: -500.0, 4: 800.0, 5: 80.0}


def test_the_index_orders_shops_and_their_latest_incidents_by_impact_then_time():
    frames = _frames()
    pages = {shop: f"pages/{shop}.html" for shop in ("big-shop", "small-shop", "quiet-shop")}
    page = chart_index.index_html(frames, pages)
    assert re.findall(r'<a href="pages/([a-z-]+)\.html">', page) == [
        "big-shop",
        "small-shop",
        "quiet-shop",
    ]
    listed = re.findall(r"(big-shop|small-shop) group (\d)", page)
    # The 900-event drop is older than 14 days: not listed.
    assert listed == [
        ("big-shop", "4"),
        ("big-shop", "2"),
        ("small-shop", "3"),
        ("small-shop", "5"),
    ]
    assert "+800 events" in page and "-500 events" in page and "-900" not in page
    assert page.count("no incidents") == 1


def test_page_names_are_safe_and_distinct_even_where_case_is_ignored():
    names = chart_site.page_names(
        ["Shop A", "shop a", "shop/a", "../../etc", "", "plotly.min", "<b>x</b>"]
    )
    assert names == {
        "": "shop.html",
        "../../etc": "etc.html",
        "<b>x</b>": "b-x-b.html",
        "Shop A": "Shop-A.html",
        "plotly.min": "plotly.min.html",
        "shop a": "shop-a-2.html",
        "shop/a": "shop-a-3.html",
    }
