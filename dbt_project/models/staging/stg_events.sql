-- Raw events with clean names, UTC timestamps and trimmed text; one row per raw row.
with

source as (
    select * from {{ source('storefront', 'raw_events') }}
),

cleaned as (
    select
        trim(shop) as shop,
        lower(trim(event_name)) as event_name,
        -- Every timestamp variant (unit, zone, ISO text) casts to timestamptz; the session
        -- zone is UTC, so naive values are read as UTC.
        cast(event_timestamp as timestamptz) at time zone 'UTC' as event_at,
        nullif(trim(cast(session_id as varchar)), '') as session_id,
        nullif(trim(page_url), '') as page_url,
        nullif(trim(user_agent), '') as user_agent,
        nullif(trim(device_type), '') as device_type,
        nullif(trim(utm_source), '') as utm_source,
        nullif(trim(utm_medium), '') as utm_medium,
        coalesce(nullif(trim(geography), ''), 'unknown') as geography,
        event_type,
    from source
),

final as (
    select * from cleaned
)

select * from final
