-- Raw events, one row per raw row: UTC timestamps and the session id as text. Text values
-- stay exactly as sent: trimming or lower-casing 30 million rows costs more than the whole
-- hourly count, so the profile models clean each distinct value once instead
-- (int_event_profiles, int_page_view_profiles).
with

source as (
    select * from {{ source('storefront', 'raw_events') }}
),

typed as (
    select
        shop,
        event_name,
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
        geography,
        event_type,
    from source
),

final as (
    select * from typed
)

select * from final
