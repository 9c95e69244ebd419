"""`make bench`, many shops: whole builds (as `make build` runs them, from an empty fit
cache) of generated populations of shops, a few large and many small, with the wall time,
the largest process's peak memory and the cost per shop; and the sizes and load times of
each build's chart."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from funnel_anomalies import bench_chart, sample_data
from funnel_anomalies.bench_root_causes import cli_build_command

DAYS = 28
EVENTS_PER_SHOP = 20_000
SEED = 61


@dataclass(frozen=True)
class ShopsBuild:
    shops: int
    events: int
    seconds: float
    peak_rss_gb: float
    chart: bench_chart.ChartFigures


def population_spec(shops: int) -> sample_data.SampleSpec:
    return sample_data.default_spec(
        shops=shops, days=DAYS, events=EVENTS_PER_SHOP * shops, seed=SEED
    )


def timed_build(events: Path) -> tuple[float, float, bench_chart.ChartFigures]:
    """Seconds and peak memory (GB) of one build in a process of its own (the largest of
    that process and the ones it waited for: dbt, the fitting workers), and its chart."""
    with tempfile.TemporaryDirectory() as scratch:
        command = cli_build_command(events, Path(scratch))
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"build of {events} failed: {process.stderr.read().decode()}")
        process.stderr.close()
        chart = bench_chart.measure(Path(scratch) / "output")
    return seconds, usage.ru_maxrss / 1024**2, chart


def bench_shops(
    counts: list[int], generated: Callable[[str, sample_data.SampleSpec], Path]
) -> list[ShopsBuild]:
    builds = []
    for shops in counts:
        events = generated(f"events_{shops}_shops_population", population_spec(shops))
        rows = pq.read_metadata(events).num_rows
        seconds, peak, chart = timed_build(events)
        builds.append(ShopsBuild(shops, rows, seconds, peak, chart))
    return builds


def format_shops_table(builds: list[ShopsBuild]) -> str:
    first = builds[0]
    lines = [
        "| shops | events | build (s) | s per shop | per shop against the first row "
        "| peak memory of one process (GB) |",
        "|---|---|---|---|---|---|",
    ]
    for build in builds:
        per_shop = build.seconds / build.shops
        lines.append(
            f"| {build.shops:,} | {build.events:,} | {build.seconds:.1f} | {per_shop:.3f} "
            f"| {per_shop / (first.seconds / first.shops):.2f} | {build.peak_rss_gb:.2f} |"
        )
    lines += ["", "Their charts", bench_chart.TABLE_HEAD]
    lines += [bench_chart.format_row(build.chart) for build in builds]
    return "\n".join(lines)
