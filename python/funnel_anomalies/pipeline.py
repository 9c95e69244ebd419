"""The whole run: check the input, build a scratch database, publish it only if all passed.

Readers (and the previous run's outputs) never see a half-built database: dbt writes into
`<db>.building`, and only a run whose every step succeeded renames it over `<db>` and
then replaces the files in OUT, each by a rename.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from funnel_anomalies import events_input, exports
from funnel_anomalies.dbt_invocation import run_dbt


def scratch_path(db: Path) -> Path:
    return db.with_name(db.name + ".building")


def _remove_database(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _publish(scratch: Path, db: Path) -> None:
    # Fold any write-ahead log into the file first, so the rename moves a complete database.
    with duckdb.connect(str(scratch)) as con:
        con.execute("checkpoint")
    scratch.replace(db)
    db.with_name(db.name + ".wal").unlink(missing_ok=True)


def build(events: str | Path, db: Path, out: Path | None = None, quiet: bool = False) -> Path:
    """Build every model and test from `events` into `db`, then replace OUT's files."""
    event_files = events_input.validate(events)
    db = db.resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    scratch = scratch_path(db)
    _remove_database(scratch)
    staged: list = []
    try:
        run_dbt(["build"], scratch, {"events": event_files.pattern}, quiet=quiet)
        if out is not None:
            files = exports.render(scratch, [str(file) for file in event_files.files])
            staged = exports.stage(out, files)
        _publish(scratch, db)
        exports.publish(staged)
    finally:
        exports.discard(staged)
        _remove_database(scratch)
    return db
