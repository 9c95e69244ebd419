"""Real count series with labelled events, as raw events the pipeline reads: `make bench`
builds them like any shop's pixels and compares the expectations and the anomalies with
the plain way and two simple baselines.

The series (`../shared/real-series/`, see its README: tweet volumes about ten companies in
5-minute buckets, NAB's labelled windows, MIT licence) become one shop each: every tweet a
landing page view of a session of its own, at a random second of its 5-minute bucket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from funnel_anomalies.project import ROOT

REAL_SERIES_DIR = ROOT.parent / "shared" / "real-series"
WINDOWS_FILE = "labelled_windows.json"
BUCKET_SECONDS = 300
# NAB places no label in the first 15% of a series (its "probationary" period), so an
# alarm there says nothing about false alarms.
PROBATION_SHARE = 0.15


@dataclass(frozen=True)
class RealSeries:
    name: str  # the shop it becomes, e.g. tweets-AAPL
    path: Path
    windows: list[tuple[pd.Timestamp, pd.Timestamp]]


def available(folder: Path = REAL_SERIES_DIR) -> list[RealSeries]:
    """Every series of the folder that has labelled windows (none if the folder is absent)."""
    windows_path = folder / WINDOWS_FILE
    if not windows_path.exists():
        return []
    windows = json.loads(windows_path.read_text())
    return [
        RealSeries(
            "tweets-" + file_name.removeprefix("Twitter_volume_").removesuffix(".csv"),
            folder / file_name,
            [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in spans],
        )
        for file_name, spans in sorted(windows.items())
        if (folder / file_name).exists()
    ]


def as_events(series: RealSeries, seed: int = 0) -> pa.Table:
    """The series' counts as raw landing page views, one session each."""
    counts = pd.read_csv(series.path, parse_dates=["timestamp"])
    rng = np.random.default_rng(seed)
    bucket_us = counts["timestamp"].to_numpy().astype("datetime64[us]").astype(np.int64)
    values = counts["value"].to_numpy().astype(np.int64)
    times = np.repeat(bucket_us, values) + rng.integers(0, BUCKET_SECONDS * 1_000_000, values.sum())
    total = len(times)

    def constant(value: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(total, np.int32)), [value])

    return pa.table(
        {
            "event_type": constant("standard"),
            "event_name": constant("page_viewed"),
            "event_timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
            "shop": constant(series.name),
            "page_url": constant(f"https://{series.name}.example/"),
            "user_agent": constant("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
            "session_id": pa.array([f"{series.name}-{i}" for i in range(total)]),
            "device_type": constant("desktop"),
            "utm_source": pa.nulls(total, pa.string()),
            "utm_medium": pa.nulls(total, pa.string()),
            "geography": constant("US"),
        }
    )


def write_events(all_series: list[RealSeries], path: Path) -> Path:
    """All series as one Parquet file of raw events, written once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = None
        partial = path.with_name(path.name + ".partial")
        for index, series in enumerate(all_series):
            table = as_events(series, seed=index)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table.cast(writer.schema))
        writer.close()
        partial.replace(path)
    return path


def in_windows(hours: pd.DatetimeIndex, series: RealSeries) -> np.ndarray:
    """Hours inside any labelled window (a window covers each hour it touches)."""
    inside = np.zeros(len(hours), dtype=bool)
    for start, end in series.windows:
        inside |= (hours >= start.floor("h")) & (hours <= end.floor("h"))
    return inside


def windows_caught(hours: pd.DatetimeIndex, flagged: np.ndarray, series: RealSeries) -> int:
    return sum(
        bool(flagged[(hours >= start.floor("h")) & (hours <= end.floor("h"))].any())
        for start, end in series.windows
    )


def same_hour_last_week(counts: np.ndarray) -> np.ndarray:
    expected = np.full(len(counts), np.nan)
    expected[168:] = counts[:-168]
    return expected


def median_of_four_weeks(counts: np.ndarray) -> np.ndarray:
    """The median of the same hour of the week over the four weeks before (fewer at first)."""
    expected = np.full(len(counts), np.nan)
    for hour in range(168, len(counts)):
        earlier = hour - 168 * np.arange(1, 5)
        expected[hour] = np.median(counts[earlier[earlier >= 0]])
    return expected
