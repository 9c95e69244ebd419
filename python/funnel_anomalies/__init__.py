"""Hourly funnel anomaly detection for storefront events.

The notebook API (funnel_anomalies.api) is imported on first use, so that the processes
that only fit forecasts do not load the whole pipeline."""

__all__ = [
    "analyze_anomaly_scenarios",
    "generate_anomaly_group_report",
    "generate_anomaly_report",
]


def __getattr__(name: str):
    if name in __all__:
        from funnel_anomalies import api

        return getattr(api, name)
    raise AttributeError(f"module 'funnel_anomalies' has no attribute {name!r}")
