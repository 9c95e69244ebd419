"""The bench's anomaly rule (for forecasts made outside the pipeline) against the same
hand-made hours as fct_anomalies' unit tests runs_of_hours_beyond_the_band_add_up and
runs_count_for_less_where_errors_persist."""

import numpy as np

from funnel_anomalies.bench_forecasts import anomaly_rule

COUNTS = np.array([100, 70, 70, 100, 70, 130, 70, 100, 75, 75, 75, 100], dtype=float)
FLAGGED = np.array([0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0], dtype=bool)


def _rule(counts, series_starts=None, autocorrelation=0.0):
    hours = len(counts)
    return anomaly_rule(
        counts,
        np.full(hours, 100.0),
        np.full(hours, 76.0),
        np.full(hours, 126.0),
        np.full(hours, 0.5),
        4.0,
        series_starts=series_starts,
        autocorrelation=autocorrelation,
    )


def test_runs_reach_the_threshold_that_no_hour_of_them_reaches_alone():
    np.testing.assert_array_equal(_rule(COUNTS), FLAGGED)


def test_no_run_crosses_the_start_of_another_series():
    starts = np.zeros(len(COUNTS), dtype=bool)
    starts[2] = True  # the two hours of 70 belong to two series
    flagged = _rule(COUNTS, starts)
    assert not flagged[1] and not flagged[2]
    assert flagged[8:11].all()


def test_runs_count_for_less_where_errors_persist():
    two_hours = np.array([100, 70, 70, 100, 100], dtype=float)
    assert _rule(two_hours)[1:3].all()
    assert not _rule(two_hours, autocorrelation=0.5).any()
