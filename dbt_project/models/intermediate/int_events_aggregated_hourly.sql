-- Events per UTC hour, event profile and device, as received and without exact
-- duplicates: the one pass over every raw event that feeds the metric counts, the hour
-- spine, the unmapped event names and the accounting.
{{ config(materialized='table') }}  -- read by four models

with

events as (
    select * from {{ ref('stg_events') }}
),

user_agents as (
    select * from {{ ref('int_user_agents_classified') }}
),

hashed as (
    select
        date_trunc('hour', event_at) as hour_at,
        {{ event_profile_hash() }} as event_profile_hash,
        user_agent,
        device_type,
        {{ event_copy_hash() }} as event_copy_hash,
    from events
),

aggregated as (
    select
        hashed.hour_at,
        hashed.event_profile_hash,
        user_agents.device,
        count(*) as events_received,
        -- Copies of a double-fired event share every column, so they share this hour,
        -- profile and device: counting distinct copy hashes within it drops them. A list
        -- per group is far cheaper than a hash table over every event in the input.
        list_unique(list(hashed.event_copy_hash)) as events,
    from hashed
    inner join user_agents
        on hashed.user_agent is not distinct from user_agents.user_agent
        and hashed.device_type is not distinct from user_agents.device_type
    group by all
),

final as (
    select
        hour_at,
        event_profile_hash,
        device,
        events_received,
        events,
        events_received - events as duplicates_dropped,
    from aggregated
)

select * from final
