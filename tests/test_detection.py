"""End to end on generated data with known incidents: anomalies, root causes, scenarios."""

from __future__ import annotations

import duckdb

from funnel_anomalies import evaluation


def test_incidents_are_found_explained_and_classified(incident_run):
    db, labels, _ = incident_run
    with duckdb.connect(str(db), read_only=True) as con:
        scores = evaluation.detection_scores(con, labels)
    assert scores["labelled_pairs"] >= 8
    assert scores["incidents_scored"] >= 5
    assert scores["f1"] >= 0.95
    # One pair of ten is named finer than its label (the crawler: see the next test).
    assert scores["root_cause_accuracy"] >= 0.9
    assert scores["scenario_accuracy"] >= 0.9
    assert scores["false_alarms_per_week_per_shop"] <= 1.0


def test_a_crawler_is_named_where_its_sessions_were(incident_run):
    # Its few sessions on an "Other" device land in some geographies and channels only:
    # the root cause names those leaves of device=Other, not device=Other itself.
    db, labels, _ = incident_run
    crawler = next(i for i in labels["incidents"] if i["incident_id"] == "D-crawler-product-views")
    with duckdb.connect(str(db), read_only=True) as con:
        primary = con.execute(
            "select primary_element from fct_anomaly_hours "
            "where shop = ? and metric = 'product_views' and hour_at between ? and ? "
            "order by abs(score) desc limit 1",
            [crawler["shop"], crawler["start_at"], crawler["end_at"]],
        ).fetchone()[0]
    assert "device=Other" in primary.split("&")


def test_each_scenario_kind_is_recognised(incident_run):
    db, labels, _ = incident_run
    with duckdb.connect(str(db), read_only=True) as con:
        groups = con.execute(
            "select shop, start_at, end_at, scenario, root_cause from fct_anomaly_groups"
        ).df()
    for incident in labels["incidents"]:
        if incident["scenario"] is None:  # nothing it moves is clearly detectable
            continue
        overlapping = groups[
            (groups["shop"] == incident["shop"])
            & (groups["start_at"] <= incident["end_at"])
            & (groups["end_at"] >= incident["start_at"])
        ]
        assert incident["scenario"] in set(overlapping["scenario"]), incident["incident_id"]
    ios_outage = groups[groups["root_cause"].str.contains("all driven by iOS")]
    assert set(ios_outage["scenario"]) == {"A"}


def test_contributions_of_an_anomalous_hour_add_up(incident_run):
    db, _, _ = incident_run
    with duckdb.connect(str(db), read_only=True) as con:
        worst = con.execute(
            """
            with totals as (
                select shop, hour_at, metric from fct_anomalies
                where dimension = 'total' and is_anomaly
            )
            select max(abs(summed - 1)) from (
                select dimension, sum(contribution) as summed
                from fct_anomalies join totals using (shop, hour_at, metric)
                where dimension != 'total'
                group by shop, hour_at, metric, dimension
            )
            """
        ).fetchone()[0]
    assert worst < 0.01
