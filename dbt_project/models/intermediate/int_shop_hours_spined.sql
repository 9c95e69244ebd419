-- Every hour from each shop's first to its last event, so that an hour without events
-- becomes a zero downstream instead of a missing row.
with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

event_profiles as (
    select * from {{ ref('int_event_profiles') }}
),

shop_spans as (
    select
        event_profiles.shop,
        min(events.hour_at) as first_hour_at,
        max(events.hour_at) as last_hour_at,
    from events
    inner join event_profiles using (event_profile_hash)
    group by event_profiles.shop
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
