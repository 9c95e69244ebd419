"""The localizer on hand-made leaves, and `funnel-anomalies localize` on CSV files."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from funnel_anomalies import localizer, root_causes
from funnel_anomalies.bench_localizer import make_case

DIMENSIONS = ["device", "geography", "utm_source", "utm_medium"]
VALUES = {
    "device": ["Android", "Windows", "iOS", "macOS"],
    "geography": ["CA", "DE", "FR", "GB", "US"],
    "utm_source": ["direct", "fbig", "google", "tiktok"],
    "utm_medium": ["cpc", "organic", "social"],
}


def hour_of_leaves(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    leaves = pd.DataFrame(list(itertools.product(*VALUES.values())), columns=DIMENSIONS)
    leaves["predict"] = rng.gamma(2.0, 40.0, len(leaves))
    leaves["real"] = rng.poisson(leaves["predict"]).astype(float)
    return leaves


def moved(leaves: pd.DataFrame, where: pd.Series, factor: float, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    changed = leaves.copy()
    changed.loc[where, "real"] = rng.poisson(changed.loc[where, "predict"] * factor)
    return changed


def found(leaves: pd.DataFrame) -> str:
    return localizer.format_elements(localizer.localize(leaves, DIMENSIONS))


def test_no_clear_cause_when_every_leaf_is_noise():
    assert found(hour_of_leaves()) == ""


def test_a_single_value_that_dropped():
    leaves = hour_of_leaves()
    assert found(moved(leaves, leaves["device"] == "Android", 0.4)) == "device=Android"


def test_a_pair_of_values_neither_of_which_moved_alone():
    # iOS visitors from the Instagram/Facebook in-app browser stop arriving: iOS from
    # elsewhere and Android from fbig are fine, so neither "iOS" nor "fbig" is the cause.
    leaves = hour_of_leaves()
    where = (leaves["device"] == "iOS") & (leaves["utm_source"] == "fbig")
    elements = localizer.localize(moved(leaves, where, 0.1), DIMENSIONS)
    assert localizer.format_elements(elements) == "device=iOS&utm_source=fbig"
    assert elements[0].explained == pytest.approx(1.0, abs=0.15)
    assert elements[0].factor == pytest.approx(0.1, abs=0.05)


def test_a_dominant_segment_is_found_when_everything_outside_it_is_normal():
    # US visitors carry most of the traffic and surge; the rest stays as expected.
    leaves = hour_of_leaves()
    leaves.loc[leaves["geography"] == "US", ["predict"]] *= 8
    leaves["real"] = np.random.default_rng(3).poisson(leaves["predict"]).astype(float)
    us = leaves["geography"] == "US"
    assert leaves.loc[us, "predict"].sum() / leaves["predict"].sum() > 0.6
    assert found(moved(leaves, us, 1.8)) == "geography=US"


def test_two_elements_at_once_each_with_its_share():
    leaves = hour_of_leaves()
    tiktok = leaves["utm_source"] == "tiktok"
    android_de = (leaves["device"] == "Android") & (leaves["geography"] == "DE")
    both = moved(moved(leaves, tiktok, 0.2), android_de & ~tiktok, 2.5, seed=4)
    elements = localizer.localize(both, DIMENSIONS)
    assert {element.notation() for element in elements} == {
        "utm_source=tiktok",
        "device=Android&geography=DE",
    }
    # Each explains its own leaves' deviation: of opposite signs here, together the whole.
    assert sum(element.explained for element in elements) == pytest.approx(1.0, abs=0.05)


def test_parts_follow_the_dimensions_order_whatever_the_columns_order():
    leaves = hour_of_leaves()
    where = (leaves["geography"] == "FR") & (leaves["utm_medium"] == "cpc")
    shuffled = moved(leaves, where, 3.0)[["utm_medium", "real", "geography", "predict", "device"]]
    shuffled = shuffled.assign(utm_source=leaves["utm_source"])
    assert found(shuffled) == "geography=FR&utm_medium=cpc"


def test_no_element_when_the_whole_hour_moved():
    # A holiday or a slow site: every leaf falls by the same factor, so no segment is the
    # cause, however large a segment is.
    leaves = hour_of_leaves()
    assert found(moved(leaves, leaves["device"].notna(), 0.6)) == ""


def test_an_element_is_found_against_the_rest_when_the_rest_moved_too():
    # iOS visitors vanish while everyone else is 20% below expectation (say the forecast
    # was high): iOS is the cause, judged against the rest's common move.
    leaves = hour_of_leaves()
    ios = leaves["device"] == "iOS"
    both = moved(moved(leaves, ios, 0.0), ~ios, 0.8, seed=5)
    elements = localizer.localize(both, DIMENSIONS)
    assert elements[0].notation() == "device=iOS"
    assert elements[0].factor == pytest.approx(0.0, abs=0.05)
    assert 0.4 < elements[0].explained < 0.8


def test_a_segment_of_most_of_the_traffic_vanishing_is_named_though_the_rest_fell_too():
    # A social-first shop at night: its paid social visitors (most of its carts) stop
    # arriving while its other carts also fall (iOS carts break). Few events are left, yet
    # "everything fell by one factor" explains them worse than paid social gone.
    leaves = hour_of_leaves()
    leaves["predict"] = leaves["predict"] / 40
    social = leaves["utm_medium"] == "social"
    leaves.loc[social, "predict"] *= 12
    rest = moved(leaves, ~social, 0.35, seed=8)
    both = moved(rest, social, 0.0, seed=9)
    assert both.loc[social, "predict"].sum() / both["predict"].sum() > 0.75
    elements = localizer.localize(both, DIMENSIONS)
    assert elements[0].notation() == "utm_medium=social"


def test_a_refinement_of_another_element_found_is_folded_into_it():
    # A crawler on Android: its sessions surge hardest in the US, but every Android leaf
    # moved. The search finds Android in the US, then the rest of Android; the smaller
    # explanation that leaves the same leaves outside is Android alone.
    leaves = hour_of_leaves()
    android = leaves["device"] == "Android"
    us = leaves["geography"] == "US"
    lifted = moved(moved(leaves, android & us, 20.0), android & ~us, 3.0, seed=10)
    assert found(lifted) == "device=Android"


def overdispersed_hours(hours: int, dispersion: float, seed: int = 6):
    """Leaves x hours of counts whose variance is `dispersion` times their mean (a visit
    makes several events), with the expectations they were drawn around."""
    rng = np.random.default_rng(seed)
    expected = np.outer(rng.gamma(2.0, 20.0, 60), 1 + 0.5 * np.sin(np.arange(hours) / 4))
    # Negative binomial with mean m and variance dispersion * m.
    success = 1.0 / dispersion
    counts = rng.negative_binomial(expected * success / (1 - success), success)
    return counts.astype(float), expected


def test_the_leaves_noise_learnt_from_history_finds_their_dispersion():
    counts, expected = overdispersed_hours(hours=400, dispersion=3.0)
    noise = localizer.leaf_noise(counts, expected, np.ones(counts.shape[1], dtype=bool))
    assert noise.dispersion == pytest.approx(3.0, rel=0.2)
    assert noise.relative < 0.05


def test_noise_from_history_keeps_overdispersed_leaves_from_naming_elements():
    counts, expected = overdispersed_hours(hours=401, dispersion=3.0)
    noise = localizer.leaf_noise(counts[:, :-1], expected[:, :-1], np.ones(400, dtype=bool))
    leaves = pd.DataFrame(
        {
            "a": [f"a{i % 6}" for i in range(60)],
            "b": [f"b{i // 6}" for i in range(60)],
            "real": counts[:, -1],
            "predict": expected[:, -1],
        }
    )
    assert localizer.localize(leaves, ["a", "b"], noise=noise) == []
    a2 = leaves["a"] == "a2"
    leaves.loc[a2, "real"] = np.round(leaves.loc[a2, "predict"] * 0.3)
    assert localizer.format_elements(localizer.localize(leaves, ["a", "b"], noise=noise)) == "a=a2"


def test_each_anomalous_hour_gets_its_elements_ranked_with_combinations_named_in_order():
    leaves = hour_of_leaves()
    where = (leaves["device"] == "iOS") & (leaves["utm_source"] == "fbig")
    hour = moved(leaves, where, 0.0).rename(columns={"real": "events", "predict": "expected"})
    quiet = hour_of_leaves(seed=7).rename(columns={"real": "events", "predict": "expected"})
    frame = pd.concat(
        [
            hour.assign(hour_at=pd.Timestamp("2026-01-01 10:00"), metric="landing_page_views"),
            quiet.assign(hour_at=pd.Timestamp("2026-01-01 11:00"), metric="landing_page_views"),
        ]
    ).assign(shop="s", session_utm_source=None, session_utm_medium=None)
    frame = frame.assign(noise_dispersion=1.0, noise_relative=0.0)
    found_rows = root_causes.localize_hours(frame)
    assert found_rows[["hour_at", "element_rank", "dimension", "dimension_value"]].to_dict(
        "records"
    ) == [
        {
            "hour_at": pd.Timestamp("2026-01-01 10:00"),
            "element_rank": 1,
            "dimension": "device & utm_source",
            "dimension_value": "iOS & fbig",
        }
    ]
    assert found_rows["element"].tolist() == ["device=iOS&utm_source=fbig"]
    assert root_causes.localize_hours(frame.iloc[:0]).empty


def test_the_benchmark_cases_move_exactly_their_root_causes():
    case = make_case(seed=5, depth=2, count=2)
    assert len(case.root_causes) == 2
    assert all(len(element) == 2 for element in case.root_causes)


def _localize_command(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "funnel_anomalies.cli", "localize", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_command_prints_a_line_per_file_with_the_path_as_given(tmp_path):
    leaves = hour_of_leaves()
    folder = tmp_path / "cases"
    (folder / "deeper").mkdir(parents=True)
    moved(leaves, leaves["device"] == "macOS", 0.2).to_csv(folder / "a.csv", index=False)
    leaves.to_csv(folder / "deeper" / "b.csv", index=False)
    renamed = moved(leaves, leaves["geography"] == "GB", 2.0)
    renamed.rename(columns={"real": "actual", "predict": "forecast"}).to_csv(
        tmp_path / "c.csv", index=False
    )
    completed = _localize_command(str(folder))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        f"{folder}/a.csv\tdevice=macOS",
        f"{folder}/deeper/b.csv\t",
    ]
    completed = _localize_command(
        str(tmp_path / "c.csv"), "--actual", "actual", "--expected", "forecast"
    )
    assert completed.stdout.splitlines() == [f"{tmp_path / 'c.csv'}\tgeography=GB"]


def test_the_command_names_the_file_and_column_that_is_wrong(tmp_path):
    bad = tmp_path / "bad.csv"
    hour_of_leaves().assign(real="many").to_csv(bad, index=False)
    completed = _localize_command(str(bad))
    assert completed.returncode == 1
    assert str(bad) in completed.stderr and "'real'" in completed.stderr
    assert "not numbers" in completed.stderr
    good = tmp_path / "good.csv"
    hour_of_leaves().to_csv(good, index=False)
    missing = _localize_command(str(good), "--expected", "forecast")
    assert missing.returncode == 1
    assert str(good) in missing.stderr and "column 'forecast' is missing" in missing.stderr
