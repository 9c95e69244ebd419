"""Totals' models and values' noise fits kept on disk between runs, keyed on what they
learn from.

A model is learnt once a day from the hours before that day (forecasting.training_hours).
It is reused only when those hours, their counts, the settings, the calendar and the code
of forecasting.py are all the same; a model depends on nothing else, so a cached one is
exactly what learning it again would give. A dimension value's noise is learnt from the
same hours, so every run of a day fits it on the same residuals: a fit is kept under the
digest of its inputs and reused only for the very same ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from funnel_anomalies import forecasting
from funnel_anomalies.forecasting import Calendar, ForecastSettings, NoiseModel, TotalModel

# Any change to the fitting code invalidates every cached model.
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


def _noise_key(residuals: np.ndarray, level: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(CODE_VERSION.encode())
    digest.update(np.int64(len(residuals)).tobytes())
    digest.update(np.asarray(residuals, dtype=float).tobytes())
    digest.update(np.asarray(level, dtype=float).tobytes())
    return digest.hexdigest()


class ForecastCache:
    """A folder of learnt models and noise fits; `None` as the folder turns caching off.
    A cache that `relearns` reads none of them and writes every one it is given (a full
    rebuild)."""

    NOISE_FITS = "noise-fits.json"

    def __init__(self, directory: Path | None, relearns: bool = False):
        self.directory = directory
        self.relearns = relearns
        self._noise_fits_kept: dict[str, dict] | None = None
        self._noise_fits_used: dict[str, dict] = {}
        if directory is not None:
            (directory / "models").mkdir(parents=True, exist_ok=True)

    def fit_noise(self, residuals: np.ndarray, level: np.ndarray) -> NoiseModel:
        """forecasting.fit_noise of these inputs, from the cache when an earlier run fitted
        the very same ones."""
        key = _noise_key(residuals, level)
        if self._noise_fits_kept is None:
            self._noise_fits_kept = self._read_noise_fits()
        fitted = self._noise_fits_kept.get(key)
        if fitted is None:
            fitted = asdict(forecasting.fit_noise(residuals, level))
        self._noise_fits_used[key] = fitted
        return NoiseModel(**fitted)

    def _read_noise_fits(self) -> dict[str, dict]:
        path = None if self.directory is None else self.directory / self.NOISE_FITS
        if path is None or self.relearns:
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # none kept yet, or unreadable: fit them again
            return {}

    def keep_noise_fits(self) -> None:
        """Write this run's noise fits for the next run, replacing the last run's: a day's
        fits are reused within the day, and an older day's are never met again."""
        if self.directory is None:
            return
        path = self.directory / self.NOISE_FITS
        # A name of this process's own: builds of two databases may share the folder.
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(self._noise_fits_used))
        partial.replace(path)

    def _path(self, key: str) -> Path:
        return self.directory / "models" / f"{key}.npz"

    def load(self, key: str) -> tuple[TotalModel, str] | None:
        """The cached model and when it was learnt, or None."""
        if self.directory is None or self.relearns or not self._path(key).exists():
            return None
        with np.load(self._path(key), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            learnt_at = meta.pop("learnt_at")
            model = TotalModel(
                **meta
                | {
                    "shape": stored["shape"],
                    "usual": stored["usual"],
                    "first_noise": NoiseModel(**meta["first_noise"]),
                    "noise": NoiseModel(**meta["noise"]),
                }
            )
        return model, learnt_at

    def save(self, key: str, model: TotalModel, learnt_at: str) -> None:
        if self.directory is None:
            return
        meta = {
            name: value
            for name, value in asdict(model).items()
            if name not in ("shape", "usual", "first_noise", "noise")
        }
        meta |= {
            "first_noise": asdict(model.first_noise),
            "noise": asdict(model.noise),
            "learnt_at": learnt_at,
        }
        path = self._path(key)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial.npz")
        np.savez(partial, shape=model.shape, usual=model.usual, meta=json.dumps(meta))
        partial.replace(path)
