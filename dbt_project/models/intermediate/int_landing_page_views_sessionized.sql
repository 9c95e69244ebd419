-- One landing page view per session: the session's explicit landing event if it sent one,
-- else its first page view. Later page views of the session are counted for accounting.
with

events as (
    select * from {{ ref('int_events_deduplicated') }}
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

landings_of_sessions as (
    select
        shop,
        session_id,
        -- An aggregate instead of a row_number() window: one hash pass, no sort.
        arg_min(
            {
                'landed_at': event_at,
                'page_url': page_url,
                'user_agent': user_agent,
                'device_type': device_type,
                'utm_source': utm_source,
                'utm_medium': utm_medium,
                'geography': geography,
            },
            (counted_as != 'explicit_landing', event_at, page_url, user_agent)
        ) as landing,
        count(*) as page_views_in_session,
    from page_views
    where session_id is not null
    group by shop, session_id
),

-- Without a session an explicit landing still counts; a plain page view cannot be placed.
landings_without_session as (
    select
        shop,
        session_id,
        {
            'landed_at': event_at,
            'page_url': page_url,
            'user_agent': user_agent,
            'device_type': device_type,
            'utm_source': utm_source,
            'utm_medium': utm_medium,
            'geography': geography,
        } as landing,
        1 as page_views_in_session,
    from page_views
    where session_id is null
        and counted_as = 'explicit_landing'
),

unioned as (
    select * from landings_of_sessions
    union all
    select * from landings_without_session
),

final as (
    select
        shop,
        session_id,
        landing.landed_at,
        landing.page_url,
        landing.user_agent,
        landing.device_type,
        landing.utm_source,
        landing.utm_medium,
        landing.geography,
        page_views_in_session,
    from unioned
)

select * from final
