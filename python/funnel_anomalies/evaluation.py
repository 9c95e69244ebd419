"""How good the expectations are, measured against a labels file of known incidents.

Coverage: the share of clean hours (outside every labelled incident, with an hour of slack
either side) whose actual count lies inside the band, by shop size and by day and night.
Band detection: how many labelled incident hours of the metrics an incident should move
fall outside the band (recall), and how many clean hours of the totals do (false flags
per week per shop). These judge the bands alone; the anomaly rules come on top of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

NIGHT_HOURS = 8  # a shop's night: its quietest hours of the day
SLACK = pd.Timedelta(hours=1)


def load_labels(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def scored_hours(con: duckdb.DuckDBPyConnection, forecasts_table: str = "fct_forecasts"):
    """Actual and band for every forecast hour."""
    return con.execute(
        f"""
        select
            hourly.shop, hourly.hour_at, hourly.metric, hourly.dimension,
            hourly.dimension_value, hourly.events,
            forecasts.expected, forecasts.expected_lower, forecasts.expected_upper,
        from fct_hourly_metrics as hourly
        inner join {forecasts_table} as forecasts
            using (shop, hour_at, metric, dimension, dimension_value)
        """
    ).df()


def _incident_windows(labels: dict) -> pd.DataFrame:
    rows = []
    for incident in labels["incidents"]:
        for metric in incident["metrics"]:
            rows.append(
                {
                    "incident_id": incident["incident_id"],
                    "shop": incident["shop"],
                    "metric": metric,
                    "start_at": pd.Timestamp(incident["start_at"]),
                    "end_at": pd.Timestamp(incident["end_at"]),
                }
            )
    return pd.DataFrame(rows)


def mark_incident_hours(hours: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """Adds `is_near_incident` (any incident of the shop, with slack) and
    `is_labelled_hour` (inside an incident that should move this metric)."""
    near = np.zeros(len(hours), dtype=bool)
    labelled = np.zeros(len(hours), dtype=bool)
    for incident in labels["incidents"]:
        start = pd.Timestamp(incident["start_at"])
        end = pd.Timestamp(incident["end_at"])
        same_shop = (hours["shop"] == incident["shop"]).to_numpy()
        at = hours["hour_at"]
        near |= same_shop & ((at >= start - SLACK) & (at <= end + SLACK)).to_numpy()
        labelled |= (
            same_shop
            & hours["metric"].isin(list(incident["metrics"])).to_numpy()
            & ((at >= start) & (at <= end)).to_numpy()
        )
    return hours.assign(is_near_incident=near, is_labelled_hour=labelled)


def _shop_sizes(hours: pd.DataFrame) -> dict[str, str]:
    """The busiest shop is 'large', the quietest 'small', any others 'medium'."""
    landing = hours[(hours["metric"] == "landing_page_views") & (hours["dimension"] == "total")]
    volume = landing.groupby("shop")["events"].mean().sort_values()
    sizes = {shop: "medium" for shop in volume.index}
    sizes[volume.index[0]] = "small"
    sizes[volume.index[-1]] = "large"
    return sizes


def _dayparts(hours: pd.DataFrame) -> pd.Series:
    """'night' for each shop's NIGHT_HOURS quietest hours of the day, else 'day'."""
    landing = hours[(hours["metric"] == "landing_page_views") & (hours["dimension"] == "total")]
    profile = landing.groupby(["shop", landing["hour_at"].dt.hour])["events"].mean()
    night = {
        shop: set(profile[shop].nsmallest(NIGHT_HOURS).index) for shop in profile.index.levels[0]
    }
    hour_of_day = hours["hour_at"].dt.hour.to_numpy()
    is_night = np.array(
        [hour in night.get(shop, ()) for shop, hour in zip(hours["shop"], hour_of_day, strict=True)]
    )
    return pd.Series(np.where(is_night, "night", "day"), index=hours.index)


def coverage_table(hours: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """Coverage of clean hours by series kind (totals, values), shop size and daypart."""
    hours = mark_incident_hours(hours, labels)
    clean = hours[~hours["is_near_incident"]].copy()
    sizes = _shop_sizes(hours)
    clean["shop_size"] = clean["shop"].map(sizes)
    clean["daypart"] = _dayparts(clean)
    clean["series"] = np.where(clean["dimension"] == "total", "totals", "dimension values")
    clean["is_covered"] = (clean["events"] >= clean["expected_lower"]) & (
        clean["events"] <= clean["expected_upper"]
    )
    table = (
        clean.groupby(["series", "shop_size", "daypart"])
        .agg(hours=("is_covered", "size"), coverage=("is_covered", "mean"))
        .reset_index()
    )
    return table


def band_detection(hours: pd.DataFrame, labels: dict) -> dict:
    """Recall of labelled incident hours on the totals, and false flags on clean hours."""
    totals = mark_incident_hours(hours[hours["dimension"] == "total"], labels)
    outside = (totals["events"] < totals["expected_lower"]) | (
        totals["events"] > totals["expected_upper"]
    )
    labelled = totals["is_labelled_hour"]
    clean = ~totals["is_near_incident"]
    weeks = totals.groupby("shop")["hour_at"].nunique().sum() / (24 * 7)
    return {
        "labelled_hours": int(labelled.sum()),
        "recall": float(outside[labelled].mean()) if labelled.any() else float("nan"),
        "false_flags_per_week_per_shop": float(outside[clean].sum() / weeks),
    }


def format_coverage(table: pd.DataFrame) -> str:
    lines = ["| series | shop size | daypart | clean hours | coverage |", "|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(
            f"| {row.series} | {row.shop_size} | {row.daypart} | {row.hours:,} "
            f"| {row.coverage:.2%} |"
        )
    return "\n".join(lines)
