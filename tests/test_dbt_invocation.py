"""When a dbt invocation ends, passed or failed, the database is free for the next step."""

from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb
import pytest

from funnel_anomalies.dbt_invocation import DbtFolders, run_dbt
from funnel_anomalies.errors import PipelineError


def _another_process_writes(db) -> subprocess.CompletedProcess:
    writer = f"import duckdb; duckdb.connect({str(db)!r}).execute('create table probe as select 1')"
    return subprocess.run([sys.executable, "-c", writer], capture_output=True, text=True)


def test_an_invocation_lets_go_of_the_database(tmp_path, built_db):
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(built_db, db)
    folders = DbtFolders(tmp_path / "target", tmp_path / "logs")
    run_dbt(["run", "--select", "fct_anomaly_groups"], db, folders, quiet=True)
    written = _another_process_writes(db)
    assert written.returncode == 0, written.stderr


def test_a_failed_invocation_names_the_node_and_lets_go_of_the_database(tmp_path, built_db):
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(built_db, db)
    folders = DbtFolders(tmp_path / "target", tmp_path / "logs")
    with duckdb.connect(str(db)) as con:
        con.execute("drop table fct_anomaly_hours")  # the model's input is gone
    with pytest.raises(PipelineError, match="fct_anomaly_groups"):
        run_dbt(["run", "--select", "fct_anomaly_groups"], db, folders, quiet=True)
    written = _another_process_writes(db)
    assert written.returncode == 0, written.stderr
