"""Input that cannot be built: one line naming the file, the column and what is wrong, within
seconds (before any long work), and every output of the last good run byte for byte as it
was. The inputs that look hostile but are valid, and must build, are in test_hostile_input.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from database_writer import holding_for_writing
from events_factory import event_rows, write_events
from funnel_anomalies import exports, pipeline, releases
from funnel_anomalies.errors import InputError, PipelineError

INPUT_ERROR_SECONDS = 5.0


def fingerprint(db: Path, out: Path) -> dict[str, str]:
    """The bytes of the published database and of every file in OUT (a folder's file by
    file), through their links."""
    files = {"DB": db, **{path.name: path for path in sorted(out.iterdir())}}
    for name, path in list(files.items()):
        if path.is_dir():
            del files[name]
            files |= {f"{name}/{page.name}": page for page in sorted(path.iterdir())}
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()}


@pytest.fixture(scope="module")
def published(tmp_path_factory, small_events):
    """A database and OUT folder published by a good run, and the fingerprint of both."""
    root = tmp_path_factory.mktemp("published")
    db, out = root / "warehouse" / "funnel.duckdb", root / "out"
    pipeline.build(small_events, db, out, quiet=True)
    assert sorted(path.name for path in out.iterdir()) == sorted(exports.FILE_NAMES)
    return db, out, fingerprint(db, out)


def assert_refused(published, events, expected: str, error=InputError, db=None, out=None):
    """The build stops fast with one line matching `expected`, and nothing changed."""
    published_db, published_out, before = published
    started = time.perf_counter()
    with pytest.raises(error) as raised:
        pipeline.build(
            events,
            db if db is not None else published_db,
            out if out is not None else published_out,
            quiet=True,
        )
    elapsed = time.perf_counter() - started
    message = str(raised.value)
    assert "\n" not in message, message
    assert expected in message, message
    assert elapsed < INPUT_ERROR_SECONDS, (elapsed, message)
    assert fingerprint(published_db, published_out) == before
    runs = releases.store_for(published_db).runs
    assert not runs.exists() or list(runs.iterdir()) == []


def bad_file(tmp_path: Path, name: str, **columns) -> Path:
    return write_events(tmp_path / name, event_rows(3, **columns))


def without(column: str) -> dict:
    rows = event_rows(3)
    del rows[column]
    return rows


def invalid_utf8(count: int) -> pa.Array:
    raw = pa.array([b"fine"] * (count - 1) + [b"bad \xff\xfe"], pa.binary())
    return pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())


# ---- what names the input ----


def test_a_missing_file(tmp_path, published):
    assert_refused(
        published, tmp_path / "nowhere.parquet", "nowhere.parquet: events file not found"
    )


def test_a_glob_matching_nothing(tmp_path, published):
    assert_refused(published, tmp_path / "none-*.parquet", "none-*.parquet: no Parquet file found")


def test_a_folder_without_parquet_files(tmp_path, published):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("no events here")
    assert_refused(published, tmp_path / "in", "in: no Parquet file found")


def test_a_folder_of_hidden_files_only_says_so(tmp_path, published):
    write_events(tmp_path / "in" / ".upload.parquet", event_rows(3))
    assert_refused(published, tmp_path / "in", "1 hidden file(s) skipped, e.g.")


# ---- the files themselves ----


def test_a_missing_column_is_named(tmp_path, published):
    bad = write_events(tmp_path / "no_session.parquet", without("session_id"))
    assert_refused(published, bad, "no_session.parquet: missing column(s) session_id")


def test_a_bad_file_in_a_folder_is_named(tmp_path, published):
    write_events(tmp_path / "in" / "good.parquet", event_rows(3))
    write_events(tmp_path / "in" / "day2" / "bad.parquet", without("geography"))
    assert_refused(published, tmp_path / "in", "day2/bad.parquet: missing column(s) geography")


def test_an_empty_file(tmp_path, published):
    empty = write_events(tmp_path / "empty.parquet", event_rows(0))
    assert_refused(published, empty, "empty.parquet: the file has no rows")


def test_a_file_that_is_not_parquet(tmp_path, published):
    junk = tmp_path / "junk.parquet"
    junk.write_text("shop,event_name\ns,page_viewed\n")
    assert_refused(published, junk, "junk.parquet: not a readable Parquet file")


def test_a_truncated_file(tmp_path, published):
    whole = write_events(tmp_path / "whole.parquet", event_rows(200))
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert_refused(published, cut, "cut.parquet: not a readable Parquet file")


def test_unparseable_timestamps_are_shown(tmp_path, published):
    timestamps = pa.array(["2026-01-01T10:00:00Z", "yesterday", "31/12/2025 10:00"])
    bad = bad_file(tmp_path, "text_ts.parquet", event_timestamp=timestamps)
    assert_refused(published, bad, "text_ts.parquet: column event_timestamp has 2 row(s)")


def test_null_timestamps(tmp_path, published):
    timestamps = pa.array([None, None, 1], pa.timestamp("ms"))
    bad = bad_file(tmp_path, "null_ts.parquet", event_timestamp=timestamps)
    assert_refused(published, bad, "null_ts.parquet: column event_timestamp has 2 row(s)")


def test_timestamps_as_plain_integers(tmp_path, published):
    bad = bad_file(tmp_path, "epoch.parquet", event_timestamp=pa.array([1, 2, 3], pa.int64()))
    assert_refused(
        published, bad, "epoch.parquet: column event_timestamp has type BIGINT; expected"
    )


def test_timestamps_as_booleans(tmp_path, published):
    bad = bad_file(tmp_path, "bool.parquet", event_timestamp=pa.array([True, False, True]))
    assert_refused(published, bad, "bool.parquet: column event_timestamp has type BOOLEAN")


def test_a_numeric_geography(tmp_path, published):
    bad = bad_file(tmp_path, "geo.parquet", geography=pa.array([1.5, 2.5, 3.5]))
    assert_refused(published, bad, "geo.parquet: column geography has type DOUBLE; expected text")


def test_a_fractional_session_id(tmp_path, published):
    bad = bad_file(tmp_path, "session.parquet", session_id=pa.array([1.5, 2.5, 3.5]))
    assert_refused(published, bad, "session.parquet: column session_id has type DOUBLE")


def test_a_nested_column(tmp_path, published):
    nested = pa.array([{"country": "US"}] * 3)
    bad = bad_file(tmp_path, "nested.parquet", geography=nested)
    assert_refused(published, bad, "nested.parquet: column geography has type STRUCT")


def test_invalid_utf8_in_the_user_agent(tmp_path, published):
    bad = bad_file(tmp_path, "ua.parquet", user_agent=invalid_utf8(3))
    assert_refused(
        published, bad, "ua.parquet: column user_agent holds text that is not valid UTF-8"
    )


def test_invalid_utf8_in_the_geography(tmp_path, published):
    bad = bad_file(tmp_path, "geo8.parquet", geography=invalid_utf8(3))
    assert_refused(published, bad, "geo8.parquet: column geography holds text that is not valid")


def test_invalid_utf8_in_a_text_timestamp(tmp_path, published):
    bad = bad_file(tmp_path, "ts8.parquet", event_timestamp=invalid_utf8(3))
    assert_refused(published, bad, "ts8.parquet: column event_timestamp holds text that is not")


def test_a_missing_shop(tmp_path, published):
    bad = bad_file(tmp_path, "no_shop.parquet", shop=pa.array([None, "s", None], pa.string()))
    assert_refused(published, bad, "no_shop.parquet: column shop has 2 row(s) that are null")


def test_a_blank_shop(tmp_path, published):
    bad = bad_file(tmp_path, "blank_shop.parquet", shop=pa.array(["s", "  ", ""]))
    assert_refused(published, bad, "blank_shop.parquet: column shop has 2 row(s) that are null")


# ---- where the run would publish ----


def test_a_database_path_that_is_a_folder(tmp_path, published, small_events):
    folder = tmp_path / "db_folder"
    folder.mkdir()
    assert_refused(published, small_events, "is a folder", PipelineError, db=folder)


def test_a_database_path_under_a_file(tmp_path, published, small_events):
    (tmp_path / "plain_file").write_text("x")
    db = tmp_path / "plain_file" / "funnel.duckdb"
    assert_refused(published, small_events, "is a file, not a folder", PipelineError, db=db)


def test_a_database_path_that_is_a_foreign_link(tmp_path, published, small_events):
    db = tmp_path / "funnel.duckdb"
    os.symlink(tmp_path / "somewhere-else.duckdb", db)
    assert_refused(published, small_events, "not one this tool made", PipelineError, db=db)


def test_an_out_path_that_is_a_file(tmp_path, published, small_events):
    out = tmp_path / "out_file"
    out.write_text("x")
    assert_refused(published, small_events, "is a file, not a folder", PipelineError, out=out)


def test_a_report_path_that_is_a_folder(tmp_path, published, small_events):
    out = tmp_path / "out"
    (out / exports.CHART).mkdir(parents=True)
    assert_refused(published, small_events, f"{exports.CHART} is a folder", PipelineError, out=out)


def test_a_database_held_open_for_writing_is_named(published, small_events):
    db = published[0]
    with holding_for_writing(db) as holder:
        with pytest.raises(PipelineError) as raised:
            pipeline.build(small_events, db, published[1], quiet=True)
        assert f"PID {holder.pid}" in str(raised.value)
        assert "writes would be lost" in str(raised.value)
    assert fingerprint(db, published[1]) == published[2]


# ---- the command line ----


def test_the_command_line_prints_one_line_and_exits_1(tmp_path):
    command = Path(sys.executable).with_name("funnel-anomalies")
    completed = subprocess.run(
        [
            str(command),
            "build",
            "--events",
            str(tmp_path / "absent.parquet"),
            "--db",
            str(tmp_path / "db" / "funnel.duckdb"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.splitlines() == [
        f"error: {tmp_path / 'absent.parquet'}: events file not found"
    ]
    assert not (tmp_path / "db").exists() and not (tmp_path / "out").exists()


def test_the_command_line_refuses_a_band_width_out_of_range(tmp_path):
    command = Path(sys.executable).with_name("funnel-anomalies")
    completed = subprocess.run(
        [str(command), "build", "--interval-width", "1.5", "--db", str(tmp_path / "x.duckdb")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == ["error: --interval-width must be in [0.5, 1), got 1.5"]
