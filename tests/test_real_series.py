"""Real series as raw events, and the bench's baselines and window counts, on a small
hand-made series in the shared folder's format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from funnel_anomalies import events_input, real_series


@pytest.fixture()
def folder(tmp_path):
    buckets = pd.date_range("2026-03-02 00:02:30", periods=36, freq="5min")
    counts = np.arange(36) % 7
    pd.DataFrame({"timestamp": buckets, "value": counts}).to_csv(
        tmp_path / "Twitter_volume_TEST.csv", index=False
    )
    windows = {"Twitter_volume_TEST.csv": [["2026-03-02 01:10:00", "2026-03-02 01:40:00"]]}
    (tmp_path / real_series.WINDOWS_FILE).write_text(json.dumps(windows))
    return tmp_path


def test_every_count_becomes_one_landing_of_its_own_session_inside_its_bucket(folder):
    (series,) = real_series.available(folder)
    path = real_series.write_events([series], folder / "events.parquet")
    events_input.validate(path)  # the contract's columns and types, as any input
    events = pd.read_parquet(path)
    source = pd.read_csv(series.path, parse_dates=["timestamp"])

    assert series.name == "tweets-TEST"
    assert len(events) == source["value"].sum()
    assert events["session_id"].is_unique
    assert set(events["event_name"]) == {"page_viewed"}
    at = events["event_timestamp"].dt.tz_convert(None)
    bucket = source["timestamp"].searchsorted(at, side="right") - 1
    offset = at - source["timestamp"].to_numpy()[bucket]
    assert (offset >= pd.Timedelta(0)).all()
    assert (offset < pd.Timedelta(seconds=real_series.BUCKET_SECONDS)).all()
    per_bucket = np.bincount(bucket, minlength=len(source))
    assert per_bucket.tolist() == source["value"].tolist()


def test_a_window_covers_each_hour_it_touches_and_is_caught_by_one_flag(folder):
    (series,) = real_series.available(folder)
    hours = pd.date_range("2026-03-02", periods=4, freq="h")

    assert real_series.in_windows(hours, series).tolist() == [False, True, False, False]
    assert real_series.windows_caught(hours, np.array([True, False, True, True]), series) == 0
    assert real_series.windows_caught(hours, np.array([False, True, False, False]), series) == 1


def test_an_absent_folder_has_no_series(tmp_path):
    assert real_series.available(tmp_path / "missing") == []


def test_the_baselines_look_back_whole_weeks():
    counts = np.arange(6 * 168, dtype=float)

    last_week = real_series.same_hour_last_week(counts)
    median = real_series.median_of_four_weeks(counts)

    assert np.isnan(last_week[:168]).all() and np.isnan(median[:168]).all()
    assert last_week[200] == counts[200 - 168]
    # Two weeks before it: the median of the two; from week five on, of the last four.
    assert median[2 * 168 + 5] == np.median([counts[168 + 5], counts[5]])
    hour = 5 * 168 + 9
    assert median[hour] == np.median(counts[hour - 168 * np.arange(1, 5)])
