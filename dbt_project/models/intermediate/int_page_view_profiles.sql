-- One row per distinct page view profile (shop, geography, user agent, device_type, utm
-- columns and URL as sent), with its hash, the cleaned shop and geography, and its
-- marketing attribution: the utm columns, else the URL's query string, normalized
-- through the utm_value_aliases seed. Unknown values are kept.
{{ config(materialized='table') }}  -- decodes the landing of every session

with

page_views as (
    select * from {{ ref('int_page_views') }}
),

aliases as (
    select * from {{ ref('utm_value_aliases') }}
),

profiles as (
    select distinct
        shop,
        geography,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        page_url,
    from page_views
),

sent as (
    select
        {{ page_view_profile_hash() }} as page_view_profile_hash,
        trim(shop) as shop,
        coalesce(nullif(trim(geography), ''), 'unknown') as geography,
        user_agent,
        device_type,
        page_url,
        lower(coalesce(
            nullif(trim(utm_source), ''), {{ utm_parameter_from_url('page_url', 'utm_source') }}
        )) as utm_source_sent,
        lower(coalesce(
            nullif(trim(utm_medium), ''), {{ utm_parameter_from_url('page_url', 'utm_medium') }}
        )) as utm_medium_sent,
    from profiles
),

normalized as (
    select
        sent.page_view_profile_hash,
        sent.shop,
        sent.geography,
        sent.user_agent,
        sent.device_type,
        sent.page_url,
        coalesce(source_aliases.canonical_value, nullif(sent.utm_source_sent, ''), '(none)')
            as utm_source,
        coalesce(medium_aliases.canonical_value, nullif(sent.utm_medium_sent, ''), '(none)')
            as utm_medium,
    from sent
    left join aliases as source_aliases
        on source_aliases.dimension = 'utm_source'
        and sent.utm_source_sent = source_aliases.raw_value
    left join aliases as medium_aliases
        on medium_aliases.dimension = 'utm_medium'
        and sent.utm_medium_sent = medium_aliases.raw_value
),

final as (
    select * from normalized
)

select * from final
