-- Events per shop, hour, metric and dimension value, zero-filled over each shop's hours.
with

funnel_events as (
    select * from {{ ref('int_funnel_events_hourly') }}
),

shop_hours as (
    select * from {{ ref('int_shop_hours_spined') }}
),

event_metrics as (
    select * from {{ ref('event_name_metrics') }}
),

shops as (
    select distinct shop from shop_hours
),

metrics as (
    select distinct metric from event_metrics
),

-- A series exists from the shop's first hour once its value was ever seen; every metric's
-- total exists for every shop, even a metric the shop never sent.
series as (
    select distinct
        shop,
        metric,
        dimension,
        dimension_value,
    from funnel_events
    union
    select
        shops.shop,
        metrics.metric,
        'total' as dimension,
        'all' as dimension_value,
    from shops
    cross join metrics
),

zero_filled as (
    select
        series.shop,
        shop_hours.hour_at,
        series.metric,
        series.dimension,
        series.dimension_value,
        coalesce(funnel_events.events, 0) as events,
    from series
    inner join shop_hours using (shop)
    left join funnel_events
        on series.shop = funnel_events.shop
        and shop_hours.hour_at = funnel_events.hour_at
        and series.metric = funnel_events.metric
        and series.dimension = funnel_events.dimension
        and series.dimension_value = funnel_events.dimension_value
),

final as (
    select * from zero_filled
)

select * from final
