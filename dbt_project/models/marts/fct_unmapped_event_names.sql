-- Event names that map to no funnel metric: ignored, but listed so that a new pixel event
-- (or a renamed one) is noticed and can be added to the event_name_metrics seed.
with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

event_metrics as (
    select * from {{ ref('event_name_metrics') }}
),

unmapped as (
    select
        events.shop,
        events.event_name,
        sum(events.events) as events,
        min(events.hour_at) as first_seen_hour_at,
        max(events.hour_at) as last_seen_hour_at,
    from events
    anti join event_metrics using (event_name)
    group by all
),

final as (
    select * from unmapped
)

select * from final
