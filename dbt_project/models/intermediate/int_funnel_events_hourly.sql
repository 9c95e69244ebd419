-- Counted funnel events per shop, hour, metric and dimension value, for the hours that had
-- events: landings from the sessionized page views, the other metrics from the distinct
-- events. Each is broken down from its own narrowest table, so no wide union of both is
-- aggregated again.

{% set event_dimensions = ['geography', 'device'] %}
-- Marketing dimensions describe how a visitor arrived: only landing page views carry them.
{% set landing_dimensions = event_dimensions + ['utm_source', 'utm_medium'] %}

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
-- before they meet the hourly rows. Many profiles (one per user agent) share one set of
-- values, which the hash stands for.
counted_profiles as (
    select
        event_profiles.event_profile_hash,
        hash(
            event_profiles.shop,
            event_profiles.metric,
            event_profiles.geography,
            user_agents.device
        ) as dimensions_hash,
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

dimensions as (
    select distinct
        dimensions_hash,
        shop,
        metric,
        geography,
        device,
    from counted_profiles
),

-- Summed on the hash, so the hourly rows are grouped on one integer instead of four
-- strings; the strings join back on the summed rows.
other_funnel_events_hashed as (
    select
        events.hour_at,
        counted_profiles.dimensions_hash,
        sum(events.events) as events,
    from events
    inner join counted_profiles using (event_profile_hash)
    group by all
),

other_funnel_events as (
    select
        dimensions.shop,
        other_funnel_events_hashed.hour_at,
        dimensions.metric,
        dimensions.geography,
        dimensions.device,
        other_funnel_events_hashed.events,
    from other_funnel_events_hashed
    inner join dimensions using (dimensions_hash)
),

other_funnel_events_by_dimension as (
    select
        shop,
        hour_at,
        metric,
        {{ dimension_columns(event_dimensions) }},
        sum(events) as events,
    from other_funnel_events
    -- sqlfluff's duckdb dialect cannot parse grouping sets.
    -- noqa: disable=PRS
    group by {{ dimension_grouping_sets(['shop', 'hour_at', 'metric'], event_dimensions) }}
    -- noqa: enable=PRS
),

landing_page_views_by_dimension as (
    select
        shop,
        hour_at,
        'landing_page_views' as metric,
        {{ dimension_columns(landing_dimensions) }},
        sum(landing_page_views) as events,
    from landings
    where landing_page_views > 0
    -- sqlfluff's duckdb dialect cannot parse grouping sets.
    -- noqa: disable=PRS
    group by {{ dimension_grouping_sets(['shop', 'hour_at'], landing_dimensions) }}
    -- noqa: enable=PRS
),

final as (
    select * from landing_page_views_by_dimension
    union all
    select * from other_funnel_events_by_dimension
)

select * from final
