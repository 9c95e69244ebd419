-- The raw rows that are page views inside their shop's span, with whether the pixel named
-- them a landing page view, their device, and the utm values their URL carries where the
-- utm columns are blank. Matching the names as sent (from the event profiles) lets DuckDB
-- skip every other row while it reads the Parquet. Page views outside the span are set
-- aside before sessions are formed, so a stray timestamp never becomes a landing.
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

spans as (
    select * from {{ ref('int_shop_spans') }}
),

page_view_names as (
    select distinct
        event_name_sent,
        counted_as = 'explicit_landing' as is_explicit_landing,
    from event_profiles
    where counted_as in ('explicit_landing', 'session_first_page_view')
),

spans_by_shop_as_sent as (
    select distinct
        event_profiles.shop_sent,
        spans.first_hour_at,
        spans.last_hour_at,
    from event_profiles
    inner join spans using (shop)
),

page_views as (
    select
        events.*,
        page_view_names.is_explicit_landing,
    from events
    inner join page_view_names on events.event_name = page_view_names.event_name_sent
    inner join spans_by_shop_as_sent on events.shop = spans_by_shop_as_sent.shop_sent
    where
        date_trunc('hour', events.event_at)
        between spans_by_shop_as_sent.first_hour_at and spans_by_shop_as_sent.last_hour_at
),

described as (
    select
        page_views.*,
        user_agents.user_agent_id,
        user_agents.device,
        -- The URL only stands in for a blank column; its value is decoded per profile.
        case
            when nullif(trim(page_views.utm_source), '') is null
                then {{ utm_parameter_in_url('page_views.page_url', 'utm_source') }}
        end as utm_source_in_url,
        case
            when nullif(trim(page_views.utm_medium), '') is null
                then {{ utm_parameter_in_url('page_views.page_url', 'utm_medium') }}
        end as utm_medium_in_url,
    from page_views
    inner join user_agents
        on {{ matches_user_agent('page_views', 'user_agents') }}
),

final as (
    select * from described
)

select * from final
