-- Each hour's leaves add up to its total: their events to the total's count exactly,
-- their expectations to the total's expectation (to 0.1%), so the localizer's deviations
-- are the total's.
with

leaf_forecasts as (
    select * from {{ source('forecasting', 'fct_leaf_forecasts') }}
),

forecasts as (
    select * from {{ source('forecasting', 'fct_forecasts') }}
),

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

totals as (
    select
        forecasts.shop,
        forecasts.hour_at,
        forecasts.metric,
        forecasts.expected as total_expected,
        hourly.events as total_events,
    from forecasts
    inner join hourly using (shop, hour_at, metric, dimension, dimension_value)
    where forecasts.dimension = 'total'
),

by_hour as (
    select
        shop,
        hour_at,
        metric,
        sum(expected) as leaves_expected,
        sum(events) as leaves_events,
    from leaf_forecasts
    group by all
),

final as (
    select
        totals.*,
        coalesce(by_hour.leaves_expected, 0) as leaves_expected,
        coalesce(by_hour.leaves_events, 0) as leaves_events,
    from totals
    left join by_hour using (shop, hour_at, metric)
    where
        coalesce(by_hour.leaves_events, 0) != totals.total_events
        or abs(coalesce(by_hour.leaves_expected, 0) - totals.total_expected)
        > 0.001 * totals.total_expected + 1e-6
)

select * from final
