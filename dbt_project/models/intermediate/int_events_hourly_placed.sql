-- The distinct events of every hour, profile and device with their shop's cleaned values,
-- and why they are set aside when their hour lies outside the shop's span (null when it
-- lies inside): what the metric counts, the unmapped names and the accounting read.
with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

event_profiles as (
    select * from {{ ref('int_event_profiles') }}
),

spans as (
    select * from {{ ref('int_shop_spans') }}
),

placed as (
    select
        event_profiles.shop,
        events.hour_at,
        event_profiles.event_name,
        event_profiles.geography,
        events.device,
        event_profiles.metric,
        event_profiles.counted_as,
        events.events,
        events.duplicates_dropped,
        case
            when events.hour_at between spans.first_hour_at and spans.last_hour_at then null
            when {{ hour_is_in_future('events.hour_at') }} then 'in_future'
            else 'outside_span'
        end as set_aside_reason,
    from events
    inner join event_profiles using (event_profile_id)
    left join spans using (shop)
),

final as (
    select * from placed
)

select * from final
