-- Every hour of every series of fct_hourly_metrics has a forecast, and nothing else does.
with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

forecasts as (
    select * from {{ ref('fct_forecasts') }}
),

final as (
    select
        coalesce(hourly.shop, forecasts.shop) as shop,
        coalesce(hourly.hour_at, forecasts.hour_at) as hour_at,
        coalesce(hourly.metric, forecasts.metric) as metric,
        coalesce(hourly.dimension, forecasts.dimension) as dimension,
        coalesce(hourly.dimension_value, forecasts.dimension_value) as dimension_value,
        hourly.events is null as is_missing_from_hourly,
        forecasts.expected is null as is_missing_from_forecasts,
    from hourly
    full join forecasts using (shop, hour_at, metric, dimension, dimension_value)
    where hourly.events is null or forecasts.expected is null
)

select * from final
