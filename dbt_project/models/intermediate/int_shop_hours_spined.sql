-- Every hour from each shop's first to its last event, so that an hour without events
-- becomes a zero downstream instead of a missing row.
with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

shop_spans as (
    select
        shop,
        min(hour_at) as first_hour_at,
        max(hour_at) as last_hour_at,
    from events
    group by shop
),

spined as (
    select
        shop,
        unnest(generate_series(first_hour_at, last_hour_at, interval 1 hour)) as hour_at,
    from shop_spans
),

final as (
    select * from spined
)

select * from final
