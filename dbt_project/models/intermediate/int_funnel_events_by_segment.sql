-- Counted funnel events per shop, hour, metric and segment (geography, device and, for
-- landing page views, the utm values; for the other metrics, their session's landing's)
-- inside each shop's span: landings from the sessionized page views, the other metrics
-- from the distinct events attributed to their sessions.
{{ config(materialized='table') }}  -- read by the value ranking and the breakdown

with

attributed_events as (
    select * from {{ ref('int_events_attributed_hourly') }}
),

landings as (
    select * from {{ ref('int_landing_page_views_hourly') }}
),

other_funnel_events as (
    select
        shop,
        hour_at,
        metric,
        geography,
        device,
        -- Marketing dimensions describe how a visitor arrived: only landings carry them.
        null::varchar as utm_source,
        null::varchar as utm_medium,
        session_utm_source,
        session_utm_medium,
        events,
    from attributed_events
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
        null::varchar as session_utm_source,
        null::varchar as session_utm_medium,
        landing_page_views as events,
    from landings
    where landing_page_views > 0
),

final as (
    select * from landing_page_views
    union all
    select * from other_funnel_events
)

select * from final
