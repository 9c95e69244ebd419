-- Counted funnel events per shop, hour, metric and dimension values: landing page views
-- from the sessionized landings (with utm), the other metrics from the distinct events.
with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

event_metrics as (
    select * from {{ ref('event_name_metrics') }}
),

landings as (
    select * from {{ ref('int_landing_page_views_hourly') }}
),

user_agents as (
    select * from {{ ref('int_user_agents_classified') }}
),

landing_page_views as (
    select
        shop,
        hour_at,
        'landing_page_views' as metric,
        geography,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        sum(landing_page_views) as events,
    from landings
    group by all
),

other_funnel_events as (
    select
        events.shop,
        events.hour_at,
        event_metrics.metric,
        events.geography,
        events.user_agent,
        events.device_type,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        sum(events.events) as events,
    from events
    inner join event_metrics using (event_name)
    where event_metrics.counted_as = 'each_event'
    group by all
),

unioned as (
    select * from landing_page_views
    union all
    select * from other_funnel_events
),

with_device as (
    select
        unioned.shop,
        unioned.hour_at,
        unioned.metric,
        unioned.geography,
        user_agents.device,
        unioned.utm_source,
        unioned.utm_medium,
        sum(unioned.events) as events,
    from unioned
    inner join user_agents
        on unioned.user_agent is not distinct from user_agents.user_agent
        and unioned.device_type is not distinct from user_agents.device_type
    group by all
),

final as (
    select * from with_device
)

select * from final
