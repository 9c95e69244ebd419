-- One row per distinct page view profile (shop, geography, device, and the utm values as
-- sent in their columns or in the URL), with its id, the cleaned shop and geography, and
-- its marketing attribution: the utm columns, else the URL's query string, normalized
-- through the utm_value_aliases seed. Unknown values are kept. `segment_id` numbers the
-- distinct cleaned values, which many profiles (one per utm spelling) share.
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
        device,
        utm_source,
        utm_medium,
        utm_source_in_url,
        utm_medium_in_url,
    from page_views
),

sent as (
    select
        row_number() over (
            order by
                shop, geography, device, utm_source, utm_medium, utm_source_in_url,
                utm_medium_in_url
        ) as page_view_profile_id,
        shop as shop_sent,
        geography as geography_sent,
        utm_source as utm_source_column,
        utm_medium as utm_medium_column,
        utm_source_in_url,
        utm_medium_in_url,
        trim(shop) as shop,
        coalesce(nullif(trim(geography), ''), 'unknown') as geography,
        device,
        lower(coalesce(
            nullif(trim(utm_source), ''), {{ url_parameter_decoded('utm_source_in_url') }}
        )) as utm_source_sent,
        lower(coalesce(
            nullif(trim(utm_medium), ''), {{ url_parameter_decoded('utm_medium_in_url') }}
        )) as utm_medium_sent,
    from profiles
),

normalized as (
    select
        sent.page_view_profile_id,
        sent.shop_sent,
        sent.geography_sent,
        sent.utm_source_column,
        sent.utm_medium_column,
        sent.utm_source_in_url,
        sent.utm_medium_in_url,
        sent.shop,
        sent.geography,
        sent.device,
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

segmented as (
    select
        *,
        dense_rank() over (
            order by shop, geography, device, utm_source, utm_medium
        ) as segment_id,
    from normalized
),

final as (
    select * from segmented
)

select * from final
