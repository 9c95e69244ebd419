# The forecasting step (python/funnel_anomalies/forecast_step.py), run inside the build's
# one dbt invocation: it writes the forecasting sources itself, a batch of shops at a time,
# and its own table is one row, what it did. The refs are what it reads, so that dbt runs
# it after them (and their tests).
from funnel_anomalies import forecast_step


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("fct_hourly_metrics")
    dbt.ref("fct_hourly_leaves")
    dbt.ref("shop_settings")
    dbt.ref("promotions_calendar")
    return forecast_step.forecast_in_dbt(session)
