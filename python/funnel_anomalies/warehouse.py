"""Reading series from and writing forecasts to the DuckDB file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

FORECASTS_TABLE = "series_forecast_hours"
# How much of the machine's memory DuckDB may hold in a build before it spills to the run
# folder: its own default (80%) would leave little for the Python arrays of the process
# beside it. dbt's connection reads the same variable, with the same default, in
# profiles.yml.
MEMORY_LIMIT_VARIABLE = "FUNNEL_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "50%"


def memory_limit() -> str:
    return os.environ.get(MEMORY_LIMIT_VARIABLE, DEFAULT_MEMORY_LIMIT)


def connect(db: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection of a build to its database, within the build's memory limit."""
    return duckdb.connect(str(db), read_only=read_only, config={"memory_limit": memory_limit()})


@dataclass
class MetricSeries:
    """One shop's metric: its total and every dimension's values, over the same hours."""

    shop: str
    metric: str
    hours: pd.DatetimeIndex
    total: np.ndarray
    dimensions: dict[str, tuple[list[str], np.ndarray]]  # dimension -> (values, counts)


def read_totals(con: duckdb.DuckDBPyConnection) -> list[MetricSeries]:
    """Every (shop, metric) total of fct_hourly_metrics, without its dimensions."""
    hourly = con.execute(
        """
        select shop, metric, hour_at, events
        from fct_hourly_metrics
        where dimension = 'total'
        order by shop, metric, hour_at
        """
    ).df()
    return [
        MetricSeries(
            shop, metric, pd.DatetimeIndex(rows["hour_at"]), rows["events"].to_numpy(float), {}
        )
        for (shop, metric), rows in hourly.groupby(["shop", "metric"], sort=True)
    ]


def read_series(
    con: duckdb.DuckDBPyConnection, shops: list[str] | None = None
) -> Iterator[MetricSeries]:
    """Every (shop, metric) of fct_hourly_metrics (of `shops` only, when given), as dense
    arrays over its total's hours (an hour a value has no row for counts zero). DuckDB
    numbers the series and orders the rows, so only numbers cross into Python for the
    many rows."""
    where = "" if shops is None else "where shop in (select unnest(?::varchar[]))"
    con.execute(
        f"""
        create or replace temporary table numbered_series as
        select
            (dense_rank() over (order by shop, metric, dimension, dimension_value) - 1)::integer
                as series_id,
            shop, metric, dimension, dimension_value, epoch_us(hour_at) as hour_us, events,
        from fct_hourly_metrics
        {where}
        """,
        [] if shops is None else [shops],
    )
    keys = con.execute(
        "select distinct series_id, shop, metric, dimension, dimension_value "
        "from numbered_series order by series_id"
    ).df()
    values = con.execute(
        "select series_id, hour_us, events::double as events from numbered_series "
        "order by series_id, hour_us"
    ).fetchnumpy()
    con.execute("drop table numbered_series")
    bounds = np.searchsorted(values["series_id"], np.arange(len(keys) + 1))

    def rows(series_id: int) -> slice:
        return slice(bounds[series_id], bounds[series_id + 1])

    for (shop, metric), group in keys.groupby(["shop", "metric"], sort=False):
        total_id = int(group.loc[group["dimension"] == "total", "series_id"].iloc[0])
        hours_us = values["hour_us"][rows(total_id)]
        dimensions = {}
        for dimension, named in group[group["dimension"] != "total"].groupby(
            "dimension", sort=False
        ):
            counts = np.zeros((len(named), len(hours_us)))
            for row, series_id in enumerate(named["series_id"]):
                hour_us = values["hour_us"][rows(series_id)]
                position = np.minimum(np.searchsorted(hours_us, hour_us), len(hours_us) - 1)
                inside = hours_us[position] == hour_us
                counts[row, position[inside]] = values["events"][rows(series_id)][inside]
            dimensions[dimension] = (list(named["dimension_value"]), counts)
        yield MetricSeries(
            shop,
            metric,
            pd.DatetimeIndex(hours_us.astype("datetime64[us]")),
            values["events"][rows(total_id)],
            dimensions,
        )


def _create_or_append(table: str, append: bool) -> str:
    return f"insert into {table} by name" if append else f"create or replace table {table} as"


def write_forecasts(
    con: duckdb.DuckDBPyConnection, forecasts: pa.Table | pd.DataFrame, append: bool = False
) -> None:
    """Replace FORECASTS_TABLE (read through the view fct_forecasts) with `forecasts`, or
    add them to it, in one statement. The forecasting step's Arrow table keeps repeated
    text dictionary-encoded, which DuckDB stores as text; the bench's plain forecasts
    come as a frame of plain columns."""
    con.register("forecasts_frame", forecasts)
    con.execute(f"{_create_or_append(FORECASTS_TABLE, append)} select * from forecasts_frame")
    con.unregister("forecasts_frame")


# Each anomaly group's impact on each of its metrics: the events gained (positive) or lost
# against the expectation over the group's own anomalous hours. The chart ranks groups by
# its sum over metrics; alerts report it per metric.
GROUP_METRIC_IMPACTS = """
    select
        members.group_id,
        members.metric,
        sum(hours.actual - hours.expected) as impact,
    from fct_anomaly_group_members as members
    inner join fct_anomaly_hours as hours using (shop, hour_at, metric)
    group by all
"""


def anomaly_group_members(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """fct_anomaly_group_members: group_id, shop, hour_at, metric."""
    return con.execute("select group_id, shop, hour_at, metric from fct_anomaly_group_members").df()


# fct_leaf_forecasts (a dbt view) joins these: each leaf once, and its many hours as numbers.
LEAF_FORECAST_LEAVES_TABLE = "leaf_forecast_leaves"
LEAF_FORECAST_HOURS_TABLE = "leaf_forecast_hours"
# Every dimension a leaf may have, in the fixed order of combinations' names.
LEAF_DIMENSIONS = (
    "device",
    "geography",
    "utm_source",
    "utm_medium",
    "session_utm_source",
    "session_utm_medium",
)


@dataclass
class MetricLeaves:
    """One shop's metric as leaves: each combination of its dimensions' values that ever
    occurred (`keys`: its number `leaf`, then the value of every LEAF_DIMENSIONS column,
    null where the metric has no such dimension) with its counts over the total's hours."""

    dimensions: list[str]
    keys: pd.DataFrame
    counts: np.ndarray  # leaves x hours


def read_leaves(
    con: duckdb.DuckDBPyConnection, hours_of: dict[tuple[str, str], pd.DatetimeIndex]
) -> dict[tuple[str, str], MetricLeaves]:
    """The leaves of fct_hourly_leaves per (shop, metric), dense over `hours_of` that
    series (consecutive hours; an hour a leaf did not occur in counts zero). A dimension
    null on every leaf of a metric is not one of its dimensions. DuckDB numbers the leaves
    and places the hours, so only numbers cross into Python for the many rows."""
    if not hours_of:
        return {}
    series = pd.DataFrame(
        {
            "series_id": np.arange(len(hours_of), dtype=np.int32),
            "shop": [shop for shop, _ in hours_of],
            "metric": [metric for _, metric in hours_of],
            "first_hour_at": [hours[0] for hours in hours_of.values()],
        }
    )
    columns = ", ".join(LEAF_DIMENSIONS)
    con.register("leaf_series_frame", series)
    con.execute(
        f"""
        create or replace temporary table numbered_leaves as
        select
            series.series_id,
            (dense_rank() over (
                partition by leaves.shop, leaves.metric order by {columns}
            ) - 1)::integer as leaf,
            ((epoch(leaves.hour_at) - epoch(series.first_hour_at)) // 3600)::integer
                as hour_index,
            leaves.events::double as events,
            {columns},
        from fct_hourly_leaves as leaves
        inner join leaf_series_frame as series using (shop, metric)
        """
    )
    con.unregister("leaf_series_frame")
    keys = con.execute(
        f"select distinct series_id, leaf, {columns} from numbered_leaves order by all"
    ).df()
    values = con.execute(
        "select series_id, leaf, hour_index, events from numbered_leaves"
    ).fetchnumpy()
    con.execute("drop table numbered_leaves")
    leaves = {}
    order = np.argsort(values["series_id"], kind="stable")
    bounds = np.searchsorted(values["series_id"][order], np.arange(len(series) + 1))
    for series_id, (key, hours) in enumerate(hours_of.items()):
        series_keys = keys[keys["series_id"] == series_id].drop(columns="series_id")
        if series_keys.empty:
            continue
        rows = order[bounds[series_id] : bounds[series_id + 1]]
        counts = np.zeros((len(series_keys), len(hours)))
        hour_index = values["hour_index"][rows]
        inside = (hour_index >= 0) & (hour_index < len(hours))
        np.add.at(
            counts,
            (values["leaf"][rows][inside], hour_index[inside]),
            values["events"][rows][inside],
        )
        dimensions = [d for d in LEAF_DIMENSIONS if series_keys[d].notna().any()]
        leaves[key] = MetricLeaves(dimensions, series_keys.reset_index(drop=True), counts)
    return leaves


def write_leaf_forecasts(
    con: duckdb.DuckDBPyConnection, values: pa.Table, keys: pd.DataFrame, append: bool = False
) -> None:
    """Replace the leaves' forecasts (or add to them): `values` holds the many rows as
    numbers (series_id, leaf, hour_at, events, expected) and goes to
    LEAF_FORECAST_HOURS_TABLE as it is; `keys`, what each (series_id, leaf) stands for
    (shop, metric, the dimensions' values, its noise), to LEAF_FORECAST_LEAVES_TABLE."""
    con.register("leaf_values_frame", values)
    con.register("leaf_keys_frame", keys)
    columns = ", ".join(f"{name}::varchar as {name}" for name in LEAF_DIMENSIONS)
    con.execute(
        f"""
        {_create_or_append(LEAF_FORECAST_LEAVES_TABLE, append)}
        select
            series_id::integer as series_id,
            leaf::integer as leaf,
            shop::varchar as shop,
            metric::varchar as metric,
            {columns},
            noise_dispersion,
            noise_relative,
        from leaf_keys_frame
        """
    )
    con.execute(
        f"""
        {_create_or_append(LEAF_FORECAST_HOURS_TABLE, append)}
        select
            series_id::integer as series_id,
            leaf::integer as leaf,
            hour_at::timestamp as hour_at,
            events::bigint as events,
            expected::double as expected,
        from leaf_values_frame
        """
    )
    con.unregister("leaf_values_frame")
    con.unregister("leaf_keys_frame")
