-- Which group each anomalous metric-hour belongs to. Groups of one shop and direction never
-- overlap in time, so a group's span and metrics place each of its hours.
with

anomaly_hours as (
    select * from {{ ref('fct_anomaly_hours') }}
),

anomaly_groups as (
    select * from {{ ref('fct_anomaly_groups') }}
),

final as (
    select
        anomaly_groups.group_id,
        anomaly_hours.shop,
        anomaly_hours.direction,
        anomaly_hours.hour_at,
        anomaly_hours.metric,
    from anomaly_hours
    inner join anomaly_groups
        on anomaly_hours.shop = anomaly_groups.shop
        and anomaly_hours.direction = anomaly_groups.direction
        and anomaly_hours.hour_at between anomaly_groups.start_at and anomaly_groups.end_at
        and list_contains(anomaly_groups.metrics, anomaly_hours.metric)
)

select * from final
