"""The notebook API runs the same models as the CLI, from pandas or polars."""

from __future__ import annotations

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from funnel_anomalies import (
    analyze_anomaly_scenarios,
    generate_anomaly_group_report,
    generate_anomaly_report,
    reports,
)


@pytest.fixture(scope="module")
def api_reports(tmp_path_factory, small_events):
    events = pq.read_table(small_events).to_pandas()
    report = generate_anomaly_report(events, workdir=tmp_path_factory.mktemp("api"))
    groups = generate_anomaly_group_report(report)
    return report, groups, analyze_anomaly_scenarios(groups, report)


def test_pandas_in_reports_out_equal_to_the_cli_build(api_reports, built_db):
    report, groups, scenarios = api_reports
    with duckdb.connect(str(built_db), read_only=True) as con:
        expected_report = reports.anomaly_report(con)
        expected_groups = reports.group_report(con)
    pd.testing.assert_frame_equal(report, expected_report)
    pd.testing.assert_frame_equal(groups, expected_groups)
    assert set(scenarios["scenarios"]) == {"A", "B", "C", "D"}
    assert sum(s["n_groups"] for s in scenarios["scenarios"].values()) == len(groups)


def test_polars_events_are_accepted(tmp_path, small_events):
    events = pl.read_parquet(small_events)
    report = generate_anomaly_report(events, workdir=tmp_path)
    assert {"shop", "hour_at", "landing_page_views__total__all__anomaly"} <= set(report.columns)


def test_a_report_from_elsewhere_is_refused():
    with pytest.raises(ValueError, match="generate it again"):
        generate_anomaly_group_report(pd.DataFrame({"shop": ["s"]}))


def test_other_inputs_are_refused_clearly(tmp_path):
    with pytest.raises(TypeError, match="pandas or polars DataFrame"):
        generate_anomaly_report([{"shop": "s"}], workdir=tmp_path)
