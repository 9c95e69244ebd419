"""Each shop's local time and the days that may move it, from two seeds users edit:
`shop_settings.csv` (shop, IANA time zone, ISO country code; a shop not listed is UTC with
no country) and `promotions_calendar.csv` (a shop or `*`, a name, the day, the days before
and after it reaches, and optionally its expected lift). Countries' holidays are Prophet's
(the `holidays` package behind `prophet.make_holidays`)."""

from __future__ import annotations

import zoneinfo
from pathlib import Path

import duckdb
import holidays as holiday_calendars
import numpy as np
import pandas as pd

from funnel_anomalies.errors import InputError
from funnel_anomalies.forecasting import Calendar
from funnel_anomalies.project import DBT_PROJECT_DIR

SHOP_SETTINGS = DBT_PROJECT_DIR / "seeds" / "shop_settings.csv"
PROMOTIONS = DBT_PROJECT_DIR / "seeds" / "promotions_calendar.csv"


def check_seeds(shop_settings: Path = SHOP_SETTINGS, promotions: Path = PROMOTIONS) -> None:
    """Every time zone, country and lift in the seeds is one the forecasts can use."""
    settings = pd.read_csv(shop_settings, dtype=str, keep_default_na=False)
    zones = zoneinfo.available_timezones()
    countries = holiday_calendars.list_supported_countries()
    for line, row in enumerate(settings.itertuples(index=False), start=2):
        if row.time_zone and row.time_zone not in zones:
            raise InputError(
                f"{shop_settings}: line {line}: column time_zone: {row.time_zone!r} is not an "
                "IANA time zone (e.g. Europe/Berlin)"
            )
        if row.country and row.country not in countries:
            raise InputError(
                f"{shop_settings}: line {line}: column country: {row.country!r} is not a "
                "country code the holidays calendar knows (e.g. US, DE)"
            )
    if settings["shop"].duplicated().any():
        shop = settings.loc[settings["shop"].duplicated(), "shop"].iloc[0]
        raise InputError(f"{shop_settings}: column shop: {shop!r} is listed twice")
    lifts = pd.read_csv(promotions, dtype=str, keep_default_na=False)["expected_lift"]
    for line, lift in enumerate(lifts, start=2):
        if lift and not (_is_number(lift) and float(lift) > 0):
            raise InputError(
                f"{promotions}: line {line}: column expected_lift: {lift!r} is not a positive "
                "number (1.5 for a promotion expected to lift traffic by half)"
            )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_calendar(con: duckdb.DuckDBPyConnection, shop: str) -> Calendar:
    """The shop's time zone, and its country's holidays and the promotions that touch
    the years of its hourly series, as one frame of days."""
    setting = con.execute(
        "select time_zone, country from shop_settings where shop = ?", [shop]
    ).fetchone()
    time_zone = (setting[0] if setting else None) or "UTC"
    country = (setting[1] if setting else None) or None
    first, last = con.execute(
        "select min(hour_at), max(hour_at) from fct_hourly_metrics where shop = ?", [shop]
    ).fetchone()
    promotions = con.execute(
        """
        select
            holiday,
            cast(ds as timestamp) as ds,
            lower_window,
            upper_window,
            cast(expected_lift as double) as expected_lift,
        from promotions_calendar
        where shop = ? or shop = '*'
        """,
        [shop],
    ).df()
    frames = [promotions] if len(promotions) else []
    if country and first is not None:
        from prophet.make_holidays import make_holidays_df

        years = list(range(first.year - 1, last.year + 2))
        national = make_holidays_df(year_list=years, country=country)
        frames.append(
            national.assign(lower_window=0, upper_window=0, expected_lift=np.nan)[
                ["holiday", "ds", "lower_window", "upper_window", "expected_lift"]
            ]
        )
    if not frames:
        return Calendar(time_zone, None)
    days = pd.concat(frames, ignore_index=True)
    days["ds"] = pd.to_datetime(days["ds"])
    days = days.sort_values(["ds", "holiday"], ignore_index=True)
    return Calendar(time_zone, days)
