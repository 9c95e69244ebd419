"""Alerts: each new or grown anomaly group posted once to a webhook.

A group's id says what it is (shop, direction, first hour: fct_anomaly_groups), so a
group met again in a later run is the same group. What was posted is kept in a state
database beside the published one (`<DB>.alerts.duckdb`, table `alerts_sent`): a group is
posted when it was never posted, or when it has grown since (more hours or more metrics),
and never twice as it was. The body is Slack-compatible (`text`) and carries the group as
JSON (`group`) for anything else that listens.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from funnel_anomalies import warehouse
from funnel_anomalies.errors import PipelineError

STATE_SUFFIX = ".alerts.duckdb"
ORDERS_METRIC = "checkout_completed"
POST_TIMEOUT_SECONDS = 10

# Each group with its impact per metric (warehouse.GROUP_METRIC_IMPACTS).
GROUP_IMPACTS = f"""
    with impacts as ({warehouse.GROUP_METRIC_IMPACTS})
    select
        groups.group_id,
        groups.shop,
        groups.direction,
        strftime(groups.start_at, '%Y-%m-%dT%H:%M:%S') as start_at,
        strftime(groups.end_at, '%Y-%m-%dT%H:%M:%S') as end_at,
        groups.n_hours,
        groups.metrics,
        groups.scenario,
        groups.root_cause,
        map_from_entries(list((impacts.metric, round(impacts.impact, 1)))) as impacts,
    from fct_anomaly_groups as groups
    inner join impacts using (group_id)
    group by all
    order by min(groups.start_at), groups.shop, groups.direction
"""


@dataclass(frozen=True)
class AlertFilters:
    """Which groups to post: of these shops and touching these metrics (empty: all), in
    this direction (None: both), and moving at least `min_impact` events on one metric."""

    shops: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    direction: str | None = None
    min_impact: float = 0.0

    def admits(self, group: Group) -> bool:
        largest = max((abs(impact) for impact in group.impacts.values()), default=0.0)
        return (
            (not self.shops or group.shop in self.shops)
            and (not self.metrics or bool(set(self.metrics) & set(group.metrics)))
            and (self.direction is None or group.direction == self.direction)
            and largest >= self.min_impact
        )


@dataclass(frozen=True)
class Group:
    group_id: str
    shop: str
    direction: str
    start_at: str
    end_at: str
    n_hours: int
    metrics: list[str]
    scenario: str
    root_cause: str
    impacts: dict[str, float] = field(default_factory=dict)  # metric -> events

    @property
    def orders(self) -> float | None:
        """Orders gained or lost: the impact on completed checkouts, where it moved."""
        return self.impacts.get(ORDERS_METRIC)


@dataclass(frozen=True)
class Alert:
    group: Group
    is_growth: bool  # posted before, and grown since

    def text(self) -> str:
        group = self.group
        impacts = ", ".join(
            f"{metric.replace('_', ' ')} {impact:+,.0f}" for metric, impact in group.impacts.items()
        )
        orders = "" if group.orders is None else f" Orders: {group.orders:+,.0f}."
        heading = "Anomaly grew" if self.is_growth else "Anomaly"
        return (
            f"{heading} in {group.shop} ({group.scenario}): {group.root_cause}. "
            f"Events against expected: {impacts}.{orders} [{group.group_id}]"
        )

    def body(self) -> dict:
        return {"text": self.text(), "group": asdict(self.group) | {"orders": self.group.orders}}


def state_path(db: Path) -> Path:
    return db.with_name(db.name + STATE_SUFFIX)


def _groups(db: Path) -> list[Group]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(GROUP_IMPACTS).fetchall()
    return [Group(*fields, dict(sorted(impacts.items()))) for *fields, impacts in rows]


def _state(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute(
        "create table if not exists alerts_sent ("
        "group_id varchar primary key, n_hours integer, metrics varchar[], sent_at timestamp)"
    )
    return con


def pending(db: Path, filters: AlertFilters) -> list[Alert]:
    """The groups of the database at `db` that `filters` admit and that were never posted
    as they are now: new ones, and grown ones (more hours or metrics than when posted)."""
    path = state_path(db)
    sent = {}
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as con:
            sent = {
                group_id: (n_hours, set(metrics))
                for group_id, n_hours, metrics in con.execute(
                    "select group_id, n_hours, metrics from alerts_sent"
                ).fetchall()
            }
    alerts = []
    for group in _groups(db):
        if not filters.admits(group):
            continue
        before = sent.get(group.group_id)
        if before is None:
            alerts.append(Alert(group, is_growth=False))
        elif group.n_hours > before[0] or not set(group.metrics) <= before[1]:
            alerts.append(Alert(group, is_growth=True))
    return alerts


def _post(webhook: str, body: dict) -> None:
    request = urllib.request.Request(
        webhook,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:
            response.read()
    except OSError as error:  # URLError, HTTPError and timeouts are all OSErrors
        raise PipelineError(f"alert webhook {webhook}: {error}") from None


def send(db: Path, webhook: str, filters: AlertFilters) -> list[Alert]:
    """Post every pending alert and record each right after its post succeeded, so a
    failure part way posts the rest on the next call and nothing twice."""
    alerts = pending(db, filters)
    if not alerts:
        return alerts
    with _state(state_path(db)) as con:
        for alert in alerts:
            _post(webhook, alert.body())
            con.execute(
                "insert or replace into alerts_sent values (?, ?, ?, ?)",
                [
                    alert.group.group_id,
                    alert.group.n_hours,
                    alert.group.metrics,
                    datetime.now(UTC).replace(tzinfo=None),
                ],
            )
    return alerts
