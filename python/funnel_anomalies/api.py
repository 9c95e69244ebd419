"""The notebook API: raw events in, reports out, through the same dbt models as `make build`.

    report = generate_anomaly_report(events)          # pandas or polars DataFrame
    groups = generate_anomaly_group_report(report)
    scenarios = analyze_anomaly_scenarios(groups, report)

generate_anomaly_report runs the whole pipeline on the events in a working folder (a new
temporary one unless `workdir` is given) and remembers the database it built in the
report's `attrs`; the two other functions read that same database, so there is one
implementation of every rule, in SQL.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from funnel_anomalies import pipeline, reports
from funnel_anomalies.forecasting import ForecastSettings

DATABASE_ATTRIBUTE = "funnel_anomalies_db"


def _write_events(events, path: Path) -> None:
    if hasattr(events, "write_parquet"):  # polars
        events.write_parquet(path)
    elif isinstance(events, pd.DataFrame):
        events.to_parquet(path, index=False)
    else:
        raise TypeError(f"expected a pandas or polars DataFrame of events, got {type(events)}")


def _database_of(anomaly_report: pd.DataFrame) -> Path:
    db = anomaly_report.attrs.get(DATABASE_ATTRIBUTE)
    if db is None or not Path(db).exists():
        raise ValueError(
            "this anomaly report does not come from generate_anomaly_report in this session "
            "(its database is unknown or gone); generate it again"
        )
    return Path(db)


def generate_anomaly_report(
    events, workdir: str | Path | None = None, interval_width: float = 0.99
) -> pd.DataFrame:
    """One row per shop and hour; per metric and dimension value: anomaly flag, percent
    difference from expected, contribution to the total's deviation."""
    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="funnel-"))
    folder.mkdir(parents=True, exist_ok=True)
    events_path = folder / "events.parquet"
    _write_events(events, events_path)
    built = pipeline.build(
        events_path,
        folder / "funnel.duckdb",
        quiet=True,
        settings=ForecastSettings(interval_width=interval_width),
    )
    with duckdb.connect(str(built.db), read_only=True) as con:
        report = reports.anomaly_report(con)
    report.attrs[DATABASE_ATTRIBUTE] = str(built.db)
    return report


def generate_anomaly_group_report(anomaly_report: pd.DataFrame) -> pd.DataFrame:
    """One row per anomaly group: span, direction, metrics, dimensions, contributors per
    metric, root cause, scenario."""
    db = _database_of(anomaly_report)
    with duckdb.connect(str(db), read_only=True) as con:
        groups = reports.group_report(con)
    groups.attrs[DATABASE_ATTRIBUTE] = str(db)
    return groups


def analyze_anomaly_scenarios(group_report: pd.DataFrame, anomaly_report: pd.DataFrame) -> dict:
    """The groups by scenario with their dimensional patterns, metric relationships and
    contributing factors (the content of anomaly_scenarios.json)."""
    db = _database_of(anomaly_report)
    if group_report.attrs.get(DATABASE_ATTRIBUTE, str(db)) != str(db):
        raise ValueError("the group report and the anomaly report come from different runs")
    with duckdb.connect(str(db), read_only=True) as con:
        return reports.scenarios(con)
