-- Raw events with clean names and UTC timestamps; one row per raw row. Only the columns
-- every downstream step needs are cleaned here: free-text columns (user agent, URL, utm)
-- are cleaned on their few distinct values or on landings only, where it is cheap.
with

source as (
    select * from {{ source('storefront', 'raw_events') }}
),

cleaned as (
    select
        trim(shop) as shop,
        lower(trim(event_name)) as event_name,
        -- Every variant (unit, zone, ISO text) casts to timestamptz, whose epoch is UTC;
        -- naive values are read as UTC because the session zone is UTC. Going through the
        -- epoch avoids a per-row time zone conversion.
        make_timestamp(epoch_us(cast(event_timestamp as timestamptz))) as event_at,
        nullif(cast(session_id as varchar), '') as session_id,
        page_url,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        coalesce(nullif(trim(geography), ''), 'unknown') as geography,
        event_type,
    from source
),

final as (
    select * from cleaned
)

select * from final
