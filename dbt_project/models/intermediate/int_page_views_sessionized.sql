-- One row per session: its landing page view, the session's explicit landing event if it
-- sent one, else its first page view (to the nanosecond). And one row per distinct page
-- view without a session id: a landing if it is an explicit landing event, else a view
-- that cannot be placed in a session.
{{ config(materialized='table') }}  -- read by the landings and the session attribution
with

page_views as (
    select * from {{ ref('int_page_views') }}
),

profiles as (
    select * from {{ ref('int_page_view_profiles') }}
),

-- Each view finds its profile by the values themselves, so two profiles never merge.
profiled as (
    select
        page_views.*,
        profiles.page_view_profile_id,
    from page_views
    inner join profiles
        on page_views.shop is not distinct from profiles.shop_sent
        and page_views.geography is not distinct from profiles.geography_sent
        and page_views.device is not distinct from profiles.device
        and page_views.utm_source is not distinct from profiles.utm_source_column
        and page_views.utm_medium is not distinct from profiles.utm_medium_column
        and page_views.utm_source_in_url is not distinct from profiles.utm_source_in_url
        and page_views.utm_medium_in_url is not distinct from profiles.utm_medium_in_url
),

keyed as (
    select
        shop,
        session_id,
        -- A page view without a session stands alone; its double-fired copies are equal
        -- in every column and so count once.
        case
            when session_id is null then {{ event_identity('user_agent_id', 'profiled') }}
        end as standalone_identity,
        {{ landing_key('is_explicit_landing', 'event_at', 'event_at_ns', 'page_view_profile_id') }}
            as landing_key,
    from profiled
),

sessions as (
    select
        shop,
        session_id,
        session_id is null as is_without_session,
        min(landing_key) as landing_key,
    from keyed
    group by shop, session_id, standalone_identity
),

decoded as (
    select
        shop,
        session_id,
        is_without_session,
        {{ landing_key_is_explicit_landing('landing_key') }} as is_explicit_landing,
        {{ landing_key_viewed_at('landing_key') }} as viewed_at,
        {{ landing_key_profile_id('landing_key') }} as page_view_profile_id,
    from sessions
),

final as (
    select
        -- The shop and session id as sent: what the session's other events carry.
        shop,
        session_id,
        is_without_session,
        not is_without_session or is_explicit_landing as is_landing,
        is_explicit_landing,
        viewed_at,
        page_view_profile_id,
    from decoded
)

select * from final
