-- Events per UTC hour, event profile and device, as received and without exact
-- duplicates: the one pass over every raw event that feeds the metric counts, the shops'
-- spans, the unmapped event names and the accounting.
{{ config(materialized='table') }}  -- read by four models

with

events as (
    select * from {{ ref('stg_events') }}
),

event_profiles as (
    select * from {{ ref('int_event_profiles') }}
),

user_agents as (
    select * from {{ ref('int_user_agents_classified') }}
),

-- Joined on the text (not a hash of it), so two profiles or user agents never merge.
described as (
    select
        date_trunc('hour', events.event_at) as hour_at,
        event_profiles.event_profile_id,
        user_agents.device,
        {{ event_copy_columns('user_agents.user_agent_id', 'events') }} as event_copy,
    from events
    inner join event_profiles
        on {{ matches_event_profile('events', 'event_profiles') }}
    inner join user_agents
        on {{ matches_user_agent('events', 'user_agents') }}
),

aggregated as (
    select
        hour_at,
        event_profile_id,
        device,
        count(*) as events_received,
        -- Copies of a double-fired event are equal in every column, so they share this
        -- hour, profile and device; within it they are counted once, by their values.
        count(distinct event_copy) as events,
    from described
    group by all
),

final as (
    select
        hour_at,
        event_profile_id,
        device,
        events_received,
        events,
        events_received - events as duplicates_dropped,
    from aggregated
)

select * from final
