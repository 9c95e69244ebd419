"""Totals' models kept on disk between runs, keyed on what they learn from.

A model is learnt once a day from the hours before that day (forecasting.training_hours).
It is reused only when those hours, their counts, the settings, the calendar and the code
of forecasting.py are all the same; a model depends on nothing else, so a cached one is
exactly what learning it again would give.
"""

from __future__ import annotations

import hashlib
import json
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


class ForecastCache:
    """A folder of learnt models; `None` as the folder turns caching off. A cache that
    `relearns` reads none of its models and writes every model it is given (a full
    rebuild)."""

    def __init__(self, directory: Path | None, relearns: bool = False):
        self.directory = directory
        self.relearns = relearns
        if directory is not None:
            (directory / "models").mkdir(parents=True, exist_ok=True)

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
        partial = path.with_name(path.name + ".partial.npz")
        np.savez(partial, shape=model.shape, usual=model.usual, meta=json.dumps(meta))
        partial.replace(path)
