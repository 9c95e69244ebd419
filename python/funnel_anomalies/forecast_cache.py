"""Fitted totals kept on disk between runs, keyed on the series and the settings.

A fit is reused only when the hours, the counts, the settings, the holidays and the code
of forecasting.py are all the same, so a cached result is exactly what a new fit would
compute. Each (shop, metric) also keeps its latest Prophet parameters: when the
series did change (an hour was added), the new fit starts from them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from funnel_anomalies import forecasting
from funnel_anomalies.forecasting import Calendar, ForecastSettings, SeriesForecast, TotalFit

# Any change to the fitting code invalidates every cached fit.
CODE_VERSION = hashlib.sha256(Path(forecasting.__file__).read_bytes()).hexdigest()


def cache_key(
    hours: pd.DatetimeIndex,
    counts: np.ndarray,
    settings: ForecastSettings,
    calendar: Calendar,
) -> str:
    digest = hashlib.sha256()
    digest.update(CODE_VERSION.encode())
    digest.update(json.dumps(settings.as_dict(), sort_keys=True).encode())
    digest.update(np.asarray(hours.asi8).tobytes())
    digest.update(np.asarray(counts, dtype=float).tobytes())
    digest.update(calendar.time_zone.encode())
    if calendar.days is not None:
        digest.update(calendar.days.to_csv(index=False).encode())
    return digest.hexdigest()


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


class ForecastCache:
    """A folder of fitted totals; `None` as the folder turns caching off."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        if directory is not None:
            (directory / "fits").mkdir(parents=True, exist_ok=True)
            (directory / "warm").mkdir(parents=True, exist_ok=True)

    def load(self, key: str) -> tuple[TotalFit, str] | None:
        """The cached fit and when it was fitted, or None."""
        if self.directory is None:
            return None
        path = self.directory / "fits" / f"{key}.npz"
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            forecast = SeriesForecast(
                expected=stored["expected"],
                lower=stored["lower"],
                upper=stored["upper"],
                noise_scale=stored["noise_scale"],
                status=meta["status"],
                excluded_hours=meta["excluded_hours"],
                score_threshold=meta["score_threshold"],
                noise_degrees_of_freedom=meta["noise_degrees_of_freedom"],
                noise_autocorrelation=meta["noise_autocorrelation"],
            )
            holiday = np.array(meta["holiday"], dtype=object) if meta["holiday"] else None
            holiday_is_expected = stored.get("holiday_is_expected")
            fit = TotalFit(
                forecast,
                stored["is_outlier"],
                0,
                meta["params"],
                meta["level_half_life_hours"],
                meta["backtest_mae"],
                holiday,
                holiday_is_expected,
            )
        return fit, meta["fitted_at"]

    def save(self, key: str, fit: TotalFit, fitted_at: str) -> None:
        if self.directory is None:
            return
        meta = {
            "status": fit.forecast.status,
            "excluded_hours": fit.forecast.excluded_hours,
            "score_threshold": fit.forecast.score_threshold,
            "noise_degrees_of_freedom": fit.forecast.noise_degrees_of_freedom,
            "noise_autocorrelation": fit.forecast.noise_autocorrelation,
            "params": fit.warm_start,
            "level_half_life_hours": fit.level_half_life_hours,
            "backtest_mae": fit.backtest_mae,
            "holiday": list(fit.holiday) if fit.holiday is not None else None,
            "fitted_at": fitted_at,
        }
        arrays = {}
        if fit.holiday_is_expected is not None:
            arrays["holiday_is_expected"] = fit.holiday_is_expected
        path = self.directory / "fits" / f"{key}.npz"
        partial = path.with_name(path.name + ".partial.npz")
        np.savez(
            partial,
            expected=fit.forecast.expected,
            lower=fit.forecast.lower,
            upper=fit.forecast.upper,
            noise_scale=fit.forecast.noise_scale,
            is_outlier=fit.is_outlier,
            meta=json.dumps(meta),
            **arrays,
        )
        partial.replace(path)

    def warm_start(self, shop: str, metric: str) -> dict | None:
        if self.directory is None:
            return None
        path = self.directory / "warm" / f"{_file_name(shop)}__{metric}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def remember_warm_start(self, shop: str, metric: str, params: dict) -> None:
        if self.directory is None or not params:
            return
        path = self.directory / "warm" / f"{_file_name(shop)}__{metric}.json"
        path.write_text(json.dumps(params))
