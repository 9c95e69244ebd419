-- Counted funnel events per shop, hour, metric, geography, device and (landing page views
-- only) utm values: landings from the sessionized page views, the other metrics from the
-- distinct events.
with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

event_profiles as (
    select * from {{ ref('int_event_profiles') }}
),

user_agents as (
    select * from {{ ref('int_user_agents_classified') }}
),

landings as (
    select * from {{ ref('int_landing_page_views_hourly') }}
),

-- Metric and dimension values of each counted profile, worked out on the few profiles
-- before they meet the hourly rows.
counted_profiles as (
    select
        event_profiles.event_profile_hash,
        event_profiles.shop,
        event_profiles.metric,
        event_profiles.geography,
        user_agents.device,
    from event_profiles
    inner join user_agents
        on event_profiles.user_agent is not distinct from user_agents.user_agent
        and event_profiles.device_type is not distinct from user_agents.device_type
    where event_profiles.counted_as = 'each_event'
),

other_funnel_events as (
    select
        counted_profiles.shop,
        events.hour_at,
        counted_profiles.metric,
        counted_profiles.geography,
        counted_profiles.device,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        sum(events.events) as events,
    from events
    inner join counted_profiles using (event_profile_hash)
    group by all
),

landing_page_views as (
    select
        shop,
        hour_at,
        'landing_page_views' as metric,
        geography,
        device,
        utm_source,
        utm_medium,
        sum(landing_page_views) as events,
    from landings
    where landing_page_views > 0
    group by all
),

final as (
    select * from landing_page_views
    union all
    select * from other_funnel_events
)

select * from final
