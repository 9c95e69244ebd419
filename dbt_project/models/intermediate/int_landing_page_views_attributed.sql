-- Marketing attribution of each landing page view: utm columns, else the landing URL's
-- query string, normalized through the utm_value_aliases seed. Unknown values are kept.
with

landings as (
    select * from {{ ref('int_landing_page_views_sessionized') }}
),

aliases as (
    select * from {{ ref('utm_value_aliases') }}
),

sent as (
    select
        *,
        lower(coalesce(
            nullif(trim(utm_source), ''), {{ utm_parameter_from_url('page_url', 'utm_source') }}
        )) as utm_source_sent,
        lower(coalesce(
            nullif(trim(utm_medium), ''), {{ utm_parameter_from_url('page_url', 'utm_medium') }}
        )) as utm_medium_sent,
    from landings
),

normalized as (
    select
        sent.shop,
        sent.session_id,
        sent.landed_at,
        sent.user_agent,
        sent.device_type,
        sent.geography,
        coalesce(source_aliases.canonical_value, nullif(sent.utm_source_sent, ''), '(none)')
            as utm_source,
        coalesce(medium_aliases.canonical_value, nullif(sent.utm_medium_sent, ''), '(none)')
            as utm_medium,
    from sent
    left join aliases as source_aliases
        on source_aliases.dimension = 'utm_source'
        and source_aliases.raw_value = sent.utm_source_sent
    left join aliases as medium_aliases
        on medium_aliases.dimension = 'utm_medium'
        and medium_aliases.raw_value = sent.utm_medium_sent
),

final as (
    select * from normalized
)

select * from final
