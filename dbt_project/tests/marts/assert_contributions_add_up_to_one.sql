-- Within a dimension, the contributions of an anomalous hour add up to one (within 1%):
-- the values' expectations are coherent with their total's.
with

anomalies as (
    select * from {{ ref('fct_anomalies') }}
),

anomalous_totals as (
    select
        shop,
        hour_at,
        metric,
    from anomalies
    where dimension = 'total' and is_anomaly
),

summed as (
    select
        anomalies.shop,
        anomalies.hour_at,
        anomalies.metric,
        anomalies.dimension,
        sum(anomalies.contribution) as contributions,
    from anomalies
    inner join anomalous_totals using (shop, hour_at, metric)
    where anomalies.dimension != 'total'
    group by all
),

final as (
    select * from summed
    where abs(contributions - 1) > 0.01
)

select * from final
