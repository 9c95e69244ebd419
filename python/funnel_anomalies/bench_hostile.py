"""`make bench`, hostile input: what a whole build costs when the input is crafted to blow it
up, against the same week without the craft.

- 100,000 distinct utm_source values: a landing each, as anyone who can craft links could
  send (the long tail folds into one value, so series stay bounded);
- one event dated 2099-12-31 (set aside, so the zero-filled hours do not span 73 years).

Each build runs as `funnel-anomalies build` in a process of its own; its memory is the
peak of the summed resident memory of that process and every process it starts (dbt, the
forecasting workers), sampled every 0.1 s from /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from funnel_anomalies import sample_data

WEEK_EVENTS = 100_000
CRAFTED_VALUES = 100_000
SECONDS_TARGET = 60.0
MEMORY_TARGET_GB = 2.0
SAMPLE_SECONDS = 0.1


@dataclass(frozen=True)
class HostileFigures:
    case: str
    events: int
    seconds: float
    peak_gb: float
    series: int
    hours: int

    @property
    def met(self) -> bool:
        return self.seconds <= SECONDS_TARGET and self.peak_gb <= MEMORY_TARGET_GB


def _week() -> pa.Table:
    return sample_data.generate_events(
        sample_data.default_spec(shops=2, days=7, events=WEEK_EVENTS, seed=17)
    )


def _crafted_utm_sources(week: pa.Table) -> pa.Table:
    """CRAFTED_VALUES landings of the first shop, each a new session with its own source."""
    first = week.filter(pc.equal(week["shop"], week["shop"][0]))
    landings = first.filter(pc.equal(first["event_name"], first["event_name"][0]))
    picks = pa.array([i % landings.num_rows for i in range(CRAFTED_VALUES)])
    crafted = landings.take(picks)
    for name, prefix in (("utm_source", "crafted-source-"), ("session_id", "crafted-session-")):
        values = pa.array([f"{prefix}{i}" for i in range(CRAFTED_VALUES)])
        crafted = crafted.set_column(crafted.schema.get_field_index(name), name, values)
    return pa.concat_tables([week, crafted])


def _stray_2099_event(week: pa.Table) -> pa.Table:
    stray = week.slice(0, 1)
    stray_at = pa.array([datetime(2099, 12, 31, 23, 59, tzinfo=UTC)], week["event_timestamp"].type)
    stray = stray.set_column(
        stray.schema.get_field_index("event_timestamp"), "event_timestamp", stray_at
    )
    return pa.concat_tables([week, stray])


def hostile_inputs(folder: Path) -> dict[str, Path]:
    """The three inputs, written once into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    week = _week()
    tables = {
        "a week, as generated": week,
        f"+ {CRAFTED_VALUES:,} distinct utm_source values": _crafted_utm_sources(week),
        "+ one event dated 2099-12-31": _stray_2099_event(week),
    }
    paths = {}
    for index, (case, table) in enumerate(tables.items()):
        path = folder / f"hostile_{index}.parquet"
        if not path.exists():
            pq.write_table(table, path)
        paths[case] = path
    return paths


def _tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of `root_pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as statm:
                rss[int(entry)] = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure_build(case: str, events: Path, folder: Path) -> HostileFigures:
    command = Path(sys.executable).with_name("funnel-anomalies")
    db = folder / case.replace(" ", "_").replace(",", "") / "funnel.duckdb"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(command),
            "build",
            "--events",
            str(events),
            "--db",
            str(db),
            "--out",
            str(db.parent / "out"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_bytes(process.pid))
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    _, error = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{case}: the build failed: {error}")
    rows = duckdb.execute(
        "select sum(num_rows) from parquet_file_metadata(?)", [str(events)]
    ).fetchone()[0]
    with duckdb.connect(str(db), read_only=True) as con:
        series, hours = con.execute(
            "select count(distinct (shop, metric, dimension, dimension_value)), "
            "count(distinct hour_at) from fct_hourly_metrics"
        ).fetchone()
    return HostileFigures(case, rows, seconds, peak / 1024**3, series, hours)


def bench_hostile(folder: Path) -> list[HostileFigures]:
    return [
        measure_build(case, path, folder / "hostile_builds")
        for case, path in hostile_inputs(folder).items()
    ]


def format_hostile_table(figures: list[HostileFigures]) -> str:
    lines = [
        "| input | events | build (s) | peak memory, all processes (GB) | series | hours "
        f"| target ≤ {SECONDS_TARGET:g} s and ≤ {MEMORY_TARGET_GB:g} GB |",
        "|" + "---|" * 7,
    ]
    for figure in figures:
        lines.append(
            f"| {figure.case} | {figure.events:,} | {figure.seconds:.1f} | {figure.peak_gb:.2f} "
            f"| {figure.series:,} | {figure.hours:,} | {'met' if figure.met else 'missed'} |"
        )
    return "\n".join(lines)
