# The root-cause elements of every anomalous total hour (python/funnel_anomalies/
# root_causes.py): a Python model, since the localizer's search is a loop SQL cannot say.
from funnel_anomalies import root_causes


def model(dbt, session):
    dbt.config(materialized="table")
    leaves = dbt.ref("int_anomalous_hour_leaves").df()
    return root_causes.localize_hours(leaves)
