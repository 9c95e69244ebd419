-- Within a shop, hour, metric and dimension, the values' events add up to the total.
with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

totals as (
    select
        shop,
        hour_at,
        metric,
        events as total_events,
    from hourly
    where dimension = 'total'
),

by_dimension as (
    select
        shop,
        hour_at,
        metric,
        dimension,
        sum(events) as dimension_events,
    from hourly
    where dimension != 'total'
    group by all
),

final as (
    select
        by_dimension.*,
        totals.total_events,
    from by_dimension
    left join totals using (shop, hour_at, metric)
    where totals.total_events is distinct from by_dimension.dimension_events
)

select * from final
