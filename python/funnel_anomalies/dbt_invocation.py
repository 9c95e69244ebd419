"""Run dbt against one DuckDB file, as a child process so the file is closed when it ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from funnel_anomalies.errors import PipelineError
from funnel_anomalies.project import DBT_PROJECT_DIR, PROFILES_DIR


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the project's virtual environment)."""
    return str(Path(sys.executable).with_name("dbt"))


def run_dbt(
    arguments: list[str],
    db: Path,
    dbt_vars: dict | None = None,
    quiet: bool = False,
) -> Path:
    """Run `dbt <arguments>` on `db`; return the run_results.json path, raise on failure."""
    command = [
        dbt_executable(),
        *arguments,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(PROFILES_DIR),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    environment = {**os.environ, "FUNNEL_DB": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    completed = subprocess.run(
        command,
        env=environment,
        cwd=DBT_PROJECT_DIR,
        capture_output=quiet,
        text=True,
        check=False,
    )
    run_results = DBT_PROJECT_DIR / "target" / "run_results.json"
    if completed.returncode != 0:
        raise PipelineError(
            f"dbt {arguments[0]} failed (exit {completed.returncode}): "
            + (failed_nodes(run_results) or "see the dbt output above")
        )
    return run_results


def model_seconds(run_results: Path) -> float:
    """Time dbt spent executing the models of its last invocation: their SQL and its own
    bookkeeping for each (start-up and parsing excluded)."""
    results = json.loads(run_results.read_text())["results"]
    return sum(r["execution_time"] for r in results if r["unique_id"].startswith("model."))


def _node_name(unique_id: str) -> str:
    # model.<project>.<name>, test.<project>.<name>[.<hash>], unit_test.<project>.<model>.<name>
    parts = unique_id.split(".")
    return parts[-1] if parts[0] == "unit_test" else parts[2]


def failed_nodes(run_results: Path) -> str:
    """The nodes that errored or failed in the last dbt invocation, with dbt's message."""
    if not run_results.exists():
        return ""
    results = json.loads(run_results.read_text())["results"]
    return "; ".join(
        f"{_node_name(result['unique_id'])} ({result['status']}: "
        f"{(result.get('message') or '').strip()})"
        for result in results
        if result["status"] in ("error", "fail", "runtime error")
    )
