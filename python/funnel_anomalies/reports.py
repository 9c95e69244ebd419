"""The three reports, read from the anomaly tables of a built database.

- anomaly_report: one row per shop and hour; for every metric and dimension value, the
  anomaly flag, the percent difference from expected and the contribution
  (write_anomaly_report_long: the same cells, one row per shop, hour and series).
- group_report: one row per anomaly group with its span, direction, metrics, dimensions,
  contributors per metric, a one-line root cause and the scenario.
- scenarios: the groups by scenario with their dimensional patterns, metric
  relationships and contributing factors (schemas/anomaly_scenarios.schema.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from funnel_anomalies import project, warehouse

METRIC_ORDER = tuple(project.dbt_var("funnel_metrics"))  # in funnel order
DIMENSION_ORDER = ("total", "geography", "device", "utm_source", "utm_medium")
# The founding document's breakdowns only: the session attribution (session_utm_source,
# session_utm_medium on the later steps) stays in the tables, so the wide report keeps the
# columns its readers know.
REPORTED_DIMENSIONS = DIMENSION_ORDER
# A series' cells in the wide report, in their column order.
REPORT_FIELDS = ("anomaly", "pct_diff", "contribution")
# Shops pivoted together into the wide report.
REPORT_SHOPS_PER_BATCH = 20
SCENARIO_MEANINGS = {
    "A": "one shared contributor across metrics",
    "B": "different contributors per metric",
    "C": "no clear contributor",
    "D": "a single metric or a single hour",
}


# The report's cells, one row per shop, hour and series: the long form itself and what the
# wide form pivots.
REPORT_CELLS = """
    select
        shop, hour_at, metric, dimension, dimension_value,
        cast(is_anomaly as integer) as anomaly,
        round(pct_diff, 2) as pct_diff,
        round(contribution, 4) as contribution,
    from fct_anomalies
    where list_contains($dimensions, dimension)
"""


def write_anomaly_report_long(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Long, as a Parquet file DuckDB writes as it goes (it may be larger than memory): the
    wide report's cells, a row per shop, hour, metric, dimension and value, ordered as the
    wide report's rows and columns are. Text as in the tables but for NUL characters,
    dropped as in every report (C-string readers end a value there)."""
    con.execute(
        f"""
        copy (
            select
                replace(shop, chr(0), '') as shop,
                hour_at,
                metric,
                dimension,
                replace(dimension_value, chr(0), '') as dimension_value,
                anomaly,
                pct_diff,
                contribution,
            from ({REPORT_CELLS})
            order by
                shop,
                hour_at,
                list_position($metrics, metric),
                list_position($dimensions, dimension),
                dimension_value
        ) to $path (format parquet)
        """,
        {
            "dimensions": list(REPORTED_DIMENSIONS),
            "metrics": list(METRIC_ORDER),
            "path": str(path),
        },
    )


def report_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The wide report's columns (anomaly_report_batches)."""
    return [
        "shop",
        "hour_at",
        *(f"{series}__{field}" for series in _series_order(con) for field in REPORT_FIELDS),
    ]


def _series_order(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every reported series' name, metrics in funnel order, totals first."""
    series = con.execute(
        "select distinct metric, dimension, dimension_value from fct_anomalies "
        "where list_contains($dimensions, dimension)",
        {"dimensions": list(REPORTED_DIMENSIONS)},
    ).fetchall()
    series.sort(key=lambda key: (METRIC_ORDER.index(key[0]), DIMENSION_ORDER.index(key[1]), key[2]))
    return [f"{metric}__{dimension}__{value}" for metric, dimension, value in series]


def _wide(long: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """The cells of some shops as wide rows, with a column set of every series in `order`
    (empty where these shops do not have the series)."""
    long["series"] = long["metric"] + "__" + long["dimension"] + "__" + long["dimension_value"]
    wide = long.pivot(index=["shop", "hour_at"], columns="series", values=list(REPORT_FIELDS))
    missing = pd.Series(float("nan"), index=wide.index)
    columns = {}
    for series in order:
        for field in REPORT_FIELDS:
            column = wide[(field, series)] if (field, series) in wide.columns else missing
            # The pivot widened flags to floats, with NaN for a series another shop has: a
            # nullable integer keeps 0/1 and leaves that cell empty.
            columns[f"{series}__{field}"] = column.astype("Int8") if field == "anomaly" else column
    flat = pd.concat(columns, axis=1)
    # copy() joins the per-column blocks the concat made, before the index becomes columns.
    return flat.copy().reset_index().sort_values(["shop", "hour_at"], ignore_index=True)


def anomaly_report_batches(
    con: duckdb.DuckDBPyConnection, shops_per_batch: int = REPORT_SHOPS_PER_BATCH
) -> Iterator[pd.DataFrame]:
    """Wide, a few shops at a time (shops in order): shop, hour_at, then
    `<metric>__<dimension>__<value>__{anomaly,pct_diff,contribution}` for every series of
    any shop, metrics in funnel order, totals first. The width grows with the union of all
    shops' values, so the whole table of many shops would not fit in memory. A run with no
    series has one batch: the two key columns and no row."""
    order = _series_order(con)
    shops = sorted(
        shop for (shop,) in con.execute("select distinct shop from fct_anomalies").fetchall()
    )
    if not shops:
        yield pd.DataFrame({"shop": pd.Series(dtype=str), "hour_at": pd.Series(dtype="M8[us]")})
    for start in range(0, len(shops), shops_per_batch):
        long = con.execute(
            REPORT_CELLS + " and list_contains($shops, shop)",
            {
                "dimensions": list(REPORTED_DIMENSIONS),
                "shops": shops[start : start + shops_per_batch],
            },
        ).df()
        yield _wide(long, order)


# A text cell DuckDB writes that a spreadsheet would run as a formula gets a leading `'`:
# exports.spreadsheet_safe's rule, for the report DuckDB writes.
SPREADSHEET_SAFE_SQL = r"""
    case
        when regexp_matches({text}, '^[=+\-@\t\r]')
            and not regexp_full_match({text}, '{plain_number}')
            then '''' || {text}
        else {text}
    end
"""


def write_anomaly_report_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: str,
    plain_number: str,
    shops_per_batch: int = REPORT_SHOPS_PER_BATCH,
) -> None:
    """The wide report (anomaly_report_batches' rows and columns) as CSV, a few shops at a
    time: numpy places the cells, DuckDB writes them. `header` is the header line, made by
    the caller: the columns' names are text a spreadsheet reads. The shop's name is made
    safe, `plain_number` the pattern of a text that is a number (and no formula)."""
    order = _series_order(con)
    shops = sorted(
        shop for (shop,) in con.execute("select distinct shop from fct_anomalies").fetchall()
    )
    safe_shop = SPREADSHEET_SAFE_SQL.format(
        text="replace(shop, chr(0), '')", plain_number=plain_number.replace("'", "''")
    )
    part = path.with_name(f"{path.name}.part")
    con.register("report_series", pd.DataFrame({"name": order, "series": range(len(order))}))
    with path.open("wb") as csv:
        csv.write(header.encode())
        for start in range(0, len(shops), shops_per_batch):
            wide = _wide_rows(con, shops[start : start + shops_per_batch], len(order), safe_shop)
            con.register("report_wide", wide)
            con.execute("copy report_wide to $part (format csv, header false)", {"part": str(part)})
            con.unregister("report_wide")
            csv.write(part.read_bytes())
    part.unlink(missing_ok=True)
    con.unregister("report_series")


def _wide_rows(
    con: duckdb.DuckDBPyConnection, shops: list[str], series: int, safe_shop: str
) -> pa.Table:
    """The wide rows of `shops`: the shop (`safe_shop`, its SQL), the hour, then each of
    the `series` (numbered in report_series) as three cells."""
    con.execute(
        f"""
        create or replace temporary table report_batch as
        select
            (dense_rank() over (order by report_cells.shop, hour_at) - 1)::integer
                as row_number,
            report_cells.shop,
            hour_at,
            report_series.series,
            anomaly,
            pct_diff,
            contribution,
        from ({REPORT_CELLS} and list_contains($shops, shop)) as report_cells
        inner join report_series
            on report_series.name = report_cells.metric || '__'
                || report_cells.dimension || '__' || report_cells.dimension_value
        """,
        {"dimensions": list(REPORTED_DIMENSIONS), "shops": shops},
    )
    rows = con.sql(
        f"select distinct row_number, {safe_shop} as shop, hour_at from report_batch "
        "order by row_number"
    ).to_arrow_table()
    cells = con.execute(
        "select row_number, series, anomaly, pct_diff, contribution from report_batch"
    ).fetchnumpy()
    con.execute("drop table report_batch")
    fields = []
    for field in REPORT_FIELDS:
        values = np.full((rows.num_rows, series), np.nan)
        values[cells["row_number"], cells["series"]] = np.ma.filled(
            cells[field].astype(float), np.nan
        )
        fields.append(values)
    columns = [rows["shop"], rows["hour_at"], *_interleaved(fields)]
    return pa.table({f"c{number}": column for number, column in enumerate(columns)})


def _interleaved(fields: list[np.ndarray]) -> list[pa.Array]:
    """Per series its anomaly flag (an integer), percent difference and contribution, in
    that order; an empty cell where the series has no value."""
    anomaly, pct_diff, contribution = fields
    columns = []
    for series in range(anomaly.shape[1]):
        columns.append(pa.array(anomaly[:, series], from_pandas=True).cast(pa.int8()))
        columns.append(pa.array(pct_diff[:, series], from_pandas=True))
        columns.append(pa.array(contribution[:, series], from_pandas=True))
    return columns


def anomaly_report(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Wide, whole (anomaly_report_batches): one row per shop and hour."""
    batches = list(anomaly_report_batches(con))
    return pd.concat(batches, ignore_index=True) if len(batches) > 1 else batches[0]


def group_report(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        """
        select
            group_id,
            shop,
            start_at,
            end_at,
            n_hours,
            direction,
            array_to_string(metrics, '; ') as metrics,
            array_to_string(dimensions, '; ') as dimensions,
            array_to_string(
                list_transform(
                    contributors,
                    lambda contributor: contributor.metric || ': ' || coalesce(
                        contributor.element || ' ('
                        || cast(round(100 * contributor.contribution) as integer) || '%)',
                        'no clear contributor'
                    )
                ),
                '; '
            ) as primary_contributors,
            root_cause,
            scenario,
        from fct_anomaly_groups
        order by start_at, shop, direction
        """
    ).df()


def _iso(value) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def scenarios(con: duckdb.DuckDBPyConnection) -> dict:
    groups = con.execute(
        """
        select group_id, shop, direction, start_at, end_at, n_hours, metrics, scenario,
            contributors, dimensions, n_distinct_contributors, root_cause
        from fct_anomaly_groups
        order by start_at, shop, direction
        """
    ).fetchall()
    members = warehouse.anomaly_group_members(con)
    first_by_group: dict[str, dict[str, str]] = {}
    for (group_id, metric), first_hour_at in (
        members.groupby(["group_id", "metric"])["hour_at"].min().items()
    ):
        first_by_group.setdefault(group_id, {})[metric] = first_hour_at
    by_scenario: dict[str, list] = {scenario: [] for scenario in SCENARIO_MEANINGS}
    for (
        group_id,
        shop,
        direction,
        start_at,
        end_at,
        n_hours,
        metrics,
        scenario,
        contributors,
        dimensions,
        distinct_contributors,
        root_cause,
    ) in groups:
        firsts = first_by_group.get(group_id, {})
        # As fct_anomaly_groups counts them (a session's utm values as its landing's).
        named = [c for c in contributors if c["dimension"] is not None]
        by_scenario[scenario].append(
            {
                "group_id": group_id,
                "shop": shop,
                "direction": direction,
                "start_at": _iso(start_at),
                "end_at": _iso(end_at),
                "n_hours": n_hours,
                "root_cause": root_cause,
                "dimensional_pattern": {
                    "dimensions": list(dimensions),
                    "shared_contributor": (
                        {key: named[0][key] for key in ("dimension", "value", "element")}
                        if distinct_contributors == 1
                        else None
                    ),
                    "distinct_contributors": distinct_contributors,
                },
                "metric_relationships": {
                    "metrics": sorted(metrics, key=METRIC_ORDER.index),
                    "n_metrics": len(metrics),
                    "funnel_span": [
                        min(metrics, key=METRIC_ORDER.index),
                        max(metrics, key=METRIC_ORDER.index),
                    ],
                    "moved_first": sorted(
                        (m for m in metrics if firsts.get(m) == min(firsts.values())),
                        key=METRIC_ORDER.index,
                    )
                    if firsts
                    else [],
                },
                "contributing_factors": [
                    {
                        "metric": c["metric"],
                        "dimension": c["dimension"],
                        "value": c["value"],
                        "element": c["element"],
                        "contribution": c["contribution"],
                        "peak_hour_at": _iso(c["peak_hour_at"]),
                        "peak_pct_diff": c["peak_pct_diff"],
                    }
                    for c in contributors
                ],
            }
        )
    return {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scenarios": {
            scenario: {
                "meaning": SCENARIO_MEANINGS[scenario],
                "n_groups": len(entries),
                "groups": entries,
            }
            for scenario, entries in by_scenario.items()
        },
    }
