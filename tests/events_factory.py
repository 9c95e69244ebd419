"""Tiny hand-made event files for tests that need exact rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def event_rows(count: int, **overrides) -> dict[str, pa.Array]:
    """`count` checkout_started events of shop `s`; keyword arguments replace columns."""
    columns = {
        "event_type": pa.array(["standard"] * count),
        "event_name": pa.array(["checkout_started"] * count),
        "event_timestamp": pa.array(["2026-01-01T10:15:00Z"] * count),
        "shop": pa.array(["s"] * count),
        "page_url": pa.array(["https://s.example/checkout"] * count),
        "user_agent": pa.array(["Mozilla/5.0 (Windows NT 10.0)"] * count),
        "session_id": pa.array([f"session-{i}" for i in range(count)]),
        "device_type": pa.array(["desktop"] * count),
        "utm_source": pa.array([None] * count, pa.string()),
        "utm_medium": pa.array([None] * count, pa.string()),
        "geography": pa.array(["US"] * count),
    }
    columns.update(overrides)
    return columns


def write_events(path: Path, columns: dict[str, pa.Array]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path
