"""Hourly funnel anomaly detection for storefront events."""

from funnel_anomalies.api import (
    analyze_anomaly_scenarios,
    generate_anomaly_group_report,
    generate_anomaly_report,
)

__all__ = [
    "analyze_anomaly_scenarios",
    "generate_anomaly_group_report",
    "generate_anomaly_report",
]
