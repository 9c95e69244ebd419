"""Generate raw storefront events with known incidents, and the labels that describe them.

The events look like what storefront pixels really send: Shopify web-pixel names for some
shops and plain names for others, event names the funnel ignores, user agents (in their
many versions and in-app variants) rather than OS families, utm values in every spelling
(sometimes only inside the page URL), page URLs with catalog paths and click ids, missing
geographies and double-fired duplicates. Sessions walk down the funnel.

Traffic does not flatter a forecaster: each shop lives in its own time zone (some change
to or from daylight saving time inside the default window), weekend days are shaped
unlike weekdays (a later start, an evening peak), hourly arrivals carry noise beyond
Poisson that differs by shop, the trend changes its slope, one shop runs a campaign that
lifts its traffic for a week, and national holidays move a shop's day. Incidents of each
scenario kind (A-D) are injected as multipliers on traffic or on one funnel step of one
segment. Beside the labels, `<events>.truth.parquet` holds every hour's true expected
count of each metric's total and its true variance, so that an oracle's band can be
computed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from holidays import country_holidays

from funnel_anomalies import forecasting, pixel_strings
from funnel_anomalies.root_causes import PART_SEPARATOR
from funnel_anomalies.warehouse import LEAF_DIMENSIONS

# Funnel steps a session can reach, in order. Probabilities are conditional on the step before.
FUNNEL_STEP_PROBABILITY = {
    "product_view": 0.70,
    "add_to_cart": 0.26,
    "checkout_started": 0.55,
    "checkout_completed": 0.65,
}
MEAN_EXTRA_PAGE_VIEWS = 1.2
MEAN_EXTRA_PRODUCT_VIEWS = 1.0
MEAN_IGNORED_EVENTS = 0.3
DUPLICATE_RATE = 0.004
EVENTS_PER_SESSION = 4.1  # measured on the default mix; used to turn --events into traffic

EVENT_NAMES = {
    "shopify": {
        "landing": "page_viewed",
        "page_view": "page_viewed",
        "product_view": "product_viewed",
        "add_to_cart": "product_added_to_cart",
        "checkout_started": "checkout_started",
        "checkout_completed": "checkout_completed",
        "ignored": ("collection_viewed", "search_submitted", "cart_viewed"),
    },
    "plain": {
        "landing": "landing_page_view",
        "page_view": "page_view",
        "product_view": "product_view",
        "add_to_cart": "add_to_cart",
        "checkout_started": "checkout_started",
        "checkout_completed": "purchase",
        "ignored": ("scroll", "newsletter_signup"),
    },
}

GEOGRAPHIES = ["US", "GB", "DE", "CA", "FR", "AU", "NL", "SE"]
GEOGRAPHY_WEIGHTS = [0.42, 0.14, 0.10, 0.08, 0.07, 0.07, 0.06, 0.06]
MISSING_GEOGRAPHY_RATE = 0.02
PADDED_GEOGRAPHY_RATE = 0.01

# (device family, the OS family it stands for, device_type the pixel reports, share). Each
# family's user agents come in many versions and apps (pixel_strings.BROWSERS).
USER_AGENTS = [
    ("iphone", "iOS", "mobile", 0.32),
    ("ipad", "iOS", "tablet", 0.06),
    ("pixel", "Android", "mobile", 0.20),
    ("galaxy", "Android", "mobile", 0.10),
    ("windows", "Windows", "desktop", 0.14),
    ("mac", "macOS", "desktop", 0.11),
    ("linux", "Other", "desktop", 0.03),
    ("chromebook", "Other", "desktop", 0.02),
]
# Some pixels lose the user agent; then device_type is all there is, in any spelling.
MISSING_USER_AGENT_RATE = 0.02
DEVICE_TYPE_WITHOUT_USER_AGENT = {
    "iOS": "ios",
    "Android": "Android",
    "Windows": "windows",
    "macOS": "macOS",
    "Other": "desktop",
}

# Marketing channels: canonical (source, medium), the spellings pixels send, and weight.
CHANNELS = [
    (("(none)", "(none)"), [(None, None)], 0.28),
    (("google", "cpc"), [("google", "cpc"), ("Google", "CPC")], 0.20),
    (("google", "organic"), [("google", "organic")], 0.10),
    (
        ("fbig", "paid social"),
        [
            ("facebook", "paid_social"),
            ("Facebook", "paidsocial"),
            ("fb", "paid-social"),
            ("instagram", "paid_social"),
            ("IG", "Paid Social"),
        ],
        0.18,
    ),
    (("klaviyo", "email"), [("klaviyo", "email"), ("Klaviyo", "Email")], 0.09),
    (("tiktok", "paid social"), [("tiktok", "paid_social"), ("TikTok", "paid-social")], 0.06),
    (("rakuten", "affiliates"), [("rakuten", "affiliate"), ("Rakuten", "affiliates")], 0.05),
    (("bing", "cpc"), [("bing", "cpc")], 0.04),
]
UTM_ONLY_IN_URL_RATE = 0.3


@dataclass(frozen=True)
class Shop:
    name: str
    peak_sessions_per_hour: float
    naming: str  # "shopify" or "plain": which event names its pixel sends
    time_zone: str = "UTC"
    country: str | None = None
    # Log-normal noise of each hour's arrival rate: what makes counts vary beyond Poisson.
    hour_noise: float = 0.05
    # Its visitors' geographies (weights in GEOGRAPHIES' order); None: GEOGRAPHY_WEIGHTS.
    geography_weights: tuple[float, ...] | None = None
    # Its visitors' marketing channels (weights in CHANNELS' order); None: CHANNELS' own.
    channel_weights: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Effect:
    """Multiply one funnel step (or arriving traffic) of one segment during an incident. A
    segment is a value of a dimension or a combination of values, its dimensions and
    values joined by SEGMENT_SEPARATOR in the order of SEGMENT_DIMENSIONS
    (`device & utm_source`, `iOS & fbig`), as fct_anomaly_hours names it."""

    step: str  # "traffic" or a key of FUNNEL_STEP_PROBABILITY, or "product_view_count"
    dimension: str | None  # None: every session
    value: str | None
    multiplier: float


@dataclass(frozen=True)
class Incident:
    """Effects on one shop for a few hours. Which metrics it moves detectably, their root
    causes and the resulting scenario are worked out from the effects (see labels())."""

    incident_id: str
    intended_scenario: str
    shop: str
    start_day: int
    start_hour: int
    hours: int
    direction: str
    effects: tuple[Effect, ...]
    description: str = ""
    # Hours of the window that are labelled (from its start): a campaign lifts traffic for
    # a week, but only its first day is a surprise. None: the whole window.
    labelled_hours: int | None = None
    # Effects that describe what a detector sees, when that is not what is applied: the
    # end of a campaign changes no traffic, yet traffic falls back below the level learnt.
    seen_effects: tuple[Effect, ...] | None = None


@dataclass(frozen=True)
class SampleSpec:
    shops: tuple[Shop, ...]
    days: int
    start: datetime
    seed: int
    incidents: tuple[Incident, ...]


DEFAULT_SHOPS = (
    Shop("aurora-outdoor", 620.0, "shopify", "America/New_York", "US", 0.02),
    Shop("birch-home", 300.0, "plain", "Europe/Berlin", "DE", 0.06),
    Shop("cobalt-tea", 150.0, "shopify", "Europe/London", "GB", 0.08),
    Shop("dune-surf", 90.0, "plain", "Australia/Sydney", "AU", 0.10),
)
CAMPAIGN_LIFT = 1.35
HOLIDAY_TRAFFIC = 0.75

# Shops past the hand-made four are spread as real shop populations are, a few large and
# many small: size falls with rank as a power law (Zipf's law, exponent near 1), each
# shop off the curve by a random factor, in time zones around the world.
MAX_SHOPS = 10_000
POPULATION_SIZE_EXPONENT = 1.1
POPULATION_SIZE_SPREAD = 0.3  # sigma of the log-normal factor off the curve
POPULATION_ZONES = (
    ("America/New_York", "US"),
    ("America/Los_Angeles", "US"),
    ("Europe/Berlin", "DE"),
    ("Europe/London", "GB"),
    ("Europe/Paris", "FR"),
    ("America/Toronto", "CA"),
    ("Europe/Amsterdam", "NL"),
    ("Australia/Sydney", "AU"),
    ("Europe/Stockholm", "SE"),
    ("UTC", None),
)


def shop_population(count: int, seed: int) -> tuple[Shop, ...]:
    """`count` shops: the hand-made ones, then shops whose size follows the largest's
    down a power law of their rank (largest first), with pixels, time zones and
    hour-to-hour noise of their own, drawn from `seed`."""
    made = DEFAULT_SHOPS[:count]
    rng = np.random.default_rng([seed, count])
    ranks = np.arange(len(made) + 1, count + 1)
    sizes = -np.sort(
        -DEFAULT_SHOPS[0].peak_sessions_per_hour
        * ranks.astype(float) ** -POPULATION_SIZE_EXPONENT
        * rng.lognormal(0.0, POPULATION_SIZE_SPREAD, len(ranks))
    )
    zones = rng.integers(len(POPULATION_ZONES), size=len(ranks))
    naming = rng.choice(["shopify", "plain"], size=len(ranks))
    noise = rng.uniform(0.02, 0.12, len(ranks))
    drawn = [
        Shop(
            f"shop-{rank:05d}",
            float(size),
            str(pixel),
            *POPULATION_ZONES[zone],
            float(hour_noise),
        )
        for rank, size, zone, pixel, hour_noise in zip(
            ranks, sizes, zones, naming, noise, strict=True
        )
    ]
    return (*made, *drawn)


def _weekend_evening(shop: Shop, start: datetime, from_day: int, days: int) -> tuple[int, int]:
    """The day and UTC hour of 20:00 local on the shop's first Saturday from `from_day`,
    when its traffic peaks (or `from_day` at 20:00 UTC when no Saturday fits)."""
    zone = ZoneInfo(shop.time_zone)
    for day in range(from_day, days - 1):
        local = (start + timedelta(days=day)).astimezone(zone)
        if local.weekday() == 5:
            evening = local.replace(hour=20, minute=0, second=0, microsecond=0)
            offset = evening.astimezone(UTC) - start
            return offset.days, offset.seconds // 3600
    return from_day, 20


def default_incidents(shops: tuple[Shop, ...], days: int, start: datetime) -> tuple[Incident, ...]:
    """One incident per scenario kind and a positive one, placed in the last weeks, each
    strong enough to be seen at the volume of the shop it hits."""
    big = shops[0].name
    second = shops[1 % len(shops)].name
    # The smallest of the hand-made shops: a drawn population's smallest may have too few
    # visitors for any incident to show.
    smallest = shops[min(len(shops), len(DEFAULT_SHOPS)) - 1].name

    def day(fraction: float) -> int:
        return max(1, min(days - 1, round(days * fraction)))

    # Two small effects together: placed where the big shop's traffic peaks.
    b_day, b_hour = _weekend_evening(shops[0], start, day(0.55), days)

    return (
        Incident(
            "A-ios-outage",
            "A",
            big,
            day(0.43),
            17,
            4,
            "negative",
            (Effect("traffic", "device", "iOS", 0.0),),
            "iOS sessions stop arriving: every funnel step loses its iOS share.",
        ),
        Incident(
            "B-paid-social-and-ios-cart",
            "B",
            big,
            b_day,
            b_hour,
            3,
            "negative",
            (
                Effect("traffic", "utm_medium", "paid social", 0.0),
                Effect("add_to_cart", "device", "iOS", 0.0),
            ),
            "Paid social traffic stops and, at the same time, iOS add-to-cart breaks.",
        ),
        Incident(
            "C-slow-product-pages",
            "C",
            second,
            day(0.68),
            11,
            4,
            "negative",
            (Effect("product_view", None, None, 0.15),),
            "Product pages slow down for everyone: no segment stands out.",
        ),
        Incident(
            "D-crawler-product-views",
            "D",
            big,
            day(0.80),
            3,
            2,
            "positive",
            (Effect("product_view_count", "device", "Other", 25.0),),
            "A crawler with a Linux user agent requests product pages.",
        ),
        Incident(
            "A-gb-promotion",
            "A",
            smallest,
            day(0.90),
            17,
            3,
            "positive",
            (Effect("traffic", "geography", "GB", 8.0),),
            "A UK promotion brings extra visitors who browse as usual.",
        ),
    )


def _local_clock(spec: SampleSpec, time_zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Each UTC hour of the spec as the shop's wall-clock hour and local weekday (0 Monday)."""
    utc = pd.date_range(spec.start, periods=spec.days * 24, freq="h")
    local = utc.tz_convert(time_zone)
    return local.hour.to_numpy() + local.minute.to_numpy() / 60.0, local.day_of_week.to_numpy()


def _holiday_incidents(shops: tuple[Shop, ...], days: int, start: datetime) -> list[Incident]:
    """Each national holiday inside the window (after its first day) moves its shop's
    local day; it is the first the shop's history meets, so nothing can expect it."""
    incidents = []
    end = start + timedelta(days=days)
    for shop in shops:
        if not shop.country:
            continue
        zone = ZoneInfo(shop.time_zone)
        calendar = country_holidays(shop.country, years=range(start.year, end.year + 1))
        for day, name in sorted(calendar.items()):
            local_start = datetime(day.year, day.month, day.day, tzinfo=zone)
            local_end = local_start + timedelta(days=1)
            first = local_start.astimezone(UTC)
            last = local_end.replace(tzinfo=zone).astimezone(UTC)
            if first < start + timedelta(days=1) or last > end - timedelta(days=1):
                continue
            offset = first - start
            incidents.append(
                Incident(
                    f"holiday-{shop.name}-{day.isoformat()}",
                    "C",
                    shop.name,
                    offset.days,
                    offset.seconds // 3600,
                    int((last - first).total_seconds() // 3600),
                    "negative",
                    (Effect("traffic", None, None, HOLIDAY_TRAFFIC),),
                    f"{name}: the shop's first in its history, so not yet expected.",
                )
            )
    return incidents


def _campaign_incidents(shops: tuple[Shop, ...], days: int) -> list[Incident]:
    """A campaign lifts the second shop's traffic for a week: a surprise on its first day,
    the new level after that, and a surprise again on the day after it ends."""
    shop = shops[1 % len(shops)].name
    start_day = max(1, round(days * 0.25))
    length = min(7, days - start_day - 2)
    if length < 2:
        return []
    return [
        Incident(
            "campaign-starts",
            "C",
            shop,
            start_day,
            10,
            length * 24,
            "positive",
            (Effect("traffic", None, None, CAMPAIGN_LIFT),),
            "A campaign lifts traffic by a third for a week: expected after its first day.",
            labelled_hours=24,
        ),
        Incident(
            "campaign-ends",
            "C",
            shop,
            start_day + length,
            10,
            24,
            "negative",
            (),
            "The campaign ends: traffic falls back below the level learnt during it.",
            seen_effects=(Effect("traffic", None, None, 1.0 / CAMPAIGN_LIFT),),
        ),
    ]


# The size of `make build`'s sample and of the bench's default data: one data set.
SAMPLE_EVENTS = 3_200_000


def default_spec(
    shops: int = 3,
    days: int = 56,
    events: int = SAMPLE_EVENTS,
    seed: int = 7,
    start: datetime = datetime(2026, 9, 1, tzinfo=UTC),
) -> SampleSpec:
    """Shops of decreasing size (shop_population) scaled so that the run yields about
    `events` raw events."""
    if not 1 <= shops <= MAX_SHOPS:
        raise ValueError(f"shops must be between 1 and {MAX_SHOPS:,}, got {shops}")
    if days < 2:
        raise ValueError(f"days must be at least 2, got {days}")
    chosen = shop_population(shops, seed)
    mean_of_peak = 0.62  # average of the daily and weekly profile relative to its peak
    natural = sum(s.peak_sessions_per_hour for s in chosen) * mean_of_peak * 24 * days
    scale = events / (natural * EVENTS_PER_SESSION)
    scaled = tuple(
        dataclasses.replace(s, peak_sessions_per_hour=s.peak_sessions_per_hour * scale)
        for s in chosen
    )
    incidents = (
        *default_incidents(scaled, days, start),
        *_campaign_incidents(scaled, days),
        *_holiday_incidents(scaled, days, start),
    )
    return SampleSpec(scaled, days, start, seed, incidents)


# combinations_spec's largest shop is social-first (most of its visitors come from
# Facebook/Instagram and TikTok ads) and sells mostly to the US.
SOCIAL_FIRST_CHANNELS = {"fbig": 0.65, "tiktok": 0.15}
DOMINANT_US_SHARE = 0.62


def _local_evening(shop: Shop, start: datetime, day: int) -> tuple[int, int]:
    """The day and UTC hour of 20:00 local on the shop's `day`, when its traffic peaks."""
    local_day = (start + timedelta(days=day)).astimezone(ZoneInfo(shop.time_zone))
    evening = local_day.replace(hour=20, minute=0, second=0, microsecond=0)
    offset = evening.astimezone(UTC) - start
    return offset.days, offset.seconds // 3600


def combination_incidents(
    shops: tuple[Shop, ...], days: int, start: datetime
) -> tuple[Incident, ...]:
    """Incidents whose root cause is a combination of values, or a segment that carries
    most of its shop's traffic, at the evening peak of days the default incidents leave
    free."""
    big = shops[0]
    in_app_day, in_app_hour = _weekend_evening(big, start, round(days * 0.45), days)
    viral_day, viral_hour = _local_evening(big, start, round(days * 0.62))
    surge_day, surge_hour = _local_evening(big, start, round(days * 0.70))
    return (
        Incident(
            "A-ios-fbig-in-app-browser",
            "A",
            big.name,
            in_app_day,
            in_app_hour,
            3,
            "negative",
            (Effect("traffic", "device & utm_source", "iOS & fbig", 0.0),),
            "Facebook/Instagram's in-app browser breaks on iOS: those visitors stop arriving.",
        ),
        Incident(
            "A-us-tiktok-surge",
            "A",
            big.name,
            viral_day,
            viral_hour,
            3,
            "positive",
            (Effect("traffic", "geography & utm_source", "US & tiktok", 6.0),),
            "A TikTok video goes viral in the US: six times its visitors for three hours.",
        ),
        Incident(
            "A-us-dominant-surge",
            "A",
            big.name,
            surge_day,
            surge_hour,
            3,
            "positive",
            (Effect("traffic", "geography", "US", 1.8),),
            "US visitors, most of this shop's traffic, surge while the rest stays flat.",
        ),
    )


def _reweighted(weights: list[float], fixed: dict[int, float]) -> tuple[float, ...]:
    """`weights` with the entries of `fixed` set, the others scaled to fill the rest."""
    others = sum(weight for index, weight in enumerate(weights) if index not in fixed)
    rest = 1.0 - sum(fixed.values())
    return tuple(fixed.get(index, weight * rest / others) for index, weight in enumerate(weights))


def combinations_spec(
    shops: int = 3, days: int = 56, events: int = SAMPLE_EVENTS, seed: int = 41
) -> SampleSpec:
    """The default spec's shops and incidents, its largest shop social-first and selling
    mostly to the US, with the combination incidents added."""
    spec = default_spec(shops=shops, days=days, events=events, seed=seed)
    channel_index = {channel[0][0]: index for index, channel in enumerate(CHANNELS)}
    social_first = _reweighted(
        [channel[2] for channel in CHANNELS],
        {channel_index[source]: share for source, share in SOCIAL_FIRST_CHANNELS.items()},
    )
    mostly_us = _reweighted(GEOGRAPHY_WEIGHTS, {GEOGRAPHIES.index("US"): DOMINANT_US_SHARE})
    big = dataclasses.replace(
        spec.shops[0], channel_weights=social_first, geography_weights=mostly_us
    )
    shops_of = (big, *spec.shops[1:])
    incidents = (*spec.incidents, *combination_incidents(shops_of, days, spec.start))
    return dataclasses.replace(spec, shops=shops_of, incidents=incidents)


def daily_shape(local_hour: np.ndarray, is_weekend: np.ndarray) -> np.ndarray:
    """Relative traffic by the local hour of the day: weekdays peak in the evening with a
    lunch bump; weekend days start later and peak later and higher in the evening."""
    weekday = 0.58 + 0.42 * np.cos(2 * np.pi * (local_hour - 19) / 24)
    weekday = np.clip(weekday + 0.1 * np.exp(-((local_hour - 12) ** 2) / 6), 0.14, None)
    weekend = 0.48 + 0.52 * np.cos(2 * np.pi * (local_hour - 20.5) / 24)
    weekend = np.clip(weekend + 0.05 * np.exp(-((local_hour - 14) ** 2) / 8), 0.08, None)
    return np.where(is_weekend, 1.15 * weekend, weekday)


def trend(day_index: np.ndarray, days: int) -> np.ndarray:
    """A gentle growth whose slope turns down after 60% of the window."""
    fraction = day_index / max(days, 1)
    turn = 0.6
    return np.where(
        fraction < turn, 1.0 + 0.25 * fraction, 1.0 + 0.25 * turn - 0.15 * (fraction - turn)
    )


def relative_traffic(shop: Shop, spec: SampleSpec, with_level_changes: bool) -> np.ndarray:
    """Each UTC hour's expected arrivals relative to the shop's peak, without incidents;
    `with_level_changes` includes a campaign's new level, which is what is normal after its
    first day (the generator applies it as an incident)."""
    local_hour, weekday = _local_clock(spec, shop.time_zone)
    hours = np.arange(spec.days * 24)
    profile = daily_shape(local_hour, weekday >= 5) * trend(hours // 24, spec.days) / 1.15
    for first, last, incident in _incident_hours(spec, shop.name):
        if with_level_changes and incident.labelled_hours is not None:
            for effect in incident.effects:
                if effect.step == "traffic" and effect.dimension is None:
                    profile[first : last + 1] *= effect.multiplier
    return profile


# Parts of a combination joined as fct_anomaly_hours joins them.
SEGMENT_SEPARATOR = PART_SEPARATOR
# The order combinations are named in, as the pipeline names them.
SEGMENT_DIMENSIONS = LEAF_DIMENSIONS
# The dimensions each metric is broken down by: landing page views by their own utm
# values, the later steps by their session's landing's.
LANDING_DIMENSIONS = ("device", "geography", "utm_source", "utm_medium")
LATER_STEP_DIMENSIONS = ("device", "geography", "session_utm_source", "session_utm_medium")
METRIC_DIMENSIONS = {
    "landing_page_views": LANDING_DIMENSIONS,
    "product_views": LATER_STEP_DIMENSIONS,
    "add_to_cart": LATER_STEP_DIMENSIONS,
    "checkout_started": LATER_STEP_DIMENSIONS,
    "checkout_completed": LATER_STEP_DIMENSIONS,
}
SESSION_PREFIX = "session_"


def segment_parts(dimension: str, value: str) -> list[tuple[str, str]]:
    """A segment's (dimension, value) pairs: `device & utm_source`, `iOS & fbig`."""
    return list(
        zip(dimension.split(SEGMENT_SEPARATOR), value.split(SEGMENT_SEPARATOR), strict=True)
    )


def segment_seen_by(metric: str, dimension: str, value: str) -> dict | None:
    """The segment as a metric's breakdown shows it: a landing's utm values are its
    session's in the later steps (`utm_source` -> `session_utm_source`); None when the
    metric has none of its dimensions."""
    dimensions = METRIC_DIMENSIONS[metric]
    parts = []
    for part, part_value in segment_parts(dimension, value):
        if part not in dimensions and SESSION_PREFIX + part in dimensions:
            part = SESSION_PREFIX + part
        if part in dimensions:
            parts.append((part, part_value))
    if not parts:
        return None
    parts.sort(key=lambda pair: SEGMENT_DIMENSIONS.index(pair[0]))
    return {
        "dimension": SEGMENT_SEPARATOR.join(d for d, _ in parts),
        "value": SEGMENT_SEPARATOR.join(v for _, v in parts),
    }


def _same_visitors(cause: dict) -> tuple[str, str]:
    """A cause as fct_anomaly_groups compares them: a session's utm values as its landing's."""
    return cause["dimension"].replace(SESSION_PREFIX + "utm_", "utm_"), cause["value"]


def _weights(values: list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array / array.sum()


def _session_segments(
    rng: np.random.Generator, count: int, shop: Shop | None = None
) -> dict[str, np.ndarray]:
    """Draw each session's geography, user agent and channel (the shop's mix, if it has
    its own), as indices into the tables."""
    geography = _weights(list((shop and shop.geography_weights) or GEOGRAPHY_WEIGHTS))
    channels = _weights(list((shop and shop.channel_weights) or [c[2] for c in CHANNELS]))
    return {
        "geography": rng.choice(len(GEOGRAPHIES), count, p=geography),
        "user_agent": rng.choice(
            len(USER_AGENTS), count, p=_weights([ua[3] for ua in USER_AGENTS])
        ),
        "channel": rng.choice(len(CHANNELS), count, p=channels),
    }


def _segment_mask(segments: dict[str, np.ndarray], dimension: str | None, value: str | None):
    count = len(segments["geography"])
    if dimension is None:
        return np.ones(count, dtype=bool)
    if SEGMENT_SEPARATOR in dimension:
        mask = np.ones(count, dtype=bool)
        for part, part_value in segment_parts(dimension, value):
            mask &= _segment_mask(segments, part, part_value)
        return mask
    if dimension == "geography":
        return segments["geography"] == GEOGRAPHIES.index(value)
    if dimension == "device":
        matching = [i for i, ua in enumerate(USER_AGENTS) if ua[1] == value]
        return np.isin(segments["user_agent"], matching)
    if dimension in ("utm_source", "utm_medium"):
        position = 0 if dimension == "utm_source" else 1
        matching = [i for i, c in enumerate(CHANNELS) if c[0][position] == value]
        return np.isin(segments["channel"], matching)
    raise ValueError(f"unknown dimension {dimension!r}")


def _multiplier(
    step: str,
    segments: dict[str, np.ndarray],
    session_hours: np.ndarray,
    incidents: list[tuple[int, int, Incident]],
) -> np.ndarray:
    """The product of every incident effect on `step` that applies to each session."""
    result = np.ones(len(session_hours))
    for first_hour, last_hour, incident in incidents:
        in_window = (session_hours >= first_hour) & (session_hours <= last_hour)
        for effect in incident.effects:
            if effect.step == step:
                hit = in_window & _segment_mask(segments, effect.dimension, effect.value)
                result[hit] *= effect.multiplier
    return result


def _shop_sessions(rng, shop: Shop, spec: SampleSpec, incidents) -> dict[str, np.ndarray]:
    """Sessions of one shop: arrival time and segment, with traffic incidents applied."""
    hours = np.arange(spec.days * 24)
    rate = shop.peak_sessions_per_hour * relative_traffic(shop, spec, with_level_changes=False)
    # Noise beyond Poisson: each hour's rate wobbles (mean one) by the shop's own amount.
    rate *= rng.lognormal(-(shop.hour_noise**2) / 2, shop.hour_noise, size=len(hours))
    # Traffic incidents thin (or multiply) arrivals: draw at the highest rate, then keep each
    # session with probability multiplier / highest multiplier of its hour.
    boost = np.ones(len(hours))
    for first_hour, last_hour, incident in incidents:
        for effect in incident.effects:
            if effect.step == "traffic" and effect.multiplier > 1:
                boost[first_hour : last_hour + 1] *= effect.multiplier
    arrivals = rng.poisson(rate * boost)
    session_hours = np.repeat(hours, arrivals)
    segments = _session_segments(rng, len(session_hours), shop)
    keep_probability = _multiplier("traffic", segments, session_hours, incidents)
    keep_probability /= boost[session_hours]
    kept = rng.random(len(session_hours)) < keep_probability
    session_hours = session_hours[kept]
    segments = {name: values[kept] for name, values in segments.items()}
    offsets = rng.random(len(session_hours)) * 3600.0
    return {"hour": session_hours, "start_seconds": session_hours * 3600.0 + offsets, **segments}


def _funnel_counts(rng, sessions, incidents) -> dict[str, np.ndarray]:
    """How many events of each kind every session emits, incidents applied."""
    count = len(sessions["hour"])
    reached = np.ones(count, dtype=bool)
    counts: dict[str, np.ndarray] = {}
    for step, probability in FUNNEL_STEP_PROBABILITY.items():
        step_probability = probability * _multiplier(step, sessions, sessions["hour"], incidents)
        reached = reached & (rng.random(count) < np.clip(step_probability, 0.0, 1.0))
        counts[step] = reached.astype(np.int64)
    extra_views = rng.poisson(MEAN_EXTRA_PRODUCT_VIEWS, count)
    view_multiplier = _multiplier("product_view_count", sessions, sessions["hour"], incidents)
    counts["product_view"] = counts["product_view"] * np.round(
        (1 + extra_views) * view_multiplier
    ).astype(np.int64)
    counts["add_to_cart"] = counts["add_to_cart"] * (1 + rng.poisson(0.3, count))
    counts["page_view"] = rng.poisson(MEAN_EXTRA_PAGE_VIEWS, count)
    counts["ignored"] = rng.poisson(MEAN_IGNORED_EVENTS, count)
    return counts


def _channel_strings(rng, channel: np.ndarray) -> tuple[list, list]:
    sources, mediums = [], []
    spelling = rng.random(len(channel))
    for index, pick in zip(channel, spelling, strict=True):
        spellings = CHANNELS[index][1]
        source, medium = spellings[int(pick * len(spellings))]
        sources.append(source)
        mediums.append(medium)
    return sources, mediums


def _shop_events(rng, shop: Shop, spec: SampleSpec, incidents) -> pa.Table:
    sessions = _shop_sessions(rng, shop, spec, incidents)
    counts = _funnel_counts(rng, sessions, incidents)
    names = EVENT_NAMES[shop.naming]
    session_count = len(sessions["hour"])
    session_ids = np.array(
        [f"{shop.name[:3]}-{spec.seed}-{i:08d}" for i in range(session_count)], dtype=object
    )

    # Per session: which user agent string and device_type the pixel sends.
    ua_index = sessions["user_agent"]
    ua_missing = rng.random(session_count) < MISSING_USER_AGENT_RATE
    user_agents = np.empty(session_count, dtype=object)
    for family_index, (family, *_) in enumerate(USER_AGENTS):
        in_family = ua_index == family_index
        user_agents[in_family] = pixel_strings.user_agents(rng, family, int(in_family.sum()))
    user_agents[ua_missing] = None
    device_types = np.array([ua[2] for ua in USER_AGENTS], dtype=object)[ua_index]
    fallback = np.array(
        [DEVICE_TYPE_WITHOUT_USER_AGENT[ua[1]] for ua in USER_AGENTS], dtype=object
    )[ua_index]
    device_types[ua_missing] = fallback[ua_missing]

    geographies = np.array(GEOGRAPHIES, dtype=object)[sessions["geography"]]
    missing_geo = rng.random(session_count) < MISSING_GEOGRAPHY_RATE
    padded_geo = ~missing_geo & (rng.random(session_count) < PADDED_GEOGRAPHY_RATE)
    geographies[padded_geo] = np.char.add(" ", geographies[padded_geo].astype(str)) + " "
    geographies[missing_geo] = None

    sources, mediums = _channel_strings(rng, sessions["channel"])
    channels = [CHANNELS[index][0] for index in sessions["channel"]]
    landing_urls = pixel_strings.landing_urls(rng, shop.name, sources, mediums, channels)
    utm_only_in_url = rng.random(session_count) < UTM_ONLY_IN_URL_RATE
    utm_source_column = np.array(sources, dtype=object)
    utm_medium_column = np.array(mediums, dtype=object)
    utm_source_column[utm_only_in_url] = None
    utm_medium_column[utm_only_in_url] = None

    # Every event: (session index, name, seconds after the session start, is landing).
    session_duration = rng.exponential(420.0, session_count) + 30.0
    parts = []

    def add(kind_counts: np.ndarray, name_choices, stage: float) -> None:
        session_index = np.repeat(np.arange(session_count), kind_counts)
        if isinstance(name_choices, tuple):
            event_names = rng.choice(name_choices, len(session_index))
        else:
            event_names = np.full(len(session_index), name_choices, dtype=object)
        # Later funnel steps happen later in the session; the landing view comes first.
        fraction = (stage + rng.random(len(session_index))) / 5.0
        seconds = 1.0 + fraction * session_duration[session_index]
        parts.append((session_index, event_names.astype(object), seconds, False))

    landing_index = np.arange(session_count)
    parts.append(
        (
            landing_index,
            np.full(session_count, names["landing"], dtype=object),
            np.zeros(session_count),
            True,
        )
    )
    add(counts["page_view"], names["page_view"], 0.0)
    add(counts["ignored"], names["ignored"], 0.0)
    add(counts["product_view"], names["product_view"], 1.0)
    add(counts["add_to_cart"], names["add_to_cart"], 2.0)
    add(counts["checkout_started"], names["checkout_started"], 3.0)
    add(counts["checkout_completed"], names["checkout_completed"], 4.0)

    session_index = np.concatenate([p[0] for p in parts])
    event_names = np.concatenate([p[1] for p in parts])
    seconds = np.concatenate([p[2] for p in parts])
    is_landing = np.concatenate([np.full(len(p[0]), p[3]) for p in parts])

    page_urls = pixel_strings.browsing_urls(rng, shop.name, len(session_index))
    page_urls[is_landing] = landing_urls[session_index[is_landing]]
    # utm columns travel with the landing hit only, as a pixel reads them off the landing URL.
    utm_source = np.full(len(session_index), None, dtype=object)
    utm_medium = np.full(len(session_index), None, dtype=object)
    utm_source[is_landing] = utm_source_column[session_index[is_landing]]
    utm_medium[is_landing] = utm_medium_column[session_index[is_landing]]

    epoch_us = int(spec.start.timestamp() * 1_000_000)
    timestamps_us = epoch_us + np.round(
        (sessions["start_seconds"][session_index] + seconds) * 1_000_000
    ).astype(np.int64)

    # Session attributes are dictionary-encoded before being spread over the session's
    # events: 30 million user agents as plain strings would overflow a string array.
    def per_session(values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.string()).dictionary_encode().take(session_index)

    event_count = len(session_index)
    return pa.table(
        {
            "event_type": pa.array(np.full(event_count, "standard", dtype=object)),
            "event_name": pa.array(event_names, pa.string()).dictionary_encode(),
            "event_timestamp": pa.array(timestamps_us, pa.timestamp("us", tz="UTC")),
            "shop": pa.array(np.full(event_count, shop.name, dtype=object)).dictionary_encode(),
            "page_url": pa.array(page_urls, pa.string()).dictionary_encode(),
            "user_agent": per_session(user_agents),
            "session_id": pa.array(session_ids, pa.string()).take(session_index),
            "device_type": per_session(device_types),
            "utm_source": pa.array(utm_source, pa.string()).dictionary_encode(),
            "utm_medium": pa.array(utm_medium, pa.string()).dictionary_encode(),
            "geography": per_session(geographies),
        }
    )


def _incident_hours(spec: SampleSpec, shop: str) -> list[tuple[int, int, Incident]]:
    return [
        (i.start_day * 24 + i.start_hour, i.start_day * 24 + i.start_hour + i.hours - 1, i)
        for i in spec.incidents
        if i.shop == shop
    ]


def generate_shop_events(spec: SampleSpec) -> Iterator[pa.Table]:
    """Each shop's events in turn, a few of them double-fired (exact duplicates)."""
    rng = np.random.default_rng(spec.seed)
    for shop in spec.shops:
        events = _shop_events(rng, shop, spec, _incident_hours(spec, shop.name))
        duplicated = rng.random(events.num_rows) < DUPLICATE_RATE
        yield pa.concat_tables([events, events.filter(pa.array(duplicated))])


def generate_events(spec: SampleSpec) -> pa.Table:
    """All shops' events in one table of plain strings (for tests and small data sets)."""
    events = pa.concat_tables(generate_shop_events(spec), promote_options="permissive")
    plain = pa.schema(
        pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
        for f in events.schema
    )
    return events.cast(plain)


# Variance over mean of each metric's hourly count: a session views 1 + Poisson(1)
# products when it views any, and adds 1 + Poisson(0.3) items when it adds any.
DISPERSION = {
    "landing_page_views": 1.0,
    "product_views": 2.5,
    "add_to_cart": 1.53,
    "checkout_started": 1.0,
    "checkout_completed": 1.0,
}
# A metric "should move" when, at the strongest hour of the incident, its expected count
# is this many noise levels (of sqrt(count)) away from its count without the incident:
# comfortably past the detector's default threshold of 4, so that recall is fair. Between
# POSSIBLE_SCORE and that, a detector may or may not see it: such metrics are listed as
# possible, count neither for nor against recall, and widen the acceptable scenarios.
DETECTABLE_SCORE = 5.5
POSSIBLE_SCORE = 2.5
# An effect is a metric's root cause when it makes at least this share of the change.
ROOT_CAUSE_SHARE = 0.6
LABEL_SAMPLE_SESSIONS = 200_000


def _expected_events_per_session(
    segments: dict[str, np.ndarray], effects: tuple[Effect, ...]
) -> dict[str, float]:
    """Mean events of each metric per session arriving without the incident, with the
    effects applied (traffic effects thin or multiply the sessions themselves)."""
    hours = np.zeros(len(segments["geography"]), dtype=np.int64)
    window = [(0, 0, Incident("", "", "", 0, 0, 1, "", effects))]
    traffic = _multiplier("traffic", segments, hours, window)
    probability = {
        step: np.clip(base * _multiplier(step, segments, hours, window), 0.0, 1.0)
        for step, base in FUNNEL_STEP_PROBABILITY.items()
    }
    views = probability["product_view"]
    carts = views * probability["add_to_cart"]
    started = carts * probability["checkout_started"]
    view_count = (1 + MEAN_EXTRA_PRODUCT_VIEWS) * _multiplier(
        "product_view_count", segments, hours, window
    )
    per_session = {
        "landing_page_views": np.ones(len(hours)),
        "product_views": views * view_count,
        "add_to_cart": carts * 1.3,
        "checkout_started": started,
        "checkout_completed": started * probability["checkout_completed"],
    }
    return {metric: float(np.mean(traffic * values)) for metric, values in per_session.items()}


def _incident_metrics(spec: SampleSpec, incident: Incident, segments) -> tuple[dict, dict]:
    """The metrics the incident moves clearly and those it may move detectably, each
    with its root cause (the dimension value of the effect that makes most of the change,
    or None)."""
    shop = next(s for s in spec.shops if s.name == incident.shop)
    first_hour = incident.start_day * 24 + incident.start_hour
    window = np.arange(first_hour, first_hour + (incident.labelled_hours or incident.hours))
    window = window[window < spec.days * 24]
    profile = relative_traffic(shop, spec, with_level_changes=False)
    sessions = shop.peak_sessions_per_hour * profile[window]
    effects = incident.seen_effects if incident.seen_effects is not None else incident.effects
    baseline = _expected_events_per_session(segments, ())
    with_incident = _expected_events_per_session(segments, effects)
    alone = {effect: _expected_events_per_session(segments, (effect,)) for effect in effects}
    clear, possible = {}, {}
    for metric, usual in baseline.items():
        before = sessions * usual
        after = sessions * with_incident[metric]
        noise = 0.5 * np.sqrt(DISPERSION[metric] + before * np.expm1(shop.hour_noise**2))
        offset = forecasting.STABILIZING_OFFSET
        score = np.abs(np.sqrt(after + offset) - np.sqrt(before + offset)) / noise
        if score.max() < POSSIBLE_SCORE:
            continue
        change = with_incident[metric] - usual
        cause = None
        for effect, moved in alone.items():
            share = (moved[metric] - usual) / change
            if effect.dimension is not None and share >= ROOT_CAUSE_SHARE:
                cause = segment_seen_by(metric, effect.dimension, effect.value)
        (clear if score.max() >= DETECTABLE_SCORE else possible)[metric] = cause
    return clear, possible


def scenario_of(metrics: dict, hours: int) -> str | None:
    """The scenario rule of fct_anomaly_groups, applied to what an incident should show."""
    if not metrics:
        return None
    if len(metrics) == 1 or hours == 1:
        return "D"
    causes = {_same_visitors(c) for c in metrics.values() if c is not None}
    if not causes:
        return "C"
    return "A" if len(causes) == 1 else "B"


def labels(spec: SampleSpec) -> dict:
    """The incidents as the evaluation reads them: UTC windows, the metrics each moves
    detectably with their root-cause dimension value (or none), and the scenario."""
    segments_of = {
        shop.name: _session_segments(
            np.random.default_rng(spec.seed + 1), LABEL_SAMPLE_SESSIONS, shop
        )
        for shop in spec.shops
    }
    incidents = []
    for incident in spec.incidents:
        segments = segments_of[incident.shop]
        start_at = spec.start + timedelta(days=incident.start_day, hours=incident.start_hour)
        end_at = start_at + timedelta(hours=(incident.labelled_hours or incident.hours) - 1)
        metrics, possible = _incident_metrics(spec, incident, segments)
        acceptable = set()
        for subset in range(2 ** len(possible)):
            seen = dict(metrics)
            seen.update(
                (metric, cause)
                for position, (metric, cause) in enumerate(possible.items())
                if subset >> position & 1
            )
            acceptable.add(scenario_of(seen, incident.labelled_hours or incident.hours))
        incidents.append(
            {
                "incident_id": incident.incident_id,
                "shop": incident.shop,
                "start_at": start_at.strftime("%Y-%m-%d %H:%M:%S"),
                "end_at": end_at.strftime("%Y-%m-%d %H:%M:%S"),
                "direction": incident.direction,
                "metrics": metrics,
                "possible_metrics": possible,
                "scenario": scenario_of(metrics, incident.labelled_hours or incident.hours),
                "acceptable_scenarios": sorted(x for x in acceptable if x is not None),
                "intended_scenario": incident.intended_scenario,
                "effects": [asdict(effect) for effect in incident.effects],
                "description": incident.description,
            }
        )
    return {
        "seed": spec.seed,
        "start_at": spec.start.strftime("%Y-%m-%d %H:%M:%S"),
        "days": spec.days,
        "shops": [asdict(shop) for shop in spec.shops],
        "incidents": incidents,
    }


def labels_path_for(events_path: Path) -> Path:
    return events_path.with_name(events_path.stem + ".labels.json")


def truth_path_for(events_path: Path) -> Path:
    return events_path.with_name(events_path.stem + ".truth.parquet")


def truth(spec: SampleSpec) -> pd.DataFrame:
    """Every UTC hour's true expected count of each metric's total, without incidents
    (a campaign's level after its first day included), and the true variance of the
    count: Poisson arrivals at a rate that wobbles log-normally by the shop's hour noise,
    each session adding its events (DISPERSION: their variance over mean)."""
    segments = _session_segments(np.random.default_rng(spec.seed + 1), LABEL_SAMPLE_SESSIONS)
    per_session = _expected_events_per_session(segments, ())
    hours = pd.date_range(spec.start, periods=spec.days * 24, freq="h").tz_localize(None)
    frames = []
    for shop in spec.shops:
        sessions = shop.peak_sessions_per_hour * relative_traffic(
            shop, spec, with_level_changes=True
        )
        for metric, mean_per_session in per_session.items():
            expected = sessions * mean_per_session
            frames.append(
                pd.DataFrame(
                    {
                        "shop": shop.name,
                        "hour_at": hours,
                        "metric": metric,
                        "expected": expected,
                        "variance": expected * DISPERSION[metric]
                        + expected**2 * np.expm1(shop.hour_noise**2),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def write_sample(spec: SampleSpec, path: Path) -> tuple[int, Path]:
    """Write the events Parquet (one shop at a time) and its labels JSON; return the rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".partial")
    rows = 0
    writer = None
    try:
        for events in generate_shop_events(spec):
            if writer is None:
                writer = pq.ParquetWriter(scratch, events.schema)
            writer.write_table(events.cast(writer.schema), row_group_size=1_000_000)
            rows += events.num_rows
    finally:
        if writer is not None:
            writer.close()
    scratch.replace(path)
    labels_path = labels_path_for(path)
    labels_path.write_text(json.dumps(labels(spec), indent=2) + "\n")
    truth(spec).to_parquet(truth_path_for(path), index=False)
    return rows, labels_path
