"""Hourly funnel anomaly detection for storefront events."""
