"""`make bench`, root causes in the pipeline: whole builds of generated data whose incidents
are combinations of values and a dominant segment, scored against their labels; and what
the leaves, their expectations, the session attribution and the localizer add to a build,
against the build of the commit before them, on the same data in the same run."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from funnel_anomalies import evaluation, sample_data
from funnel_anomalies.bench_forecasts import build_from_cold
from funnel_anomalies.project import ROOT

# Data sets with combination incidents: the default shops (its largest social-first and
# mostly US) and a larger, shorter one of another seed; neither was looked at while the
# localizer's pipeline rules were written except the first.
COMBINATION_SPECS = {
    "combinations, seed 41 (3 shops, 8 weeks)": sample_data.combinations_spec(),
    "combinations, seed 43 (4 shops, 6 weeks)": sample_data.combinations_spec(
        shops=4, days=42, seed=43
    ),
}
# The last commit before issue 20's leaves: "today's" build the leaves are measured against.
BASELINE_COMMIT = "d9f96cb"
BUILD_TURNS = 2


def detection_rows(generated) -> list[str]:
    """One evaluation row per combination data set (generated(name, spec) -> events)."""
    rows = []
    for index, (name, spec) in enumerate(COMBINATION_SPECS.items()):
        events = generated(f"events_combinations_{spec.seed}", spec)
        db = events.parent / f"root_causes_{index}.duckdb"
        build_from_cold(events, db)
        labels = evaluation.load_labels(sample_data.labels_path_for(events))
        with duckdb.connect(str(db), read_only=True) as con:
            rows.append(evaluation.format_detection(name, evaluation.detection_scores(con, labels)))
    return rows


def cli_build_command(events: Path, folder: Path) -> list[str]:
    """`funnel-anomalies build` of `events` into `folder`, as a fresh process runs it."""
    return [
        sys.executable,
        "-m",
        "funnel_anomalies.cli",
        "build",
        "--events",
        str(events),
        "--db",
        str(folder / "funnel.duckdb"),
        "--out",
        str(folder / "output"),
    ]


def _timed_build(python_path: Path | None, events: Path, folder: Path) -> float:
    """Wall time of a whole `funnel-anomalies build` in a fresh process with an empty
    forecast cache, from the package under `python_path` (None: this checkout's)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    environment = dict(os.environ)
    if python_path is not None:
        environment["PYTHONPATH"] = str(python_path)
    command = [*cli_build_command(events, folder), "--workers", "1"]
    started = time.perf_counter()
    subprocess.run(command, env=environment, cwd=folder, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def build_time_table(events: Path) -> str:
    """Builds of the default sample by the baseline commit and by this checkout, taking
    turns, each from an empty forecast cache; their medians and the ratio."""
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / "baseline"
        added = subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline), BASELINE_COMMIT],
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode != 0:
            return f"(no baseline build: git worktree of {BASELINE_COMMIT} failed: {added.stderr})"
        try:
            times: dict[str, list[float]] = {"baseline": [], "with leaves": []}
            for _ in range(BUILD_TURNS):
                times["baseline"].append(
                    _timed_build(baseline / "python", events, Path(scratch) / "b")
                )
                times["with leaves"].append(_timed_build(None, events, Path(scratch) / "n"))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)],
                capture_output=True,
                check=False,
            )
    before = statistics.median(times["baseline"])
    after = statistics.median(times["with leaves"])
    return "\n".join(
        [
            "| build | runs (s) | median (s) |",
            "|---|---|---|",
            f"| {BASELINE_COMMIT} (before the leaves) | "
            f"{', '.join(f'{t:.1f}' for t in times['baseline'])} | {before:.1f} |",
            "| this checkout (leaves, their expectations, session attribution, localizer) | "
            f"{', '.join(f'{t:.1f}' for t in times['with leaves'])} | {after:.1f} |",
            f"| ratio | | {after / before:.2f} |",
        ]
    )
