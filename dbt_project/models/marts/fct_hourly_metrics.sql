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

-- One aggregation for the total and every breakdown (the input is read once).
counted as (
    select
        shop,
        hour_at,
        metric,
        case
            when grouping(geography) = 0 then 'geography'
            when grouping(device) = 0 then 'device'
            when grouping(utm_source) = 0 then 'utm_source'
            when grouping(utm_medium) = 0 then 'utm_medium'
            else 'total'
        end as dimension,
        case dimension
            when 'geography' then geography
            when 'device' then device
            when 'utm_source' then utm_source
            when 'utm_medium' then utm_medium
            else 'all'
        end as dimension_value,
        sum(events) as events,
    from funnel_events
    group by grouping sets (
        (shop, hour_at, metric),
        (shop, hour_at, metric, geography),
        (shop, hour_at, metric, device),
        (shop, hour_at, metric, utm_source),
        (shop, hour_at, metric, utm_medium)
    )
),

-- Marketing dimensions describe how a visitor arrived: only landing page views carry
-- them, so other metrics' utm breakdowns are empty and left out.
counted_by_dimension as (
    select * from counted
    where dimension_value is not null
),

-- A series exists from the shop's first hour once its value was ever seen; every metric's
-- total exists for every shop, even a metric the shop never sent.
series as (
    select distinct shop, metric, dimension, dimension_value,
    from counted_by_dimension
    union
    select shops.shop, metrics.metric, 'total', 'all',
    from (select distinct shop from shop_hours) as shops
    cross join (select distinct metric from event_metrics) as metrics
),

zero_filled as (
    select
        series.shop,
        shop_hours.hour_at,
        series.metric,
        series.dimension,
        series.dimension_value,
        coalesce(counted_by_dimension.events, 0) as events,
    from series
    inner join shop_hours using (shop)
    left join counted_by_dimension
        on series.shop = counted_by_dimension.shop
        and shop_hours.hour_at = counted_by_dimension.hour_at
        and series.metric = counted_by_dimension.metric
        and series.dimension = counted_by_dimension.dimension
        and series.dimension_value = counted_by_dimension.dimension_value
),

final as (
    select * from zero_filled
)

select * from final
