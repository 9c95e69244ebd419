"""The cache of noise fits: a fit is reused for the very same inputs and for nothing else."""

from __future__ import annotations

import json

import numpy as np

from funnel_anomalies import forecasting
from funnel_anomalies.forecast_cache import ForecastCache


def test_a_noise_fit_is_reused_only_for_the_same_inputs(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    level = rng.uniform(1.0, 50.0, 200)
    residuals = rng.standard_normal(200) * 0.6
    first_run = ForecastCache(tmp_path)
    fitted = first_run.fit_noise(residuals, level)
    assert fitted == forecasting.fit_noise(residuals, level)
    first_run.keep_noise_fits()

    fits = []
    fit_noise = forecasting.fit_noise
    monkeypatch.setattr(
        forecasting, "fit_noise", lambda *inputs: fits.append(inputs) or fit_noise(*inputs)
    )
    next_run = ForecastCache(tmp_path)
    assert next_run.fit_noise(residuals, level) == fitted
    assert fits == []  # read, not fitted
    nudged = residuals.copy()
    nudged[-1] += 1e-12
    assert next_run.fit_noise(nudged, level) == fit_noise(nudged, level)
    assert len(fits) == 1
    # A full rebuild fits every one again.
    ForecastCache(tmp_path, relearns=True).fit_noise(residuals, level)
    assert len(fits) == 2


def test_a_run_keeps_only_the_noise_fits_it_used(tmp_path):
    rng = np.random.default_rng(5)
    level = rng.uniform(1.0, 50.0, 100)
    old, new = rng.standard_normal(100), rng.standard_normal(100)
    yesterday = ForecastCache(tmp_path)
    yesterday.fit_noise(old, level)
    yesterday.keep_noise_fits()
    today = ForecastCache(tmp_path)
    today.fit_noise(new, level)
    today.keep_noise_fits()
    assert len(json.loads((tmp_path / ForecastCache.NOISE_FITS).read_text())) == 1


def test_unreadable_noise_fits_are_fitted_again(tmp_path):
    (tmp_path / ForecastCache.NOISE_FITS).write_text('{"cut short')
    rng = np.random.default_rng(7)
    level = rng.uniform(1.0, 50.0, 100)
    residuals = rng.standard_normal(100)
    cache = ForecastCache(tmp_path)
    assert cache.fit_noise(residuals, level) == forecasting.fit_noise(residuals, level)
    cache.keep_noise_fits()
    assert len(json.loads((tmp_path / ForecastCache.NOISE_FITS).read_text())) == 1
