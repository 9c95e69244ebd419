"""`make bench`, a whole build against the plain way: the founding document's script fits
a default Prophet (99% band from 1,000 samples) to every series, total and dimension value
alike, one after another. The plain way is given the hourly series for free (only its
fits are timed), which favours it. Where its series are many, a seeded random sample of
them is timed and the mean cost per series multiplied by their number; the table says
which rows are measured whole and which are estimated."""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from funnel_anomalies import bench_forecasts, warehouse
from funnel_anomalies.bench_root_causes import cli_build_command

SAMPLE_SEED = 5


@dataclass(frozen=True)
class PlainComparison:
    data: str
    build_seconds: float
    series: int
    timed_series: int
    plain_seconds: float  # measured when every series was timed, else estimated

    @property
    def speed_up(self) -> float:
        return self.plain_seconds / self.build_seconds


def named_counts(series: warehouse.MetricSeries) -> list[tuple[str, str, np.ndarray]]:
    """(dimension, value, counts) of a metric's total and of each of its values: the
    series the plain way fits one by one."""
    named = [("total", "all", series.total)]
    for dimension, (values, counts) in series.dimensions.items():
        named += [(dimension, value, row) for value, row in zip(values, counts, strict=True)]
    return named


def _every_series(db: Path) -> list[tuple]:
    """(hours, counts) of every series of a built database, totals and values alike."""
    with duckdb.connect(str(db), read_only=True) as con:
        return [
            (series.hours, counts)
            for series in warehouse.read_series(con)
            for _, _, counts in named_counts(series)
        ]


def compare(data: str, events: Path, sampled_series: int | None) -> PlainComparison:
    """A whole CLI build of `events` from an empty cache, then the plain way's fits on its
    series: all of them, or `sampled_series` of them drawn at random."""
    import prophet  # noqa: F401  (imported once, as the plain script would)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        subprocess.run(cli_build_command(events, folder), check=True, capture_output=True)
        build_seconds = time.perf_counter() - started
        every = _every_series(folder / "funnel.duckdb")
    timed = every
    if sampled_series is not None and sampled_series < len(every):
        timed = random.Random(SAMPLE_SEED).sample(every, sampled_series)
    started = time.perf_counter()
    for hours, counts in timed:
        bench_forecasts.plain_forecast(hours, counts)
    seconds = time.perf_counter() - started
    return PlainComparison(
        data, build_seconds, len(every), len(timed), seconds * len(every) / len(timed)
    )


def format_table(rows: list[PlainComparison]) -> str:
    lines = [
        "| data | whole build (s) | series | plain way (s) | how the plain way was timed "
        "| build faster by |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        how = (
            "every series"
            if row.timed_series == row.series
            else f"estimated from {row.timed_series} random series"
        )
        lines.append(
            f"| {row.data} | {row.build_seconds:.1f} | {row.series:,} | {row.plain_seconds:.0f} "
            f"| {how} | {row.speed_up:.1f}x |"
        )
    return "\n".join(lines)
