-- Where every raw event went, per shop: counted towards a metric, or why not.
with

placed_events as (
    select * from {{ ref('int_events_hourly_placed') }}
),

landings as (
    select * from {{ ref('int_landing_page_views_hourly') }}
),

events_by_name as (
    select
        shop,
        metric,
        counted_as,
        set_aside_reason,
        sum(events) as distinct_events,
        sum(duplicates_dropped) as duplicates_dropped,
    from placed_events
    group by all
),

in_span as (
    select * from events_by_name
    where set_aside_reason is null
),

page_views as (
    select
        shop,
        sum(distinct_events) as distinct_page_views,
    from in_span
    where counted_as in ('explicit_landing', 'session_first_page_view')
    group by shop
),

landing_counts as (
    select
        shop,
        sum(landing_page_views) as landing_page_views,
        sum(unplaced_page_views) as unplaced_page_views,
    from landings
    group by shop
),

outcomes as (
    select
        shop,
        'counted' as outcome,
        metric,
        sum(distinct_events) as events,
    from in_span
    where counted_as = 'each_event'
    group by all
    union all
    select
        shop,
        'counted' as outcome,
        'landing_page_views' as metric,
        landing_page_views as events,
    from landing_counts
    union all
    -- Every distinct page view in the span is a landing, a view without a session, or a
    -- later view of its session.
    select
        page_views.shop,
        'later_page_view_of_session' as outcome,
        null as metric,
        (
            page_views.distinct_page_views
            - coalesce(landing_counts.landing_page_views, 0)
            - coalesce(landing_counts.unplaced_page_views, 0)
        ) as events,
    from page_views
    left join landing_counts using (shop)
    union all
    select
        shop,
        'page_view_without_session' as outcome,
        null as metric,
        unplaced_page_views as events,
    from landing_counts
    union all
    select
        shop,
        'unmapped_event_name' as outcome,
        null as metric,
        sum(distinct_events) as events,
    from in_span
    where metric is null
    group by all
    union all
    -- Outside the span, whatever the event's name (int_shop_spans says the rule).
    select
        shop,
        set_aside_reason as outcome,
        null as metric,
        sum(distinct_events) as events,
    from events_by_name
    where set_aside_reason is not null
    group by all
    union all
    select
        shop,
        'duplicate_dropped' as outcome,
        null as metric,
        sum(duplicates_dropped) as events,
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
