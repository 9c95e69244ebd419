"""Reading series from and writing forecasts to the DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

FORECASTS_TABLE = "fct_forecasts"


@dataclass
class MetricSeries:
    """One shop's metric: its total and every dimension's values, over the same hours."""

    shop: str
    metric: str
    hours: pd.DatetimeIndex
    total: np.ndarray
    dimensions: dict[str, tuple[list[str], np.ndarray]]  # dimension -> (values, counts)


def read_series(con: duckdb.DuckDBPyConnection) -> Iterator[MetricSeries]:
    """Every (shop, metric) of fct_hourly_metrics, as dense arrays over its hours."""
    hourly = con.execute(
        """
        select shop, metric, dimension, dimension_value, hour_at, events
        from fct_hourly_metrics
        order by shop, metric, dimension, dimension_value, hour_at
        """
    ).df()
    for (shop, metric), rows in hourly.groupby(["shop", "metric"], sort=True):
        total = rows[rows["dimension"] == "total"]
        hours = pd.DatetimeIndex(total["hour_at"])
        dimensions = {}
        for dimension, values in rows[rows["dimension"] != "total"].groupby("dimension"):
            wide = values.pivot(index="dimension_value", columns="hour_at", values="events")
            wide = wide.reindex(columns=hours, fill_value=0)
            dimensions[dimension] = (list(wide.index), wide.to_numpy(dtype=float))
        yield MetricSeries(shop, metric, hours, total["events"].to_numpy(dtype=float), dimensions)


def write_forecasts(con: duckdb.DuckDBPyConnection, forecasts: pd.DataFrame) -> None:
    """Replace fct_forecasts with `forecasts` in one statement. Categorical columns (text
    that repeats) are stored as text: DuckDB would make each an ENUM of its own."""
    categorical = [
        name for name, dtype in forecasts.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)
    ]
    replaced = ", ".join(f'"{name}"::varchar as "{name}"' for name in categorical)
    columns = f"* replace ({replaced})" if categorical else "*"
    con.register("forecasts_frame", forecasts)
    con.execute(
        f"create or replace table {FORECASTS_TABLE} as select {columns} from forecasts_frame"
    )
    con.unregister("forecasts_frame")


def anomaly_group_members(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every anomalous metric-hour with the group it belongs to. Groups of one shop and
    direction never overlap in time, so the span and the metrics place each hour."""
    return con.execute(
        """
        select groups.group_id, hours.shop, hours.hour_at, hours.metric,
        from fct_anomaly_hours as hours
        inner join fct_anomaly_groups as groups
            on hours.shop = groups.shop
            and hours.direction = groups.direction
            and hours.hour_at between groups.start_at and groups.end_at
            and list_contains(groups.metrics, hours.metric)
        """
    ).df()
