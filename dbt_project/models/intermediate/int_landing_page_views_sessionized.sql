-- One landing page view per session: the session's explicit landing event if it sent one,
-- else its first page view. Explicit landing events without a session count each; a plain
-- page view without a session cannot be placed and is left to the accounting.
with

events as (
    select * from {{ ref('stg_events') }}
),

event_metrics as (
    select * from {{ ref('event_name_metrics') }}
),

page_views as (
    select
        events.*,
        event_metrics.counted_as,
    from events
    inner join event_metrics using (event_name)
    where event_metrics.counted_as in ('explicit_landing', 'session_first_page_view')
),

landings as (
    select *,
    from page_views
    -- Copies of a double-fired landing are identical, so ranking needs no deduplication.
    -- Rows without a session share one partition; only their explicit landings are kept.
    where session_id is null and counted_as = 'explicit_landing'
        or session_id is not null
    qualify session_id is null
        or row_number() over (
            partition by shop, session_id
            -- Explicit landings first, then the earliest; a hash breaks exact-time ties
            -- deterministically and compares faster than the strings themselves.
            order by counted_as != 'explicit_landing', event_at, hash(page_url, user_agent)
        ) = 1
),

final as (
    select
        shop,
        session_id,
        event_at as landed_at,
        page_url,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        geography,
    from landings
)

select * from final
