"""Shared fixtures: a small generated data set and one database built from it."""

from __future__ import annotations

import duckdb
import pytest

from funnel_anomalies import evaluation, pipeline, sample_data


@pytest.fixture(scope="session")
def small_spec() -> sample_data.SampleSpec:
    return sample_data.default_spec(shops=2, days=8, events=60_000, seed=11)


@pytest.fixture(scope="session")
def small_events(tmp_path_factory, small_spec):
    path = tmp_path_factory.mktemp("events") / "events.parquet"
    sample_data.write_sample(small_spec, path)
    return path


@pytest.fixture(scope="session")
def built_db(tmp_path_factory, small_events):
    """The whole dbt build (models, data tests, unit tests) on the small data set."""
    db = tmp_path_factory.mktemp("warehouse") / "funnel.duckdb"
    pipeline.build(small_events, db, quiet=True)
    return db


@pytest.fixture
def query(built_db):
    con = duckdb.connect(str(built_db), read_only=True)
    yield lambda sql: con.execute(sql).df()
    con.close()


@pytest.fixture(scope="session")
def incident_run(tmp_path_factory):
    """Four weeks of three shops at the default hourly volume, a different seed."""
    root = tmp_path_factory.mktemp("incidents")
    spec = sample_data.default_spec(shops=3, days=28, events=1_650_000, seed=21)
    events = root / "events.parquet"
    _, labels_path = sample_data.write_sample(spec, events)
    report = pipeline.build(events, root / "funnel.duckdb", root / "out", quiet=True)
    return report.db, evaluation.load_labels(labels_path), root / "out"
