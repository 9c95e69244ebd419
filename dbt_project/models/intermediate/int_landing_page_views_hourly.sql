-- Landing page views per shop, UTC hour, geography, device and the canonical utm values;
-- beside them the page views without a session that could not be placed, which only the
-- accounting needs.
{{ config(materialized='table') }}  -- read by the hourly metrics and the accounting

with

page_views as (
    select * from {{ ref('int_page_views_sessionized') }}
),

profiles as (
    select * from {{ ref('int_page_view_profiles') }}
),

-- Dimension values of each profile; many profiles (one per utm spelling) share one set of
-- values, which the hash stands for.
profile_dimensions as (
    select
        page_view_profile_hash,
        hash(shop, geography, device, utm_source, utm_medium) as dimensions_hash,
        shop,
        geography,
        device,
        utm_source,
        utm_medium,
    from profiles
),

dimensions as (
    select distinct
        dimensions_hash,
        shop,
        geography,
        device,
        utm_source,
        utm_medium,
    from profile_dimensions
),

-- Counted on the hash, so millions of sessions are grouped on one integer instead of five
-- strings; the strings join back on the aggregated rows.
aggregated as (
    select
        date_trunc('hour', page_views.viewed_at) as hour_at,
        profile_dimensions.dimensions_hash,
        count(*) filter (where page_views.is_landing) as landing_page_views,
        count(*) filter (where not page_views.is_landing) as unplaced_page_views,
    from page_views
    inner join profile_dimensions using (page_view_profile_hash)
    group by all
),

labelled as (
    select
        dimensions.shop,
        aggregated.hour_at,
        dimensions.geography,
        dimensions.device,
        dimensions.utm_source,
        dimensions.utm_medium,
        aggregated.landing_page_views,
        aggregated.unplaced_page_views,
    from aggregated
    inner join dimensions using (dimensions_hash)
),

final as (
    select * from labelled
)

select * from final
