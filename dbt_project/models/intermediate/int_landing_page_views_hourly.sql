-- Landing page views per shop, UTC hour, whether they had a session, geography, device
-- and the canonical utm values; beside them the page views without a session that could
-- not be placed, which only the accounting needs.
{{ config(materialized='table') }}  -- read by the hourly metrics and the accounting

with

page_views as (
    select * from {{ ref('int_page_views_sessionized') }}
),

profiles as (
    select * from {{ ref('int_page_view_profiles') }}
),

user_agents as (
    select * from {{ ref('int_user_agents_classified') }}
),

-- Dimension values of each profile, worked out on the few distinct profiles.
profile_dimensions as (
    select
        profiles.page_view_profile_hash,
        profiles.shop,
        profiles.geography,
        user_agents.device,
        profiles.utm_source,
        profiles.utm_medium,
    from profiles
    inner join user_agents
        on profiles.user_agent is not distinct from user_agents.user_agent
        and profiles.device_type is not distinct from user_agents.device_type
),

aggregated as (
    select
        profile_dimensions.shop,
        date_trunc('hour', page_views.viewed_at) as hour_at,
        page_views.is_without_session,
        profile_dimensions.geography,
        profile_dimensions.device,
        profile_dimensions.utm_source,
        profile_dimensions.utm_medium,
        count(*) filter (where page_views.is_landing) as landing_page_views,
        count(*) filter (where not page_views.is_landing) as unplaced_page_views,
    from page_views
    inner join profile_dimensions using (page_view_profile_hash)
    group by all
),

final as (
    select * from aggregated
)

select * from final
