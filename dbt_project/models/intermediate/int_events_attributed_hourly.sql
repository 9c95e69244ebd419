-- The counted funnel events other than landings (those counted each time they occur),
-- per shop, UTC hour, metric, geography and device, with the utm source and medium of
-- their session's landing: session attribution, this project's own dimensions beside the
-- founding document's. '(no landing)' where the event has no session or its session's
-- landing is not in the data. Only hours inside the shop's span count, as in
-- int_events_hourly_placed, whose counts these add up to.
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

sessions as (
    select * from {{ ref('int_page_views_sessionized') }}
),

page_view_profiles as (
    select * from {{ ref('int_page_view_profiles') }}
),

spans as (
    select * from {{ ref('int_shop_spans') }}
),

counted_profiles as (
    select * from event_profiles
    where counted_as = 'each_event'
),

session_landings as (
    select
        sessions.shop,
        sessions.session_id,
        page_view_profiles.utm_source,
        page_view_profiles.utm_medium,
    from sessions
    inner join page_view_profiles using (page_view_profile_id)
    where not sessions.is_without_session
),

-- Joined on the text (not a hash of it), so two profiles, user agents or sessions never
-- merge.
described as (
    select
        date_trunc('hour', events.event_at) as hour_at,
        counted_profiles.event_profile_id,
        user_agents.device,
        coalesce(session_landings.utm_source, '(no landing)') as session_utm_source,
        coalesce(session_landings.utm_medium, '(no landing)') as session_utm_medium,
        {{ event_copy_columns('user_agents.user_agent_id', 'events') }} as event_copy,
    from events
    inner join counted_profiles
        on {{ matches_event_profile('events', 'counted_profiles') }}
    inner join user_agents
        on {{ matches_user_agent('events', 'user_agents') }}
    left join session_landings
        on events.shop = session_landings.shop
        and events.session_id = session_landings.session_id
),

-- Copies of a double-fired event are equal in every column, session included, so they
-- share this hour, profile, device and attribution and are counted once, as in
-- int_events_aggregated_hourly.
aggregated as (
    select
        hour_at,
        event_profile_id,
        device,
        session_utm_source,
        session_utm_medium,
        count(distinct event_copy) as events,
    from described
    group by all
),

placed as (
    select
        counted_profiles.shop,
        aggregated.hour_at,
        counted_profiles.metric,
        counted_profiles.geography,
        aggregated.device,
        aggregated.session_utm_source,
        aggregated.session_utm_medium,
        sum(aggregated.events) as events,
    from aggregated
    inner join counted_profiles using (event_profile_id)
    inner join spans using (shop)
    where aggregated.hour_at between spans.first_hour_at and spans.last_hour_at
    group by all
),

final as (
    select * from placed
)

select * from final
