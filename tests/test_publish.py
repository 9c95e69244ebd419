"""Publishing as a set: a run killed at any step leaves the old set or the new set, never a
mix; the next run cleans up after it; one build per database at a time; a writer that
appears during a build is named; a database published before releases existed is adopted
with its bytes intact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import duckdb
import pytest

from database_writer import holding_for_writing
from events_factory import event_rows, write_events
from funnel_anomalies import exports, pipeline, releases
from funnel_anomalies.errors import PipelineError

COMMAND = str(Path(sys.executable).with_name("funnel-anomalies"))


def cli_build(events: Path, db: Path, out: Path, **environment) -> subprocess.Popen:
    return subprocess.Popen(
        [COMMAND, "build", "--events", str(events), "--db", str(db), "--out", str(out)],
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def published_set(db: Path, out: Path) -> tuple[Path, dict[str, bytes]]:
    """The one release every published path resolves to, and their bytes. Fails if the
    database and OUT's files resolve to different releases."""
    paths = {"DB": db, **{name: out / name for name in exports.FILE_NAMES}}
    folders = {
        name: Path(os.path.realpath(path)).parent.parent
        if name != "DB"
        else Path(os.path.realpath(path)).parent
        for name, path in paths.items()
    }
    assert len(set(folders.values())) == 1, folders
    return folders["DB"], {name: published_bytes(path) for name, path in paths.items()}


def published_bytes(path: Path) -> bytes | dict[str, bytes]:
    """A file's bytes; a folder's (the chart's pages) file by file."""
    if path.is_dir():
        return {child.name: child.read_bytes() for child in sorted(path.iterdir())}
    return path.read_bytes()


def assert_complete_release(release: Path, db: Path) -> None:
    """Everything of the release is there and belongs to the run that made it."""
    with duckdb.connect(str(db), read_only=True) as con:
        run_id = con.execute("select run_id from run_context").fetchone()[0]
    assert release.name == run_id
    summary = json.loads((release / "out" / exports.RUN_SUMMARY).read_text())
    assert summary["run_id"] == run_id
    assert json.loads((release / "run.json").read_text())["run_id"] == run_id


@pytest.fixture
def first_release(tmp_path):
    events = write_events(tmp_path / "events.parquet", event_rows(20))
    db, out = tmp_path / "wh" / "funnel.duckdb", tmp_path / "out"
    pipeline.build(events, db, out, quiet=True)
    return events, db, out, published_set(db, out)


PUBLISH_ONLY = """
import shutil, sys
from pathlib import Path
import duckdb
from funnel_anomalies import exports, releases
db, out, source, run_id = (Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
store = releases.store_for(db)
run = releases.Run(run_id, store.runs / run_id)
shutil.copytree(source, run.release)
with duckdb.connect(str(run.release / releases.DATABASE_NAME)) as con:
    con.execute("update run_context set run_id = ?", [run_id])
summary = run.release_out / exports.RUN_SUMMARY
summary.write_text(summary.read_text().replace(source.name, run_id))
releases.publish(store, run, out, exports.FILE_NAMES)
"""


def publish_a_copy(db: Path, out: Path, run_id: str, step: str) -> subprocess.CompletedProcess:
    """Publish a copy of the current release as run `run_id`, in a process that kills
    itself right after `step`: the publish steps alone, without a build before them."""
    source = Path(os.path.realpath(db)).parent
    return subprocess.run(
        [sys.executable, "-c", PUBLISH_ONLY, str(db), str(out), str(source), run_id],
        env={**os.environ, releases.KILL_AT_ENVIRONMENT: step},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_publish_killed_after_any_step_leaves_one_whole_set(first_release):
    events, db, out, before = first_release
    store = releases.store_for(db)
    for number, step in enumerate(releases.PUBLISH_STEPS):
        killed = publish_a_copy(db, out, f"20990101T000000000000Z-{number}", step)
        assert killed.returncode == -signal.SIGKILL, (step, killed.stderr)
        after = published_set(db, out)
        if releases.PUBLISH_STEPS.index(step) < releases.PUBLISH_STEPS.index("switched"):
            assert after == before, step
        else:
            assert after[0] != before[0], step
            assert_complete_release(after[0], db)
        before = after
    # The next run publishes, and removes what the killed ones left behind.
    pipeline.build(events, db, out, quiet=True)
    newest, _ = published_set(db, out)
    assert_complete_release(newest, db)
    assert list(store.runs.iterdir()) == []
    assert len(list(store.releases.iterdir())) == 2


@pytest.mark.parametrize("step", releases.BUILD_STEPS)
def test_a_build_killed_midway_leaves_the_old_set_and_no_stray_files(first_release, tmp_path, step):
    events, db, out, before = first_release
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    killed = cli_build(
        events, db, out, TMPDIR=str(system_tmp), **{releases.KILL_AT_ENVIRONMENT: step}
    )
    killed.wait(timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert published_set(db, out) == before
    # What the run wrote for itself (dbt's, DuckDB's, cmdstanpy's, multiprocessing's
    # temporary files) was inside its own folder, not in the system's.
    assert list(system_tmp.iterdir()) == []


def test_two_builds_of_one_database_one_waits_its_turn_with_a_clear_message(first_release):
    events, db, out, _ = first_release
    store = releases.store_for(db)
    first = cli_build(events, db, out)
    deadline = time.monotonic() + 60
    while f"pid {first.pid}" not in store.lock_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = cli_build(events, db, out)
    _, second_error = second.communicate(timeout=120)
    _, first_error = first.communicate(timeout=300)
    assert first.returncode == 0, first_error
    assert second.returncode == 1
    (line,) = second_error.splitlines()
    assert line.startswith(f"error: DB {db}: another build of it is running (pid {first.pid} ")
    assert line.endswith("wait for it to finish")


def test_builds_of_two_databases_run_side_by_side(tmp_path):
    events = write_events(tmp_path / "events.parquet", event_rows(20))
    builds = [
        cli_build(events, tmp_path / name / "funnel.duckdb", tmp_path / name / "out")
        for name in ("one", "two")
    ]
    for build in builds:
        _, error = build.communicate(timeout=300)
        assert build.returncode == 0, error
    for name in ("one", "two"):
        release, _ = published_set(tmp_path / name / "funnel.duckdb", tmp_path / name / "out")
        assert_complete_release(release, tmp_path / name / "funnel.duckdb")


def test_a_writer_that_opens_the_database_during_the_build_is_named(first_release, monkeypatch):
    events, db, out, (old_release, old_bytes) = first_release
    with ExitStack() as writers:

        def open_a_writer(step: str) -> None:
            if step == "staged":
                writers.enter_context(holding_for_writing(db))

        monkeypatch.setattr(releases, "kill_point", open_a_writer)
        with pytest.raises(PipelineError, match=r"was opened for writing by PID \d+"):
            pipeline.build(events, db, out, quiet=True)
    assert published_set(db, out) == (old_release, old_bytes)
    store = releases.store_for(db)
    assert sorted(store.releases.iterdir()) == [old_release]


def test_a_database_published_before_releases_is_adopted_byte_for_byte(first_release):
    events, db, out, _ = first_release
    store = releases.store_for(db)
    # The layout of earlier versions: DB and OUT's files are plain files, and the chart was
    # one file (no folder of pages).
    legacy_names = [name for name in exports.FILE_NAMES if name != exports.CHART_FOLDER]
    (out / exports.CHART_FOLDER).unlink()
    legacy = {"DB": db.read_bytes(), **{n: (out / n).read_bytes() for n in legacy_names}}
    for path in [db, *(out / name for name in legacy_names)]:
        content = path.read_bytes()
        path.unlink()
        path.write_bytes(content)
    shutil.rmtree(store.root)
    pipeline.build(events, db, out, quiet=True)
    assert db.is_symlink() and all((out / n).is_symlink() for n in exports.FILE_NAMES)
    newest, _ = published_set(db, out)
    assert_complete_release(newest, db)
    kept = store.releases / "legacy"
    assert (kept / releases.DATABASE_NAME).read_bytes() == legacy["DB"]
    assert all((kept / "out" / n).read_bytes() == legacy[n] for n in legacy_names)
