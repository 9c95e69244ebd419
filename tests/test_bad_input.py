"""Bad input: a clear error naming the file and the column, and the last build left intact."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from events_factory import event_rows, write_events
from funnel_anomalies import pipeline
from funnel_anomalies.errors import InputError, PipelineError


def fingerprint(*paths) -> list[str]:
    return [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]


@pytest.fixture(scope="module")
def published(tmp_path_factory, small_events):
    """A database and OUT folder published by a good run, and fingerprints of their bytes."""
    root = tmp_path_factory.mktemp("published")
    db, out = root / "funnel.duckdb", root / "out"
    pipeline.build(small_events, db, out, quiet=True)
    outputs = sorted(out.iterdir())
    assert len(outputs) == 5
    return db, out, fingerprint(db, *outputs)


def assert_untouched(published_run) -> None:
    db, out, fingerprints = published_run
    assert fingerprint(db, *sorted(out.iterdir())) == fingerprints
    assert not pipeline.scratch_path(db).exists()


def test_missing_file(tmp_path, published):
    missing = tmp_path / "nowhere.parquet"
    with pytest.raises(InputError, match=r"nowhere\.parquet: events file not found"):
        pipeline.build(missing, published[0], published[1])
    assert_untouched(published)


def test_glob_matching_nothing(tmp_path, published):
    with pytest.raises(InputError, match="no Parquet file matches"):
        pipeline.build(tmp_path / "none-*.parquet", published[0], published[1])
    assert_untouched(published)


def test_missing_column_is_named(tmp_path, published):
    columns = event_rows(3)
    del columns["session_id"]
    bad = write_events(tmp_path / "no_session.parquet", columns)
    with pytest.raises(InputError, match=r"no_session\.parquet: missing column\(s\) session_id"):
        pipeline.build(bad, published[0], published[1])
    assert_untouched(published)


def test_a_bad_file_in_a_folder_is_named(tmp_path, published):
    write_events(tmp_path / "in" / "good.parquet", event_rows(3))
    columns = event_rows(3)
    del columns["geography"]
    write_events(tmp_path / "in" / "day2" / "bad.parquet", columns)
    with pytest.raises(InputError, match=r"day2/bad\.parquet: missing column\(s\) geography"):
        pipeline.build(tmp_path / "in", published[0], published[1])
    assert_untouched(published)


def test_empty_file(tmp_path, published):
    empty = write_events(tmp_path / "empty.parquet", event_rows(0))
    with pytest.raises(InputError, match=r"empty\.parquet: the file has no rows"):
        pipeline.build(empty, published[0], published[1])
    assert_untouched(published)


def test_not_parquet(tmp_path, published):
    junk = tmp_path / "junk.parquet"
    junk.write_text("shop,event_name\ns,page_viewed\n")
    with pytest.raises(InputError, match=r"junk\.parquet: not a readable Parquet file"):
        pipeline.build(junk, published[0], published[1])
    assert_untouched(published)


def test_unparseable_timestamps_are_shown(tmp_path, published):
    timestamps = pa.array(["2026-01-01T10:00:00Z", "yesterday", "31/12/2025 10:00"])
    bad = write_events(tmp_path / "text_ts.parquet", event_rows(3, event_timestamp=timestamps))
    with pytest.raises(InputError) as raised:
        pipeline.build(bad, published[0], published[1])
    message = str(raised.value)
    assert "text_ts.parquet: column event_timestamp has 2 row(s)" in message
    assert "yesterday" in message
    assert_untouched(published)


def test_null_timestamps(tmp_path, published):
    timestamps = pa.array([None, None, 1], pa.timestamp("ms"))
    bad = write_events(tmp_path / "null_ts.parquet", event_rows(3, event_timestamp=timestamps))
    with pytest.raises(InputError, match="column event_timestamp has 2 row"):
        pipeline.build(bad, published[0], published[1])
    assert_untouched(published)


def test_wrong_column_type(tmp_path, published):
    bad = write_events(
        tmp_path / "numeric_geo.parquet", event_rows(2, geography=pa.array([1.5, 2.5]))
    )
    with pytest.raises(InputError, match="column geography has type DOUBLE; expected text"):
        pipeline.build(bad, published[0], published[1])
    assert_untouched(published)


def test_a_failing_data_test_publishes_nothing(tmp_path, published):
    # Readable, well-typed, but the shop is missing: the not_null test on stg_events fails.
    bad = write_events(
        tmp_path / "no_shop.parquet", event_rows(2, shop=pa.array([None, None], pa.string()))
    )
    with pytest.raises(
        PipelineError,
        match=r"dbt build failed \(exit 1\): not_null_stg_events_shop \(fail: Got 2 results",
    ):
        pipeline.build(bad, published[0], published[1], quiet=True)
    assert_untouched(published)


def test_the_published_file_is_complete(published):
    # No write-ahead log is left beside it: the renamed file holds everything.
    db, out, _ = published
    assert not db.with_name(db.name + ".wal").exists()
    assert not list(out.glob("*.partial"))
