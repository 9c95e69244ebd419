"""The root causes of every anomalous total hour: its leaves through the localizer, with
the leaves' noise as the forecasting step learnt it from their history.

Run by the dbt model int_anomaly_root_causes (a Python model) on int_anomalous_hour_leaves.
A metric's dimensions are those its leaves carry (null on every leaf: not one of its
dimensions), always in warehouse.LEAF_DIMENSIONS' order, so that a combination is named
the same way wherever it is found.
"""

from __future__ import annotations

import pandas as pd

from funnel_anomalies import localizer
from funnel_anomalies.warehouse import LEAF_DIMENSIONS

HOUR_KEY = ["shop", "hour_at", "metric"]
# How a combination's dimensions (and values) are joined in fct_anomaly_hours.
PART_SEPARATOR = " & "


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop": pd.Series(dtype=str),
            "hour_at": pd.Series(dtype="datetime64[us]"),
            "metric": pd.Series(dtype=str),
            "element_rank": pd.Series(dtype="int64"),
            "element": pd.Series(dtype=str),
            "dimension": pd.Series(dtype=str),
            "dimension_value": pd.Series(dtype=str),
            "depth": pd.Series(dtype="int64"),
            "explained": pd.Series(dtype=float),
            "factor": pd.Series(dtype=float),
        }
    )


def localize_hours(leaves: pd.DataFrame) -> pd.DataFrame:
    """One row per element of each hour's root-cause set (`leaves`: one row per shop,
    hour, metric and leaf, with `events` and `expected`), ranked by the share of the
    hour's deviation it explains; an hour with no clear cause has no rows."""
    rows = []
    # The leaves in one order whatever order the query gave them in: the localizer's sums
    # and ties follow the order, and a build must not depend on how DuckDB split a join.
    leaves = leaves.sort_values([*HOUR_KEY, *LEAF_DIMENSIONS], ignore_index=True)
    for (shop, hour_at, metric), hour_leaves in leaves.groupby(HOUR_KEY, sort=True):
        dimensions = [d for d in LEAF_DIMENSIONS if hour_leaves[d].notna().any()]
        first = hour_leaves.iloc[0]
        noise = localizer.Noise(float(first["noise_dispersion"]), float(first["noise_relative"]))
        elements = localizer.localize(hour_leaves, dimensions, "events", "expected", noise=noise)
        for rank, element in enumerate(elements, start=1):
            rows.append(
                {
                    "shop": shop,
                    "hour_at": hour_at,
                    "metric": metric,
                    "element_rank": rank,
                    "element": element.notation(),
                    "dimension": PART_SEPARATOR.join(d for d, _ in element.parts),
                    "dimension_value": PART_SEPARATOR.join(v for _, v in element.parts),
                    "depth": element.depth,
                    "explained": element.explained,
                    "factor": element.factor,
                }
            )
    if not rows:
        return _empty()
    return pd.DataFrame(rows).astype(_empty().dtypes.to_dict())
