"""Hand-made event files for tests that need exact rows, and small generated ones to bend."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from funnel_anomalies import sample_data


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


def write_events(path: Path, columns: dict[str, pa.Array] | pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = columns if isinstance(columns, pa.Table) else pa.table(columns)
    pq.write_table(table, path)
    return path


def generated_week(shops: int = 2, days: int = 7, events: int = 30_000, seed: int = 5) -> pa.Table:
    """A small generated data set of plain strings (UTC microsecond timestamps)."""
    return sample_data.generate_events(
        sample_data.default_spec(shops=shops, days=days, events=events, seed=seed)
    )


def with_column(table: pa.Table, name: str, values) -> pa.Table:
    """`table` with column `name` replaced by `values` (an array or one value for all)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pa.array([values] * table.num_rows, table.schema.field(name).type)
    return table.set_column(table.schema.get_field_index(name), name, values)


def rows_of_shop(table: pa.Table, shop: str) -> pa.Table:
    return table.filter(pc.equal(table["shop"], shop))
