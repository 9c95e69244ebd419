-- Landing page views per shop, UTC hour, geography, device and the canonical utm values;
-- beside them the page views without a session that could not be placed, which only the
-- accounting needs.
{{ config(materialized='table') }}  -- read by the funnel events and the accounting

with

page_views as (
    select * from {{ ref('int_page_views_sessionized') }}
),

profiles as (
    select * from {{ ref('int_page_view_profiles') }}
),

segments as (
    select distinct
        segment_id,
        shop,
        geography,
        device,
        utm_source,
        utm_medium,
    from profiles
),

-- Counted on the segment id, so millions of sessions are grouped on one integer instead of
-- five strings; the strings join back on the aggregated rows.
aggregated as (
    select
        date_trunc('hour', page_views.viewed_at) as hour_at,
        profiles.segment_id,
        count(*) filter (where page_views.is_landing) as landing_page_views,
        count(*) filter (where not page_views.is_landing) as unplaced_page_views,
    from page_views
    inner join profiles using (page_view_profile_id)
    group by all
),

labelled as (
    select
        segments.shop,
        aggregated.hour_at,
        segments.geography,
        segments.device,
        segments.utm_source,
        segments.utm_medium,
        aggregated.landing_page_views,
        aggregated.unplaced_page_views,
    from aggregated
    inner join segments using (segment_id)
),

final as (
    select * from labelled
)

select * from final
