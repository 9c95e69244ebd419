"""The dbt unit tests (each model's subtle CASE and window logic on hand-made rows), run
once here on a built database rather than in every hourly build."""

from __future__ import annotations

import json
import shutil

from funnel_anomalies.dbt_invocation import DbtFolders, run_dbt


def test_every_dbt_unit_test_passes(tmp_path, built_db):
    db = tmp_path / "unit.duckdb"
    shutil.copyfile(built_db, db)
    folders = DbtFolders(tmp_path / "target", tmp_path / "logs")
    run_results = run_dbt(["test", "--resource-type", "unit_test"], db, folders, quiet=True)
    results = json.loads(run_results.read_text())["results"]
    assert len(results) >= 15
    assert {result["status"] for result in results} == {"pass"}
