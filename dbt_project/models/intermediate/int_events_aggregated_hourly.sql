-- Events per UTC hour and event profile, as received and without exact duplicates: the
-- one pass over every raw event that feeds the metric counts, the hour spine, the
-- unmapped event names and the accounting.
{{ config(materialized='table') }}  -- read by four models

with

events as (
    select * from {{ ref('stg_events') }}
),

aggregated as (
    select
        date_trunc('hour', event_at) as hour_at,
        {{ event_profile_hash() }} as event_profile_hash,
        count(*) as events_received,
        -- Copies of a double-fired event share every column, so they share this hour and
        -- profile: counting distinct copy hashes within it drops them. A list per hour and
        -- profile is far cheaper than a hash table over every event in the input.
        list_unique(list({{ event_copy_hash() }})) as events,
    from events
    group by all
),

final as (
    select
        hour_at,
        event_profile_hash,
        events_received,
        events,
        events_received - events as duplicates_dropped,
    from aggregated
)

select * from final
