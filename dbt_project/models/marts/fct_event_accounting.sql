-- Where every raw event went, per shop: counted towards a metric, or why not.
with

events as (
    select * from {{ ref('int_events_deduplicated') }}
),

event_metrics as (
    select * from {{ ref('event_name_metrics') }}
),

landings as (
    select * from {{ ref('int_landing_page_views_sessionized') }}
),

events_by_name as (
    select
        events.shop,
        events.event_name,
        event_metrics.metric,
        event_metrics.counted_as,
        count(*) as distinct_events,
        count(*) filter (where events.session_id is null) as events_without_session,
        sum(events.copies_received - 1) as duplicates_dropped,
    from events
    left join event_metrics using (event_name)
    group by all
),

page_view_candidates as (
    select
        shop,
        sum(distinct_events) as page_views,
        sum(events_without_session) filter (
            where counted_as = 'session_first_page_view'
        ) as page_views_without_session,
    from events_by_name
    where counted_as in ('explicit_landing', 'session_first_page_view')
    group by shop
),

landing_outcomes as (
    select
        shop,
        count(*) as landing_page_views,
        sum(page_views_in_session - 1) as later_page_views,
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
    from landing_outcomes
    union all
    select shop, 'later_page_view_of_session', null, later_page_views,
    from landing_outcomes
    union all
    select shop, 'page_view_without_session', null, coalesce(page_views_without_session, 0),
    from page_view_candidates
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
