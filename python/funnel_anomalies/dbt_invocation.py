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
    if completed.returncode != 0:
        detail = f"\n{completed.stdout[-4000:]}" if quiet else ""
        raise PipelineError(
            f"dbt {' '.join(arguments)} failed (exit {completed.returncode}){detail}"
        )
    return DBT_PROJECT_DIR / "target" / "run_results.json"
