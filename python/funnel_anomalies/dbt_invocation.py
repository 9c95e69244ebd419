"""Run dbt against one DuckDB file, as a child process so the file is closed when it ends."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from funnel_anomalies.errors import PipelineError
from funnel_anomalies.project import DBT_PROJECT_DIR, PROFILES_DIR

PARTIAL_PARSE = "partial_parse.msgpack"
# dbt's parse of the project, kept between builds (of any database) to seed each build's
# own target folder: parsing from nothing costs seconds per invocation, and dbt checks the
# seed against the project, the profile and the vars before it trusts it.
SHARED_PARSE = DBT_PROJECT_DIR / "target" / PARTIAL_PARSE


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the project's virtual environment)."""
    return str(Path(sys.executable).with_name("dbt"))


# Starts dbt so that it ends when the process that started it ends (Linux's
# PR_SET_PDEATHSIG): a build killed at any instant leaves no dbt behind writing on.
ENDS_WITH_PARENT = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(143)
os.execv(sys.argv[2], sys.argv[2:])
"""


@dataclass(frozen=True)
class DbtFolders:
    """Where one build's dbt writes its compiled project, results and log: a folder of its
    own, so that two builds never read each other's results."""

    target: Path
    logs: Path


def run_dbt(
    arguments: list[str],
    db: Path,
    folders: DbtFolders,
    dbt_vars: dict | None = None,
    quiet: bool = False,
    environment: dict[str, str] | None = None,
) -> Path:
    """Run `dbt <arguments>` on `db` with `environment` added to this process's; return
    the run_results.json path, raise on failure."""
    command = [
        sys.executable,
        "-c",
        ENDS_WITH_PARENT,
        str(os.getpid()),
        dbt_executable(),
        *arguments,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(PROFILES_DIR),
        "--target-path",
        str(folders.target),
        "--log-path",
        str(folders.logs),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    run_results = folders.target / "run_results.json"
    run_results.unlink(missing_ok=True)  # an earlier invocation's results are not this one's
    _seed_parse(folders.target)
    # The database by a name relative to dbt's working folder (see profiles.yml).
    environment = {
        **os.environ,
        **(environment or {}),
        "FUNNEL_DB": db.name,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    completed = subprocess.run(
        command,
        env=environment,
        cwd=db.parent,
        capture_output=quiet,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        log = folders.logs / "dbt.log"
        raise PipelineError(
            f"dbt {arguments[0]} failed (exit {completed.returncode}): "
            + (failed_nodes(run_results) or "see the dbt output above")
            + f"; dbt's log: {log}"
        )
    _keep_parse(folders.target)
    return run_results


def _seed_parse(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if SHARED_PARSE.exists() and not (target / PARTIAL_PARSE).exists():
        with contextlib.suppress(OSError):  # a cache: without it dbt parses from scratch
            shutil.copyfile(SHARED_PARSE, target / PARTIAL_PARSE)


def _keep_parse(target: Path) -> None:
    parsed = target / PARTIAL_PARSE
    if not parsed.exists():
        return
    staged = SHARED_PARSE.with_name(f"{PARTIAL_PARSE}.{os.getpid()}")
    try:
        SHARED_PARSE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(parsed, staged)
        os.replace(staged, SHARED_PARSE)  # readers see the old or the new file, whole
    except OSError:
        staged.unlink(missing_ok=True)


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
