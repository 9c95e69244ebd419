"""Files a run leaves in OUT. They are rendered from the scratch database, staged beside
their final names, and renamed into place only after the database itself was published, so
a reader sees the previous complete file or the new complete file, never a partial one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from funnel_anomalies import chart, reports

RUN_SUMMARY = "run_summary.json"
ANOMALY_REPORT = "anomaly_report.csv"
GROUP_REPORT = "anomaly_group_report.csv"
SCENARIOS = "anomaly_scenarios.json"
CHART = "anomaly_chart.html"


def stage(out: Path, files: dict[str, str]) -> list[tuple[Path, Path]]:
    """Write each file as `<name>.partial` in `out`; return (staged, final) path pairs."""
    out.mkdir(parents=True, exist_ok=True)
    staged = []
    for name, text in files.items():
        final = out / name
        partial = final.with_name(final.name + ".partial")
        partial.write_text(text)
        staged.append((partial, final))
    return staged


def publish(staged: list[tuple[Path, Path]]) -> None:
    for partial, final in staged:
        partial.replace(final)


def discard(staged: list[tuple[Path, Path]]) -> None:
    for partial, _ in staged:
        partial.unlink(missing_ok=True)


def run_summary(con: duckdb.DuckDBPyConnection, input_files: list[str]) -> dict:
    """What this run read and where every event went, per shop, from the accounting."""
    shops = con.execute(
        """
        select
            shop,
            min(hour_at) as first_hour_at,
            max(hour_at) as last_hour_at,
            count(*) as hours,
        from int_shop_hours_spined
        group by shop
        order by shop
        """
    ).fetchall()
    accounting = con.execute(
        "select shop, outcome, metric, events from fct_event_accounting order by all"
    ).fetchall()
    unmapped = con.execute(
        "select shop, event_name, events from fct_unmapped_event_names order by shop, events desc"
    ).fetchall()
    summary: dict = {
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input_files": input_files,
        "shops": {},
    }
    for shop, first_hour_at, last_hour_at, hours in shops:
        summary["shops"][shop] = {
            "first_hour_at": first_hour_at.isoformat(),
            "last_hour_at": last_hour_at.isoformat(),
            "hours": hours,
            "raw_events": 0,
            "counted": {},
            "not_counted": {},
            "unmapped_event_names": {},
        }
    for shop, outcome, metric, events in accounting:
        entry = summary["shops"][shop]
        entry["raw_events"] += events
        if outcome == "counted":
            entry["counted"][metric] = events
        else:
            entry["not_counted"][outcome] = events
    for shop, event_name, events in unmapped:
        summary["shops"][shop]["unmapped_event_names"][event_name] = events
    return summary


def render(db: Path, input_files: list[str]) -> dict[str, str]:
    """Every OUT file of a run, by name, rendered from the database at `db`."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            RUN_SUMMARY: json.dumps(run_summary(con, input_files), indent=2) + "\n",
            ANOMALY_REPORT: _csv(reports.anomaly_report(con)),
            GROUP_REPORT: _csv(reports.group_report(con)),
            SCENARIOS: json.dumps(reports.scenarios(con), indent=2) + "\n",
            CHART: chart.render(con),
        }


def _csv(frame) -> str:
    return frame.to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S")
