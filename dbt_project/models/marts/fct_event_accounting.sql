-- Where every raw event went, per shop: counted towards a metric, or why not.
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

events_by_name as (
    select
        events.shop,
        event_metrics.metric,
        event_metrics.counted_as,
        events.is_without_session,
        sum(events.events) as distinct_events,
        sum(events.duplicates_dropped) as duplicates_dropped,
    from events
    left join event_metrics using (event_name)
    group by all
),

page_views as (
    select
        shop,
        sum(distinct_events) filter (where not is_without_session) as page_views_in_sessions,
        sum(distinct_events) filter (
            where is_without_session and counted_as = 'session_first_page_view'
        ) as page_views_without_session,
    from events_by_name
    where counted_as in ('explicit_landing', 'session_first_page_view')
    group by shop
),

landing_counts as (
    select
        shop,
        sum(landing_page_views) as landing_page_views,
        sum(landing_page_views) filter (where not is_without_session) as landings_of_sessions,
    from landings
    group by shop
),

outcomes as (
    select shop, 'counted' as outcome, metric, sum(distinct_events) as events,
    from events_by_name
    where counted_as = 'each_event'
    group by all
    union all
    select shop, 'counted', 'landing_page_views', landing_page_views,
    from landing_counts
    union all
    select
        page_views.shop,
        'later_page_view_of_session',
        null,
        coalesce(page_views.page_views_in_sessions, 0)
            - coalesce(landing_counts.landings_of_sessions, 0),
    from page_views
    left join landing_counts using (shop)
    union all
    select shop, 'page_view_without_session', null, coalesce(page_views_without_session, 0),
    from page_views
    union all
    select shop, 'unmapped_event_name', null, sum(distinct_events),
    from events_by_name
    where metric is null
    group by all
    union all
    select shop, 'duplicate_dropped', null, sum(duplicates_dropped),
    from events_by_name
    group by all
),

final as (
    select
        shop,
        outcome,
        metric,
        cast(events as bigint) as events,
    from outcomes
)

select * from final
