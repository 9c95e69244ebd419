"""The files a run publishes beside its database, rendered from the built database into the
run's release folder (releases.py makes them current together with the database).

CSV cells are made safe for spreadsheets: a text cell that starts with `=`, `+`, `-`, `@`,
a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets (shop
names and utm values come from anyone who can craft a link), so such a cell gets a
leading `'`, which spreadsheets show as text; numbers stay numbers and NUL characters are
dropped.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from funnel_anomalies import chart_site, events_input, reports, warehouse
from funnel_anomalies.project import DBT_PROJECT_DIR

RUN_SUMMARY = "run_summary.json"
ANOMALY_REPORT = "anomaly_report.csv"
# The same cells in long form, for programs: its width does not grow with the shops'
# values, and its types are kept (no spreadsheet reads it, so its text is the tables').
ANOMALY_REPORT_LONG = "anomaly_report.parquet"
GROUP_REPORT = "anomaly_group_report.csv"
SCENARIOS = "anomaly_scenarios.json"
CHART = chart_site.INDEX
CHART_FOLDER = chart_site.FOLDER  # a folder: the shops' pages
FILE_NAMES = (
    RUN_SUMMARY,
    ANOMALY_REPORT,
    ANOMALY_REPORT_LONG,
    GROUP_REPORT,
    SCENARIOS,
    CHART,
    CHART_FOLDER,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ASCII digits: the same pattern runs in Python and in DuckDB (reports.py).
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# How many unmapped event names the summary lists per shop; the table has them all.
UNMAPPED_NAMES_LISTED = 20
# Below this share of events with a name the funnel counts, a run most likely reads a
# tracker whose names the seed does not know yet: it says so, and `--strict` stops it.
MIN_RECOGNIZED_SHARE = 0.5
EVENT_NAME_SEED = DBT_PROJECT_DIR / "seeds" / "event_name_metrics.csv"
# Outcomes of fct_event_accounting whose event name maps to a metric (counted, or a page
# view that is not its session's landing).
RECOGNIZED_OUTCOMES = ("counted", "later_page_view_of_session", "page_view_without_session")
UNMAPPED_OUTCOME = "unmapped_event_name"


def spreadsheet_safe(text: str) -> str:
    """`text` as a CSV cell no spreadsheet runs as a formula."""
    text = text.replace("\x00", "")
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    safe = frame.rename(columns=lambda name: str(name).replace("\x00", ""))
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda cell: spreadsheet_safe(cell) if isinstance(cell, str) else cell
            )
    return safe


def to_csv(frame: pd.DataFrame, header: bool = True) -> str:
    return _spreadsheet_safe_frame(frame).to_csv(
        index=False, header=header, date_format="%Y-%m-%d %H:%M:%S"
    )


def write_anomaly_report(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The wide CSV, as to_csv would write anomaly_report_batches' frames (a test holds
    them equal), written by DuckDB: it writes the cells many times faster."""
    header = to_csv(pd.DataFrame(columns=reports.report_columns(con)))
    reports.write_anomaly_report_csv(con, path, header, PLAIN_NUMBER.pattern)


def run_summary(con: duckdb.DuckDBPyConnection, event_files: events_input.EventFiles) -> dict:
    """What this run read and where every event went, per shop, from the accounting."""
    run_id, run_started_at = con.execute(
        "select run_id, run_started_at from run_context"
    ).fetchone()
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
        """
        select shop, event_name, events
        from fct_unmapped_event_names
        qualify row_number() over (partition by shop order by events desc, event_name)
            <= ?
        order by shop, events desc, event_name
        """,
        [UNMAPPED_NAMES_LISTED],
    ).fetchall()
    set_aside = con.execute(
        """
        select shop, reason, events, first_hour_at, last_hour_at
        from fct_events_set_aside
        order by shop, reason
        """
    ).fetchall()
    folded = con.execute(
        """
        select shop, dimension, values_folded, events_folded, largest_values
        from fct_dimension_values_folded
        order by shop, dimension
        """
    ).fetchall()
    summary: dict = {
        "run_id": run_id,
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_started_at": run_started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input_files": [str(file) for file in event_files.files],
        "skipped_hidden_files": [str(file) for file in event_files.skipped],
        "shops": {},
    }

    def entry(shop: str) -> dict:
        return summary["shops"].setdefault(
            shop,
            {
                "first_hour_at": None,
                "last_hour_at": None,
                "hours": 0,
                "raw_events": 0,
                "counted": {},
                "not_counted": {},
                "set_aside": {},
                "dimension_values_folded": {},
                "unmapped_event_names": {},
            },
        )

    for shop, first_hour_at, last_hour_at, hours in shops:
        entry(shop).update(
            first_hour_at=first_hour_at.isoformat(),
            last_hour_at=last_hour_at.isoformat(),
            hours=hours,
        )
    for shop, outcome, metric, events in accounting:
        shop_entry = entry(shop)
        shop_entry["raw_events"] += events
        if outcome == "counted":
            shop_entry["counted"][metric] = events
        else:
            shop_entry["not_counted"][outcome] = events
    for shop, reason, events, first_hour_at, last_hour_at in set_aside:
        entry(shop)["set_aside"][reason] = {
            "events": int(events),
            "first_hour_at": first_hour_at.isoformat(),
            "last_hour_at": last_hour_at.isoformat(),
        }
    for shop, dimension, values_folded, events_folded, largest_values in folded:
        entry(shop)["dimension_values_folded"][dimension] = {
            "values": values_folded,
            "events": int(events_folded),
            "largest": list(largest_values),
        }
    for shop, event_name, events in unmapped:
        entry(shop)["unmapped_event_names"][event_name] = events
    summary["event_names"] = _event_names(con, accounting)
    return summary


def _event_names(con: duckdb.DuckDBPyConnection, accounting: list[tuple]) -> dict:
    """How many of the run's events (placed in time, duplicates aside) have a name the
    funnel counts, the most frequent names it does not, and whether that is too few."""
    recognized = sum(
        events for _, outcome, _, events in accounting if outcome in RECOGNIZED_OUTCOMES
    )
    unmapped = sum(events for _, outcome, _, events in accounting if outcome == UNMAPPED_OUTCOME)
    named = recognized + unmapped
    most_frequent = con.execute(
        """
        select event_name, sum(events) as events
        from fct_unmapped_event_names
        group by event_name
        order by events desc, event_name
        limit ?
        """,
        [UNMAPPED_NAMES_LISTED],
    ).fetchall()
    return {
        "recognized_events": int(recognized),
        "unmapped_events": int(unmapped),
        "recognized_share": round(recognized / named, 4) if named else None,
        "too_few_recognized": named > 0 and recognized < MIN_RECOGNIZED_SHARE * named,
        "most_frequent_unmapped": {name: int(events) for name, events in most_frequent},
        "seed": str(EVENT_NAME_SEED),
    }


def too_few_recognized(summary: dict) -> str | None:
    """The warning of a run whose events mostly have names the funnel does not count."""
    names = summary["event_names"]
    if not names["too_few_recognized"]:
        return None
    named = names["recognized_events"] + names["unmapped_events"]
    examples = ", ".join(
        f"{name!r} ({events:,})"
        for name, events in list(names["most_frequent_unmapped"].items())[:5]
    )
    return (
        f"only {names['recognized_events']:,} of {named:,} events "
        f"({names['recognized_share']:.0%}) have an event name the funnel counts; the most "
        f"frequent others: {examples}. Map them to a metric in {names['seed']} "
        "(or rename them at the source)"
    )


def notices(summary: dict) -> list[str]:
    """What a person running the build should hear about, from its summary."""
    lines = []
    skipped = summary["skipped_hidden_files"]
    if skipped:
        lines.append(f"{len(skipped)} hidden file(s) skipped, e.g. {skipped[0]}")
    for shop, entry in summary["shops"].items():
        for reason, aside in entry["set_aside"].items():
            lines.append(
                f"shop {shop}: {aside['events']} event(s) set aside as {reason} "
                f"(hours {aside['first_hour_at']} to {aside['last_hour_at']})"
            )
        for dimension, folded in entry["dimension_values_folded"].items():
            lines.append(
                f"shop {shop}: {folded['values']} {dimension} value(s) folded into one "
                f"({folded['events']} event(s)), e.g. {folded['largest'][0]}"
            )
    return lines


def render(db: Path, event_files: events_input.EventFiles) -> dict[str, str]:
    """The published reports of a run, by name, rendered from the database at `db`; the
    large ones (the wide report, the chart's pages) are written by `write` a part at a
    time instead."""
    with warehouse.connect(db, read_only=True) as con:
        return {
            RUN_SUMMARY: json.dumps(run_summary(con, event_files), indent=2) + "\n",
            GROUP_REPORT: to_csv(reports.group_report(con)),
            SCENARIOS: json.dumps(reports.scenarios(con), indent=2) + "\n",
        }


def write(db: Path, event_files: events_input.EventFiles, folder: Path) -> dict:
    """Render every published file into `folder`; return the run summary."""
    folder.mkdir(parents=True, exist_ok=True)
    files = render(db, event_files)
    with warehouse.connect(db, read_only=True) as con:
        write_anomaly_report(con, folder / ANOMALY_REPORT)
        reports.write_anomaly_report_long(con, folder / ANOMALY_REPORT_LONG)
        chart_site.write(con, folder)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return json.loads(files[RUN_SUMMARY])
