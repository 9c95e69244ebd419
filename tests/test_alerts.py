"""Alerts: each new or grown group posted once to a webhook (a local HTTP server here),
across runs; filters; a dry run that prints and records nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from funnel_anomalies import alerts

COMMAND = str(Path(sys.executable).with_name("funnel-anomalies"))


@pytest.fixture
def webhook():
    """A local server that keeps every JSON body posted to it; (url, bodies)."""
    bodies: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the standard library's name)
            length = int(self.headers["Content-Length"])
            bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", bodies
    server.shutdown()


@pytest.fixture
def db(built_db, tmp_path):
    """A copy of the built database, with its own alert state."""
    copy = tmp_path / "funnel.duckdb"
    shutil.copyfile(built_db.resolve(), copy)
    return copy


def _group_ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute("select group_id from fct_anomaly_groups").fetchall()]


def test_each_group_is_posted_once_and_again_only_when_it_grows(db, webhook):
    url, bodies = webhook
    groups = _group_ids(db)
    assert groups  # the small sample has incidents
    posted = alerts.send(db, url, alerts.AlertFilters())
    assert sorted(body["group"]["group_id"] for body in bodies) == sorted(groups)
    assert len(posted) == len(groups)
    assert all(body["text"].startswith("Anomaly in ") for body in bodies)
    assert alerts.send(db, url, alerts.AlertFilters()) == []
    assert len(bodies) == len(groups)

    grown = groups[0]
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update fct_anomaly_groups set n_hours = n_hours + 1 where group_id = ?", [grown]
        )
    alerts.send(db, url, alerts.AlertFilters())
    assert [body["group"]["group_id"] for body in bodies[len(groups) :]] == [grown]
    assert bodies[-1]["text"].startswith("Anomaly grew in ")


def test_impacts_are_in_events_and_orders(db, webhook):
    url, bodies = webhook
    alerts.send(db, url, alerts.AlertFilters())
    with duckdb.connect(str(db), read_only=True) as con:
        expected = dict(
            con.execute(
                """
                select members.group_id, round(sum(hours.actual - hours.expected), 1)
                from fct_anomaly_group_members as members
                join fct_anomaly_hours as hours using (shop, hour_at, metric)
                where metric = 'checkout_completed'
                group by all
                """
            ).fetchall()
        )
    orders = {body["group"]["group_id"]: body["group"]["orders"] for body in bodies}
    assert {group: value for group, value in orders.items() if value is not None} == expected
    for body in bodies:
        group = body["group"]
        assert set(group["impacts"]) == set(group["metrics"])
        assert all(
            (impact < 0) == (group["direction"] == "negative")
            for impact in group["impacts"].values()
        )


def test_filters_choose_what_is_posted(db):
    every = alerts.pending(db, alerts.AlertFilters())
    for direction in ("positive", "negative"):
        chosen = alerts.pending(db, alerts.AlertFilters(direction=direction))
        assert chosen == [alert for alert in every if alert.group.direction == direction]
    shop = every[0].group.shop
    assert {a.group.shop for a in alerts.pending(db, alerts.AlertFilters(shops=(shop,)))} == {shop}
    carts = alerts.pending(db, alerts.AlertFilters(metrics=("add_to_cart",)))
    assert all("add_to_cart" in alert.group.metrics for alert in carts)
    assert alerts.pending(db, alerts.AlertFilters(min_impact=1e12)) == []


def test_a_dry_run_prints_and_records_nothing(db):
    printed = subprocess.run(
        [COMMAND, "alert", "--db", str(db), "--dry-run"], capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in printed.stdout.splitlines()]
    assert sorted(line["group"]["group_id"] for line in lines) == sorted(_group_ids(db))
    assert not alerts.state_path(db).exists()


def test_two_builds_of_the_same_events_post_each_group_once(small_events, tmp_path, webhook):
    url, bodies = webhook
    db, out = tmp_path / "funnel.duckdb", tmp_path / "out"
    build = [COMMAND, "build", "--events", str(small_events), "--db", str(db), "--out", str(out)]
    for _ in range(2):
        done = subprocess.run([*build, "--alert-webhook", url], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert sorted(body["group"]["group_id"] for body in bodies) == sorted(_group_ids(db))


def test_an_unreachable_webhook_is_an_error_and_nothing_is_recorded(db):
    with pytest.raises(alerts.PipelineError, match="alert webhook http://127.0.0.1:9/"):
        alerts.send(db, "http://127.0.0.1:9/", alerts.AlertFilters())
    with duckdb.connect(str(alerts.state_path(db)), read_only=True) as con:
        assert con.execute("select count(*) from alerts_sent").fetchone()[0] == 0
