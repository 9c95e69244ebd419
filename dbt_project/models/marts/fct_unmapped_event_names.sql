-- Event names that map to no funnel metric: ignored, but listed so that a new pixel event
-- (or a renamed one) is noticed and can be added to the event_name_metrics seed.
with

placed_events as (
    select * from {{ ref('int_events_hourly_placed') }}
),

unmapped as (
    select
        shop,
        event_name,
        sum(events) as events,
        min(hour_at) as first_seen_hour_at,
        max(hour_at) as last_seen_hour_at,
    from placed_events
    where counted_as is null and set_aside_reason is null
    group by all
),

final as (
    select * from unmapped
)

select * from final
