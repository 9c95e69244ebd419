-- Distinct raw events per shop, hour, name and the raw values the dimensions come from:
-- one pass over the input that feeds the metric counts, the hour spine, the unmapped
-- event names and the accounting.
{{ config(materialized='table') }}  -- read by five models

{#- The grain, stated once: received events and their extra copies are counted at it. #}
{% set hourly_grain %}
        shop,
        date_trunc('hour', event_at) as hour_at,
        event_name,
        session_id is null as is_without_session,
        geography,
        user_agent,
        device_type,
{% endset %}

with

events as (
    select * from {{ ref('stg_events') }}
),

duplicates as (
    select * from {{ ref('int_duplicate_events') }}
),

received as (
    select
        {{ hourly_grain }}
        count(*) as events_received,
    from events
    group by all
),

extra_copies as (
    select
        {{ hourly_grain }}
        sum(copies_received - 1) as extra_copies,
    from duplicates
    group by all
),

deduplicated as (
    select
        received.*,
        coalesce(extra_copies.extra_copies, 0) as duplicates_dropped,
        received.events_received - coalesce(extra_copies.extra_copies, 0) as events,
    from received
    left join extra_copies
        on received.shop = extra_copies.shop
        and received.hour_at = extra_copies.hour_at
        and received.event_name is not distinct from extra_copies.event_name
        and received.is_without_session = extra_copies.is_without_session
        and received.geography = extra_copies.geography
        and received.user_agent is not distinct from extra_copies.user_agent
        and received.device_type is not distinct from extra_copies.device_type
),

final as (
    select * from deduplicated
)

select * from final
