-- One row per session: its landing page view, the session's explicit landing event if it
-- sent one, else its first page view. And one row per distinct page view without a
-- session id: a landing if it is an explicit landing event, else a view that cannot be
-- placed in a session. A view: it runs inside int_landing_page_views_hourly, so no table
-- of every session is written.
with

page_views as (
    select * from {{ ref('int_page_views') }}
),

keyed as (
    select
        session_id is null as is_without_session,
        -- A page view without a session stands alone; its double-fired copies share its
        -- hash and so count once. Hashed only here: few page views lack a session.
        case
            when session_id is null then {{ event_hash() }}
            else {{ session_hash() }}
        end as session_hash,
        {{ landing_key('is_explicit_landing', 'event_at', page_view_profile_hash()) }}
            as landing_key,
    from page_views
),

sessions as (
    select
        is_without_session,
        session_hash,
        min(landing_key) as landing_key,
    from keyed
    group by all
),

decoded as (
    select
        is_without_session,
        {{ landing_key_is_explicit_landing('landing_key') }} as is_explicit_landing,
        {{ landing_key_viewed_at('landing_key') }} as viewed_at,
        {{ landing_key_profile_hash('landing_key') }} as page_view_profile_hash,
    from sessions
),

final as (
    select
        is_without_session,
        not is_without_session or is_explicit_landing as is_landing,
        is_explicit_landing,
        viewed_at,
        page_view_profile_hash,
    from decoded
)

select * from final
