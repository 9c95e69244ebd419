"""The three reports: shapes a spreadsheet can open, the wide report's long twin, and the
JSON against its schema."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import jsonschema
import pandas as pd
import pyarrow.parquet as pq

from funnel_anomalies import exports, reports

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "anomaly_scenarios.schema.json"


def test_every_report_is_published(incident_run):
    _, _, out = incident_run
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(
        [
            exports.ANOMALY_REPORT,
            exports.ANOMALY_REPORT_LONG,
            exports.GROUP_REPORT,
            exports.SCENARIOS,
            exports.CHART,
            exports.CHART_FOLDER,
            exports.RUN_SUMMARY,
        ]
    )


def test_anomaly_report_has_a_row_per_shop_hour_and_three_columns_per_series(incident_run):
    # The founding document's breakdowns: the session attribution stays in the tables.
    db, _, out = incident_run
    report = pd.read_csv(out / exports.ANOMALY_REPORT)
    with duckdb.connect(str(db), read_only=True) as con:
        shop_hours, series = con.execute(
            "select count(distinct (shop, hour_at)), "
            "count(distinct (metric, dimension, dimension_value)) filter ("
            "where not starts_with(dimension, 'session_')) from fct_anomalies"
        ).fetchone()
    assert len(report) == shop_hours
    assert list(report.columns[:5]) == [
        "shop",
        "hour_at",
        "landing_page_views__total__all__anomaly",
        "landing_page_views__total__all__pct_diff",
        "landing_page_views__total__all__contribution",
    ]
    flags = report.filter(like="__anomaly")
    assert flags.shape[1] == series
    assert set(pd.unique(flags.to_numpy().ravel())) - {0, 1} <= {float("nan")}
    assert flags["landing_page_views__total__all__anomaly"].sum() > 0


def test_the_wide_report_written_a_shop_at_a_time_is_the_published_one(incident_run, tmp_path):
    db, _, out = incident_run
    with duckdb.connect(str(db), read_only=True) as con:
        batches = list(reports.anomaly_report_batches(con, shops_per_batch=1))
    assert len(batches) == 3
    # A shop's batch has the columns of every shop's series, empty where it has none.
    assert all(list(batch.columns) == list(batches[0].columns) for batch in batches)
    path = tmp_path / "shop_at_a_time.csv"
    path.write_text(
        "".join(exports.to_csv(batch, header=i == 0) for i, batch in enumerate(batches))
    )
    assert path.read_bytes() == (out / exports.ANOMALY_REPORT).read_bytes()


def test_the_long_report_holds_the_wide_reports_cells_a_row_each(incident_run):
    _, _, out = incident_run
    wide = pd.read_csv(out / exports.ANOMALY_REPORT, parse_dates=["hour_at"])
    long = pq.read_table(out / exports.ANOMALY_REPORT_LONG).to_pandas()
    assert list(long.columns) == [
        "shop",
        "hour_at",
        "metric",
        "dimension",
        "dimension_value",
        "anomaly",
        "pct_diff",
        "contribution",
    ]
    assert not long.duplicated(["shop", "hour_at", "metric", "dimension", "dimension_value"]).any()
    series = long["metric"] + "__" + long["dimension"] + "__" + long["dimension_value"]
    cells = long.assign(series=series).melt(
        id_vars=["shop", "hour_at", "series"],
        value_vars=["anomaly", "pct_diff", "contribution"],
        var_name="field",
    )
    from_long = cells.assign(column=cells["series"] + "__" + cells["field"]).pivot(
        index=["shop", "hour_at"], columns="column", values="value"
    )
    from_wide = wide.set_index(["shop", "hour_at"])
    # Every cell of the wide report is a row of the long one, and nothing else is.
    assert sorted(from_long.columns) == sorted(from_wide.columns)
    pd.testing.assert_frame_equal(
        from_long[from_wide.columns].sort_index().astype(float),
        from_wide.sort_index().astype(float),
        check_names=False,
        check_freq=False,
    )
    assert long["shop"].tolist() == sorted(long["shop"])  # ordered like the wide report


def test_group_report_reads_as_one_line_per_group(incident_run):
    _, _, out = incident_run
    groups = pd.read_csv(out / exports.GROUP_REPORT)
    assert list(groups.columns) == [
        "group_id",
        "shop",
        "start_at",
        "end_at",
        "n_hours",
        "direction",
        "metrics",
        "dimensions",
        "primary_contributors",
        "root_cause",
        "scenario",
    ]
    assert groups["group_id"].is_unique
    assert set(groups["scenario"]) <= {"A", "B", "C", "D"}
    assert groups["root_cause"].str.len().min() > 20


def test_scenarios_json_matches_its_schema(incident_run):
    _, _, out = incident_run
    document = json.loads((out / exports.SCENARIOS).read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    groups = pd.read_csv(out / exports.GROUP_REPORT)
    filed = sum(entry["n_groups"] for entry in document["scenarios"].values())
    assert filed == len(groups)


def test_the_schema_rejects_a_malformed_document(incident_run):
    _, _, out = incident_run
    document = json.loads((out / exports.SCENARIOS).read_text())
    del document["scenarios"]["C"]
    try:
        jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    except jsonschema.ValidationError:
        return
    raise AssertionError("a document without scenario C passed the schema")


def test_the_published_schema_lists_the_funnels_metrics_in_order():
    # The schema is a file users validate against; it must follow the one list.
    schema = json.loads(SCHEMA.read_text())
    assert schema["$defs"]["metric"]["enum"] == list(reports.METRIC_ORDER)
