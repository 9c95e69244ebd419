-- Each shop, hour and metric's total beside the sum of its leaves: the localizer explains
-- a total's deviation by its leaves' deviations, which holds only if the leaves' events
-- add up to the total's exactly and their expectations to its expectation (to 0.1%,
-- rounding in the shares). A view: in a build only its
-- test reads it, and a query of it sums the leaves as they are now.
{{ config(materialized='view') }}

-- The leaves' sources are written by forecasting_step, which fct_forecasts follows.
with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

forecasts as (
    select * from {{ ref('fct_forecasts') }}
),

leaves as (
    select * from {{ source('forecasting', 'leaf_forecast_leaves') }}
),

leaf_hours as (
    select * from {{ source('forecasting', 'leaf_forecast_hours') }}
),

totals as (
    select
        forecasts.shop,
        forecasts.hour_at,
        forecasts.metric,
        hourly.events as total_events,
        forecasts.expected as total_expected,
    from forecasts
    inner join hourly using (shop, hour_at, metric, dimension, dimension_value)
    where forecasts.dimension = 'total'
),

-- Summed on the leaves' numbers before their shop and metric are joined: the many rows
-- never carry text.
series_leaves_by_hour as (
    select
        series_id,
        hour_at,
        count(*) as leaves,
        sum(events) as leaves_events,
        sum(expected) as leaves_expected,
    from leaf_hours
    group by all
),

series as (
    select distinct
        series_id,
        shop,
        metric,
    from leaves
),

leaves_by_hour as (
    select
        series.shop,
        series_leaves_by_hour.hour_at,
        series.metric,
        series_leaves_by_hour.leaves,
        series_leaves_by_hour.leaves_events,
        series_leaves_by_hour.leaves_expected,
    from series_leaves_by_hour
    inner join series using (series_id)
),

final as (
    select
        totals.shop,
        totals.hour_at,
        totals.metric,
        coalesce(leaves_by_hour.leaves, 0) as leaves,
        totals.total_events,
        coalesce(leaves_by_hour.leaves_events, 0) as leaves_events,
        totals.total_expected,
        coalesce(leaves_by_hour.leaves_expected, 0) as leaves_expected,
        coalesce(leaves_by_hour.leaves_events, 0) = totals.total_events as events_add_up,
        abs(coalesce(leaves_by_hour.leaves_expected, 0) - totals.total_expected)
        <= 0.001 * totals.total_expected + 1e-6 as expectations_add_up,
    from totals
    left join leaves_by_hour using (shop, hour_at, metric)
)

select * from final
