-- Landing page views per shop, hour and the values their dimensions come from. The
-- per-session steps before it are views, so no table of every session is written.
{{ config(materialized='table') }}  -- read by the hourly metrics and the accounting

with

landings as (
    select * from {{ ref('int_landing_page_views_attributed') }}
),

aggregated as (
    select
        shop,
        date_trunc('hour', landed_at) as hour_at,
        session_id is null as is_without_session,
        geography,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        count(*) as landing_page_views,
    from landings
    group by all
),

final as (
    select * from aggregated
)

select * from final
