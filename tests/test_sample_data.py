"""The generator: deterministic, messy the way storefronts are, incidents where the labels say."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from funnel_anomalies import sample_data


def test_same_seed_same_events_other_seed_other_events(small_spec):
    first = sample_data.generate_events(small_spec)
    again = sample_data.generate_events(small_spec)
    assert first.equals(again)
    other_spec = sample_data.default_spec(shops=2, days=8, events=60_000, seed=12)
    assert not first.equals(sample_data.generate_events(other_spec))


def test_volume_follows_the_requested_event_count():
    spec = sample_data.default_spec(shops=3, days=14, events=200_000, seed=3)
    rows = sample_data.generate_events(spec).num_rows
    assert 170_000 < rows < 230_000


def test_raw_values_are_as_messy_as_real_pixels(small_spec):
    events = sample_data.generate_events(small_spec)
    sources = set(pc.unique(events["utm_source"]).to_pylist())
    assert {"facebook", "Facebook", "fb", "IG"} & sources
    assert None in sources  # utm only in the landing URL, or no campaign at all
    urls = pc.unique(events["page_url"]).to_pylist()
    assert any("utm_source=" in url for url in urls)
    assert events["user_agent"].null_count > 0
    assert events["geography"].null_count > 0
    assert any(g and g != g.strip() for g in pc.unique(events["geography"]).to_pylist())
    distinct = events.group_by(events.column_names).aggregate([]).num_rows
    assert distinct < events.num_rows  # double-fired pixels


def test_labels_follow_from_the_effects_at_the_default_volume():
    """At the default volume every incident moves the metrics its scenario needs."""
    spec = sample_data.default_spec()
    labelled = {i["incident_id"]: i for i in sample_data.labels(spec)["incidents"]}
    scenarios = {
        "A-ios-outage": "A",
        "B-paid-social-and-ios-cart": "B",
        "C-slow-product-pages": "C",
        "D-crawler-product-views": "D",
        "A-gb-promotion": "A",
    }
    assert {i: labelled[i]["scenario"] for i in scenarios} == scenarios
    assert labelled["B-paid-social-and-ios-cart"]["metrics"] == {
        "landing_page_views": {"dimension": "utm_medium", "value": "paid social"},
        "add_to_cart": {"dimension": "device", "value": "iOS"},
    }
    assert all(cause is None for cause in labelled["C-slow-product-pages"]["metrics"].values())


def test_a_combination_is_labelled_as_each_metric_can_show_it():
    # In landings the in-app browser's cause is iOS visitors from fbig; the later steps
    # carry the landing's utm values as their session's, so they show the same combination.
    spec = sample_data.combinations_spec()
    labelled = {i["incident_id"]: i for i in sample_data.labels(spec)["incidents"]}
    in_app = labelled["A-ios-fbig-in-app-browser"]
    assert in_app["metrics"]["landing_page_views"] == {
        "dimension": "device & utm_source",
        "value": "iOS & fbig",
    }
    seen_later = {**in_app["metrics"], **in_app["possible_metrics"]}["product_views"]
    assert seen_later == {"dimension": "device & session_utm_source", "value": "iOS & fbig"}
    # One metric clearly moved, others possibly: D, or A once they are seen; never B.
    assert in_app["acceptable_scenarios"] == ["A", "D"]
    assert labelled["A-us-dominant-surge"]["metrics"]["landing_page_views"] == {
        "dimension": "geography",
        "value": "US",
    }


def test_a_segment_seen_by_a_metric_keeps_only_its_dimensions():
    assert sample_data.segment_seen_by("product_views", "utm_medium", "paid social") == {
        "dimension": "session_utm_medium",
        "value": "paid social",
    }
    assert sample_data.segment_seen_by(
        "checkout_completed", "geography & utm_source", "US & tiktok"
    ) == {"dimension": "geography & session_utm_source", "value": "US & tiktok"}
    assert sample_data.segment_seen_by("landing_page_views", "device", "iOS") == {
        "dimension": "device",
        "value": "iOS",
    }


def test_a_weaker_effect_at_a_small_shop_is_only_possible():
    spec = sample_data.default_spec(events=1_200_000)
    ios = next(
        i for i in sample_data.labels(spec)["incidents"] if i["incident_id"] == "A-ios-outage"
    )
    assert list(ios["metrics"]) == ["landing_page_views"]
    assert "product_views" in ios["possible_metrics"]
    assert ios["acceptable_scenarios"] == ["A", "D"]


def test_labels_describe_each_scenario_inside_the_span(tmp_path, small_spec):
    path = tmp_path / "events.parquet"
    rows, labels_path = sample_data.write_sample(small_spec, path)
    labels = json.loads(labels_path.read_text())
    assert rows == sample_data.generate_events(small_spec).num_rows
    assert {i["intended_scenario"] for i in labels["incidents"]} == {"A", "B", "C", "D"}
    start = datetime.fromisoformat(labels["start_at"])
    for incident in labels["incidents"]:
        window_start = datetime.fromisoformat(incident["start_at"])
        window_end = datetime.fromisoformat(incident["end_at"])
        assert start <= window_start <= window_end
        assert (window_end - start).days < labels["days"]
        assert incident["direction"] in ("positive", "negative")
        assert incident["scenario"] in (None, *incident["acceptable_scenarios"])


@pytest.mark.parametrize("bad", [{"shops": 0}, {"shops": 10_001}, {"days": 1}])
def test_impossible_specs_are_refused(bad):
    with pytest.raises(ValueError):
        sample_data.default_spec(**bad)


def test_an_incident_moves_its_segment(small_spec):
    """The iOS outage removes the iOS landings in its window, and only there."""
    incident = next(i for i in small_spec.incidents if i.incident_id == "A-ios-outage")
    events = sample_data.generate_events(small_spec).to_pandas()
    events = events[(events["shop"] == incident.shop) & (events["event_name"] == "page_viewed")]
    landings = events.sort_values("event_timestamp").groupby("session_id").head(1)
    ios = landings["user_agent"].fillna("").str.contains("iPhone|iPad")
    hour = landings["event_timestamp"].dt.hour
    day = (landings["event_timestamp"] - small_spec.start).dt.days
    window = (day == incident.start_day) & hour.between(
        incident.start_hour, incident.start_hour + incident.hours - 1
    )
    same_hours_other_days = (day != incident.start_day) & hour.between(
        incident.start_hour, incident.start_hour + incident.hours - 1
    )
    assert ios[window].sum() == 0
    assert ios[same_hours_other_days].mean() > 0.3


def test_user_agents_and_urls_vary_as_in_real_traffic(small_spec):
    """Real pixels send thousands of distinct user agents (browser, OS and app versions) and
    a click id on every paid landing URL: nothing downstream may rely on few values."""
    events = sample_data.generate_events(small_spec)
    sessions = len(pc.unique(events["session_id"]))
    user_agents = pc.unique(events["user_agent"]).to_pylist()
    assert len(user_agents) > 0.1 * sessions
    assert any("FBAN/FBIOS" in agent for agent in user_agents if agent)
    urls = pc.unique(events["page_url"]).to_pylist()
    clicked = [url for url in urls if "gclid=" in url or "fbclid=" in url]
    assert len(clicked) > 0.2 * sessions
    assert len(clicked) == len({url.split("clid=")[1] for url in clicked})


def test_the_calendar_events_are_labelled_where_they_happen():
    """The campaign's first day and the day after it ends, and each national holiday of a
    shop's country inside the window, as the shop's local day in UTC."""
    spec = sample_data.default_spec()
    labelled = {i["incident_id"]: i for i in sample_data.labels(spec)["incidents"]}
    starts, ends = labelled["campaign-starts"], labelled["campaign-ends"]
    assert (starts["direction"], ends["direction"]) == ("positive", "negative")
    span = datetime.fromisoformat(starts["end_at"]) - datetime.fromisoformat(starts["start_at"])
    assert span.total_seconds() == 23 * 3600  # only the first day is a surprise
    assert starts["shop"] == ends["shop"] == spec.shops[1].name
    # Labor Day in New York starts at 04:00 UTC; German Unity Day in Berlin at 22:00 UTC.
    assert labelled["holiday-aurora-outdoor-2026-09-07"]["start_at"] == "2026-09-07 04:00:00"
    assert labelled["holiday-birch-home-2026-10-03"]["start_at"] == "2026-10-02 22:00:00"
    assert not [i for i in labelled if i.startswith("holiday-cobalt-tea")]  # none in GB


def test_weekends_are_shaped_unlike_weekdays_in_local_time():
    weekday = sample_data.daily_shape(np.arange(24.0), np.zeros(24, dtype=bool))
    weekend = sample_data.daily_shape(np.arange(24.0), np.ones(24, dtype=bool))
    assert 18 <= int(np.argmax(weekday)) <= 20 and int(np.argmax(weekend)) >= 20
    assert weekend[9] / weekend.max() < weekday[9] / weekday.max() - 0.1  # a later start
    spec = sample_data.default_spec(shops=2, days=14)
    new_york, berlin = (sample_data.relative_traffic(s, spec, False) for s in spec.shops)
    # The same local shape, six hours apart in UTC.
    assert abs(int(np.argmax(new_york[:24])) - int(np.argmax(berlin[:24]))) == 6


def test_the_truth_matches_the_counts_and_says_how_noisy_each_shop_is(tmp_path):
    spec = sample_data.default_spec(shops=3, days=14, events=600_000, seed=4)
    path = tmp_path / "events.parquet"
    sample_data.write_sample(spec, path)
    truth = pd.read_parquet(sample_data.truth_path_for(path))
    landings = (
        pq.read_table(path).to_pandas().query("event_name in ['page_viewed', 'landing_page_view']")
    )
    first = landings.sort_values("event_timestamp").groupby(["shop", "session_id"]).head(1)
    first = first.assign(
        hour_at=first["event_timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("h")
    )
    counts = first.groupby(["shop", "hour_at"]).size().rename("events").reset_index()
    merged = (
        truth[truth["metric"] == "landing_page_views"]
        .merge(counts, on=["shop", "hour_at"], how="left")
        .fillna({"events": 0})
    )
    clean = np.ones(len(merged), dtype=bool)
    for incident in sample_data.labels(spec)["incidents"]:  # with the campaign's surprises
        clean &= ~(
            (merged["shop"] == incident["shop"])
            & merged["hour_at"].between(
                pd.Timestamp(incident["start_at"]) - pd.Timedelta(hours=2),
                pd.Timestamp(incident["end_at"]) + pd.Timedelta(hours=2),
            )
        ).to_numpy()
    for shop, rows in merged[clean].groupby("shop"):
        ratio = rows["events"].sum() / rows["expected"].sum()
        assert 0.97 < ratio < 1.03, (shop, ratio)
        standardized = (rows["events"] - rows["expected"]) / np.sqrt(rows["variance"])
        assert 0.8 < standardized.std() < 1.25, (shop, standardized.std())
    assert truth.groupby("shop")["variance"].sum().gt(truth.groupby("shop")["expected"].sum()).all()


def test_many_shops_are_a_few_large_and_many_small():
    spec = sample_data.default_spec(shops=300, days=7, events=1_000_000, seed=5)
    assert len({shop.name for shop in spec.shops}) == 300
    assert [shop.name for shop in spec.shops[:4]] == [s.name for s in sample_data.DEFAULT_SHOPS]
    drawn = [shop.peak_sessions_per_hour for shop in spec.shops[4:]]
    assert drawn == sorted(drawn, reverse=True)
    sizes = sorted((shop.peak_sessions_per_hour for shop in spec.shops), reverse=True)
    assert sum(sizes[:30]) > 0.5 * sum(sizes)  # the largest tenth hold most of the traffic
    assert sizes[0] > 300 * sizes[-1]
    assert len({shop.time_zone for shop in spec.shops}) >= 8
    assert {shop.naming for shop in spec.shops} == {"shopify", "plain"}
    # The same arguments give the same shops; another seed other small shops.
    assert spec.shops == sample_data.default_spec(shops=300, days=7, events=1_000_000, seed=5).shops
    other = sample_data.default_spec(shops=300, days=7, events=1_000_000, seed=6).shops
    assert [shop.name for shop in other[:4]] == [shop.name for shop in spec.shops[:4]]
    assert other[4:] != spec.shops[4:]
