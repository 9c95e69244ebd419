"""A GA4 BigQuery export as the input (`--input-format ga4`): the storefront hour
(storefront_hour) in the export's nested shape counts as counted by hand, with the export's
device, country and traffic source as the dimensions; a file missing a column of that
shape is refused by name."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

from events_factory import write_events
from funnel_anomalies import events_input, pipeline
from funnel_anomalies.errors import InputError
from storefront_hour import EXPECTED_TOTALS, STORY, TRACKER_NAMES

HOUR = datetime(2026, 1, 1, 10, tzinfo=UTC)
PARAMETER_VALUE = pa.struct(
    [
        ("string_value", pa.string()),
        ("int_value", pa.int64()),
        ("float_value", pa.float64()),
        ("double_value", pa.float64()),
    ]
)
# The export's columns the build reads, with a few of its others beside them.
GA4_SCHEMA = pa.schema(
    [
        ("event_date", pa.string()),
        ("event_timestamp", pa.int64()),
        ("event_name", pa.string()),
        ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", PARAMETER_VALUE)]))),
        ("user_pseudo_id", pa.string()),
        (
            "device",
            pa.struct(
                [
                    ("category", pa.string()),
                    ("operating_system", pa.string()),
                    ("web_info", pa.struct([("browser", pa.string()), ("hostname", pa.string())])),
                ]
            ),
        ),
        ("geo", pa.struct([("country", pa.string()), ("city", pa.string())])),
        (
            "traffic_source",
            pa.struct([("name", pa.string()), ("medium", pa.string()), ("source", pa.string())]),
        ),
        (
            "collected_traffic_source",
            pa.struct([("manual_source", pa.string()), ("manual_medium", pa.string())]),
        ),
    ]
)
# Sessions by the pseudo user and session number they are sent with, and how they came.
SESSIONS = {
    "one": ("user-1", 1767261600, "iOS", "newsletter", "email"),
    "two": ("user-2", 1767261700, "Macintosh", None, None),  # first touch: traffic_source
    "three": ("user-1", 1767262800, "iOS", "newsletter", "email"),
}


def _parameter(key: str, string_value=None, int_value=None) -> dict:
    return {"key": key, "value": {"string_value": string_value, "int_value": int_value}}


def _ga4_rows(hostname: str) -> list[dict]:
    names = TRACKER_NAMES["ga4-shop"]
    rows = []
    for session, step, minute in STORY:
        user, session_number, system, source, medium = SESSIONS[session]
        step_names = names.get(step, step)
        for name in step_names if isinstance(step_names, list) else [step_names]:
            at = HOUR.replace(minute=minute)
            rows.append(
                {
                    "event_date": at.strftime("%Y%m%d"),
                    "event_timestamp": int(at.timestamp() * 1_000_000),
                    "event_name": name,
                    "event_params": [
                        _parameter("ga_session_id", int_value=session_number),
                        _parameter("page_location", f"https://{hostname}/{step}"),
                    ],
                    "user_pseudo_id": user,
                    "device": {
                        "category": "mobile",
                        "operating_system": system,
                        "web_info": {"browser": "Safari", "hostname": hostname},
                    },
                    "geo": {"country": "Germany", "city": "Berlin"},
                    "traffic_source": {"name": "(direct)", "medium": "organic", "source": "bing"},
                    "collected_traffic_source": {"manual_source": source, "manual_medium": medium},
                }
            )
    return rows


def _write(path, rows: list[dict]):
    return write_events(path, pa.Table.from_pylist(rows, schema=GA4_SCHEMA))


@pytest.fixture(scope="module")
def ga4_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("ga4")
    events = _write(root / "ga4_export.parquet", _ga4_rows("shop.example"))
    report = pipeline.build(events, root / "funnel.duckdb", quiet=True, input_format="ga4")
    return duckdb.connect(str(report.db), read_only=True)


def test_a_ga4_export_counts_as_counted_by_hand(ga4_db):
    totals = ga4_db.execute(
        "select metric, sum(events)::int from fct_hourly_metrics "
        "where shop = 'shop.example' and dimension = 'total' group by all"
    ).fetchall()
    assert dict(totals) == EXPECTED_TOTALS


def test_a_ga4_exports_device_country_and_traffic_source_are_the_dimensions(ga4_db):
    values = ga4_db.execute(
        "select dimension, dimension_value, sum(events)::int from fct_hourly_metrics "
        "where metric = 'landing_page_views' and dimension != 'total' and events > 0 "
        "group by all order by all"
    ).fetchall()
    # Sessions one and three came from the newsletter on iOS; two from the user's first
    # touch (bing, organic) on a Mac.
    assert values == [
        ("device", "iOS", 2),
        ("device", "macOS", 1),
        ("geography", "Germany", 3),
        ("utm_medium", "email", 2),
        ("utm_medium", "organic", 1),
        ("utm_source", "bing", 1),
        ("utm_source", "newsletter", 2),
    ]


def test_a_ga4_file_missing_a_column_is_refused_by_name(tmp_path):
    table = pa.Table.from_pylist(_ga4_rows("shop.example"), schema=GA4_SCHEMA).drop(["device"])
    path = write_events(tmp_path / "no_device.parquet", table)
    with pytest.raises(InputError, match=r"no_device\.parquet: missing column\(s\) device"):
        events_input.validate(path, "ga4")


def test_a_ga4_row_without_a_hostname_is_refused_by_name(tmp_path):
    rows = _ga4_rows("shop.example")
    rows[0]["device"]["web_info"]["hostname"] = None
    path = _write(tmp_path / "app_rows.parquet", rows)
    with pytest.raises(InputError, match=r"app_rows\.parquet: column device\.web_info\.hostname"):
        events_input.validate(path, "ga4")
