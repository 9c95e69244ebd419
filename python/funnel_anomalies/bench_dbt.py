"""`make bench`, dbt's cost: a build's dbt invocation taken apart into what dbt's nodes
execute (models, data tests, seeds, and the forecasting step, a Python model timed apart)
and what dbt costs around them (starting, reading its parse of the project, writing its
artifacts), with the costliest nodes."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from funnel_anomalies import events_input, forecast_step, pipeline
from funnel_anomalies.dbt_invocation import DbtFolders, run_dbt
from funnel_anomalies.forecasting import ForecastSettings

NODES_LISTED = 8
FORECASTING_STEP = "forecasting_step"


@dataclass(frozen=True)
class Invocation:
    half: str
    wall_seconds: float
    node_seconds: dict[str, tuple[int, float]]  # resource type: (nodes, seconds)
    nodes: list[tuple[float, str]]  # seconds, unique id


def _invocation(half: str, wall_seconds: float, run_results: Path) -> Invocation:
    results = json.loads(run_results.read_text())["results"]
    by_type: dict[str, tuple[int, float]] = {}
    for result in results:
        kind = result["unique_id"].split(".")[0]
        if result["unique_id"].endswith(f".{FORECASTING_STEP}"):
            kind = FORECASTING_STEP
        count, seconds = by_type.get(kind, (0, 0.0))
        by_type[kind] = (count + 1, seconds + result["execution_time"])
    nodes = sorted(((r["execution_time"], r["unique_id"]) for r in results), reverse=True)
    return Invocation(half, wall_seconds, by_type, nodes)


def prepare(events: Path, db: Path) -> None:
    """The relations a build's dbt reads from `events`, in `db`."""
    pipeline.prepare_scratch(db, events_input.resolve(events), "bench", datetime.now(UTC))


def hourly_tables(db: Path, folders: DbtFolders) -> Path:
    """The first half of a build on a prepared `db` (what the forecasting step reads);
    dbt's run_results.json."""
    return run_dbt(
        ["build", *pipeline.BEFORE_FORECASTS, *pipeline.WITHOUT_UNIT_TESTS],
        db,
        folders,
        quiet=True,
    )


def dbt_costs(events: Path) -> list[Invocation]:
    """The dbt invocation of a build of `events` from an empty forecast cache, run as the
    pipeline runs it (the scratch file under a run's name, so the shared parse applies)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        db = folder / "building.duckdb"
        folders = DbtFolders(folder / "target", folder / "logs")
        prepare(events, db)
        options = forecast_step.StepOptions(
            ForecastSettings(), str(folder / "cache"), isolated_in=str(folder)
        )
        started = time.perf_counter()
        run_results = run_dbt(
            ["build", *pipeline.WITHOUT_UNIT_TESTS],
            db,
            folders,
            quiet=True,
            environment=options.as_environment(),
        )
        return [_invocation("the build", time.perf_counter() - started, run_results)]


def format_costs_table(name: str, invocations: list[Invocation]) -> str:
    lines = [
        f"| {name}: invocation | wall (s) | models (n, s) | data tests (n, s) | seeds (n, s) "
        "| forecasting step (n, s) | around the nodes (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for invocation in invocations:
        cells = []
        for kind in ("model", "test", "seed", FORECASTING_STEP):
            count, seconds = invocation.node_seconds.get(kind, (0, 0.0))
            cells.append(f"{count}, {seconds:.2f}")
        executed = sum(seconds for _, seconds in invocation.node_seconds.values())
        lines.append(
            f"| {invocation.half} | {invocation.wall_seconds:.2f} | {' | '.join(cells)} "
            f"| {invocation.wall_seconds - executed:.2f} |"
        )
    costliest = sorted(
        (node for invocation in invocations for node in invocation.nodes), reverse=True
    )[:NODES_LISTED]
    lines.append("\n| costliest nodes | s |\n|---|---|")
    lines += [f"| {unique_id} | {seconds:.2f} |" for seconds, unique_id in costliest]
    return "\n".join(lines)
