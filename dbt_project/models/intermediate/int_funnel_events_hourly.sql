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

landings as (
    select * from {{ ref('int_landing_page_views_hourly') }}
),

counted_profiles as (
    select * from event_profiles
    where counted_as = 'each_event'
),

other_funnel_events as (
    select
        counted_profiles.shop,
        events.hour_at,
        counted_profiles.metric,
        counted_profiles.geography,
        events.device,
        events.events,
    from events
    inner join counted_profiles using (event_profile_hash)
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
