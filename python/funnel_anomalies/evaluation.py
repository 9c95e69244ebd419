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

from funnel_anomalies import warehouse

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


def shop_sizes(hours: pd.DataFrame) -> dict[str, str]:
    """The busiest shop is 'large', the quietest 'small', any others 'medium'."""
    landing = hours[(hours["metric"] == "landing_page_views") & (hours["dimension"] == "total")]
    volume = landing.groupby("shop")["events"].mean().sort_values()
    sizes = {shop: "medium" for shop in volume.index}
    sizes[volume.index[0]] = "small"
    sizes[volume.index[-1]] = "large"
    return sizes


def dayparts(hours: pd.DataFrame) -> pd.Series:
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
    sizes = shop_sizes(hours)
    clean["shop_size"] = clean["shop"].map(sizes)
    clean["daypart"] = dayparts(clean)
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


def in_window(hour_at: pd.Timestamp, incident: dict, slack: pd.Timedelta = SLACK) -> bool:
    start = pd.Timestamp(incident["start_at"]) - slack
    end = pd.Timestamp(incident["end_at"]) + slack
    return start <= hour_at <= end


def detection_scores(con: duckdb.DuckDBPyConnection, labels: dict) -> dict:
    """The anomaly rules scored against the labels:

    - precision: anomalous metric-hours inside a labelled window of their shop (one hour
      of slack either side) over all anomalous metric-hours;
    - recall: labelled (incident, metric) pairs with an anomaly of the labelled direction
      inside the window, over all labelled pairs (metrics listed as only possible count
      neither way);
    - root-cause accuracy: detected pairs whose primary contributor at the pair's peak hour
      (largest |score| in the window) is the labelled one (none for none);
    - scenario accuracy: labelled incidents whose most-overlapping group (most anomalous
      metric-hours inside the window) has an acceptable scenario;
    - false alarms: anomalous metric-hours outside every window, per week per shop.
    """
    hours = con.execute(
        "select shop, hour_at, metric, direction, score, primary_dimension, "
        "primary_dimension_value from fct_anomaly_hours"
    ).df()
    groups = con.execute(
        "select group_id, shop, direction, start_at, end_at, scenario from fct_anomaly_groups"
    ).df()
    membership = warehouse.anomaly_group_members(con)
    shop_weeks = con.execute(
        "select sum(hours) / 168.0 from "
        "(select shop, count(distinct hour_at) as hours from fct_hourly_metrics group by shop)"
    ).fetchone()[0]
    incidents = labels["incidents"]

    inside = np.array(
        [
            any(i["shop"] == shop and in_window(at, i) for i in incidents)
            for shop, at in zip(hours["shop"], hours["hour_at"], strict=True)
        ],
        dtype=bool,
    )
    precision = float(inside.mean()) if len(hours) else float("nan")

    pairs, detected, causes_right = 0, 0, 0
    scenarios_scored, scenarios_right = 0, 0
    for incident in incidents:
        found_in_window = hours[
            (hours["shop"] == incident["shop"])
            & (hours["direction"] == incident["direction"])
            & hours["hour_at"].map(lambda at, i=incident: in_window(at, i))
        ]
        for metric, cause in incident["metrics"].items():
            pairs += 1
            found = found_in_window[found_in_window["metric"] == metric]
            if found.empty:
                continue
            detected += 1
            peak = found.loc[found["score"].abs().idxmax()]
            primary = (
                None
                if pd.isna(peak["primary_dimension"])
                else {
                    "dimension": peak["primary_dimension"],
                    "value": peak["primary_dimension_value"],
                }
            )
            causes_right += primary == cause
        if incident["metrics"]:
            scenarios_scored += 1
            members = membership[
                (membership["shop"] == incident["shop"])
                & membership["hour_at"].map(lambda at, i=incident: in_window(at, i))
            ]
            if not members.empty:
                best = members["group_id"].value_counts().idxmax()
                scenario = groups.loc[groups["group_id"] == best, "scenario"].iloc[0]
                scenarios_right += scenario in incident["acceptable_scenarios"]
    recall = detected / pairs if pairs else float("nan")
    return {
        "anomalous_metric_hours": int(len(hours)),
        "precision": precision,
        "labelled_pairs": pairs,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "root_cause_accuracy": causes_right / detected if detected else float("nan"),
        "scenario_accuracy": (
            scenarios_right / scenarios_scored if scenarios_scored else float("nan")
        ),
        "incidents_scored": scenarios_scored,
        "false_alarms_per_week_per_shop": float((~inside).sum() / shop_weeks),
    }


def format_detection(name: str, scores: dict) -> str:
    return (
        f"| {name} | {scores['anomalous_metric_hours']} | {scores['precision']:.3f} "
        f"| {scores['recall']:.3f} ({scores['labelled_pairs']} pairs) | {scores['f1']:.3f} "
        f"| {scores['root_cause_accuracy']:.3f} | {scores['scenario_accuracy']:.3f} "
        f"({scores['incidents_scored']} incidents) "
        f"| {scores['false_alarms_per_week_per_shop']:.2f} |"
    )


DETECTION_HEADER = (
    "| data | anomalous metric-hours | precision | recall | F1 | root-cause accuracy "
    "| scenario accuracy | false alarms / week / shop |\n|---|---|---|---|---|---|---|---|"
)
