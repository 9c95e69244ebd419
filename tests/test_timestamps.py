"""Every timestamp representation a storefront export uses lands in the right UTC hour."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from events_factory import event_rows, write_events
from funnel_anomalies import pipeline

# 2026-01-01 10:59:30 UTC, written in every supported way; one file per representation.
INSTANT = datetime(2026, 1, 1, 10, 59, 30, tzinfo=UTC)
MICROS = int(INSTANT.timestamp() * 1_000_000)
REPRESENTATIONS = {
    "timestamp_s": pa.array([MICROS // 1_000_000], pa.timestamp("s")),
    "timestamp_ms": pa.array([MICROS // 1_000], pa.timestamp("ms")),
    "timestamp_us": pa.array([MICROS], pa.timestamp("us")),
    "timestamp_ns": pa.array([MICROS * 1_000], pa.timestamp("ns")),
    "timestamptz_ms_utc": pa.array([MICROS // 1_000], pa.timestamp("ms", tz="UTC")),
    "timestamptz_ns_berlin": pa.array([MICROS * 1_000], pa.timestamp("ns", tz="Europe/Berlin")),
    "text_with_z": pa.array(["2026-01-01T10:59:30Z"]),
    "text_with_offset": pa.array(["2026-01-01T05:59:30-05:00"]),
    "text_naive_is_utc": pa.array(["2026-01-01 10:59:30.250"]),
}


def test_every_representation_counts_in_the_same_utc_hour(tmp_path):
    folder = tmp_path / "events"
    for name, timestamps in REPRESENTATIONS.items():
        write_events(
            folder / f"{name}.parquet",
            event_rows(1, event_timestamp=timestamps, session_id=pa.array([name])),
        )
    db = pipeline.build(folder, tmp_path / "funnel.duckdb", quiet=True).db
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            """
            select hour_at, events from fct_hourly_metrics
            where metric = 'checkout_started' and dimension = 'total'
            """
        ).fetchall()
        event_times = con.execute("select distinct event_at from stg_events").fetchall()
    assert rows == [(datetime(2026, 1, 1, 10), len(REPRESENTATIONS))]
    # Sub-second precision survives; the instant is the same in every file.
    assert sorted(event_times) == [
        (datetime(2026, 1, 1, 10, 59, 30),),
        (datetime(2026, 1, 1, 10, 59, 30, 250000),),
    ]
