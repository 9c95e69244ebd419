-- Event names that map to no funnel metric: ignored, but listed so that a new pixel event
-- (or a renamed one) is noticed and can be added to the event_name_metrics seed.
with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

event_profiles as (
    select * from {{ ref('int_event_profiles') }}
),

unmapped as (
    select
        event_profiles.shop,
        event_profiles.event_name,
        sum(events.events) as events,
        min(events.hour_at) as first_seen_hour_at,
        max(events.hour_at) as last_seen_hour_at,
    from events
    inner join event_profiles using (event_profile_hash)
    where event_profiles.counted_as is null
    group by all
),

final as (
    select * from unmapped
)

select * from final
