-- Pixels double-fire: exact duplicate rows count once, and how many copies arrived is kept
-- so the accounting can show what was dropped.
with

events as (
    select * from {{ ref('stg_events') }}
),

deduplicated as (
    select
        shop,
        event_name,
        event_at,
        session_id,
        page_url,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        geography,
        event_type,
        count(*) as copies_received,
    from events
    group by all
),

final as (
    select * from deduplicated
)

select * from final
