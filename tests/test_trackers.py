"""Trackers' event names out of the box: one storefront hour sent with Shopify's web pixel
names, GA4's and the Segment/RudderStack spec's counts the same, as counted by hand; a run
whose names the seed does not know says so, and `--strict` publishes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from events_factory import write_events
from funnel_anomalies import exports, pipeline
from funnel_anomalies.errors import PipelineError
from storefront_hour import EXPECTED_TOTALS, STORY, TRACKER_NAMES

COMMAND = str(Path(sys.executable).with_name("funnel-anomalies"))


def _rows(shop: str, names: dict[str, object]) -> list[dict]:
    rows = []
    for session, step, minute in STORY:
        step_names = names.get(step, step)
        for name in step_names if isinstance(step_names, list) else [step_names]:
            rows.append(
                {
                    "event_type": "standard",
                    "event_name": name,
                    "event_timestamp": f"2026-01-01T10:{minute:02d}:00Z",
                    "shop": shop,
                    "page_url": f"https://{shop}.example/{step}",
                    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
                    "session_id": f"{shop}-{session}",
                    "device_type": "mobile",
                    "utm_source": None,
                    "utm_medium": None,
                    "geography": "US",
                }
            )
    return rows


def _events(path: Path, rows: list[dict]) -> Path:
    schema = pa.schema([(column, pa.string()) for column in rows[0]])
    return write_events(path, pa.Table.from_pylist(rows, schema=schema))


@pytest.fixture(scope="module")
def trackers_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("trackers")
    rows = [row for shop, names in TRACKER_NAMES.items() for row in _rows(shop, names)]
    events = _events(root / "events.parquet", rows)
    return pipeline.build(events, root / "funnel.duckdb", quiet=True)


def test_each_trackers_names_count_as_counted_by_hand(trackers_db):
    with duckdb.connect(str(trackers_db.db), read_only=True) as con:
        totals = con.execute(
            "select shop, metric, sum(events)::int from fct_hourly_metrics "
            "where dimension = 'total' group by all"
        ).fetchall()
    counted: dict[str, dict[str, int]] = {}
    for shop, metric, events in totals:
        counted.setdefault(shop, {})[metric] = events
    assert counted == {shop: EXPECTED_TOTALS for shop in TRACKER_NAMES}


def test_a_run_that_counts_most_of_its_events_does_not_warn(trackers_db):
    names = trackers_db.summary["event_names"]
    assert names["too_few_recognized"] is False
    assert names["unmapped_events"] == len(TRACKER_NAMES)  # one Scroll Depth a shop
    assert names["most_frequent_unmapped"] == {"scroll depth": len(TRACKER_NAMES)}
    assert exports.too_few_recognized(trackers_db.summary) is None


def test_a_run_of_unknown_names_warns_and_strict_publishes_nothing(tmp_path):
    # A tracker the seed does not know: only the landing of each session maps.
    unknown = {"page": "Screen Viewed", "product": "Item Looked At", "cart": "Basket Add"}
    unknown |= {"checkout": "Pay Start", "order": "Pay Done", "landing": ["page_viewed"]}
    events = _events(tmp_path / "events.parquet", _rows("other-shop", unknown))
    db, out = tmp_path / "funnel.duckdb", tmp_path / "out"
    built = subprocess.run(
        [COMMAND, "build", "--events", str(events), "--db", str(db), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    warning = built.stderr.strip().splitlines()[-1]  # the last word of the run
    assert warning.startswith("warning: only 3 of 11 events (27%)"), warning
    assert "'item looked at' (3)" in warning and str(exports.EVENT_NAME_SEED) in warning
    summary = json.loads((out / exports.RUN_SUMMARY).read_text())
    assert summary["event_names"]["too_few_recognized"] is True
    published = db.resolve()

    with pytest.raises(PipelineError, match=r"--strict: only 3 of 11 events"):
        pipeline.build(events, db, out, quiet=True, strict=True)
    assert db.resolve() == published
    assert json.loads((out / exports.RUN_SUMMARY).read_text()) == summary
