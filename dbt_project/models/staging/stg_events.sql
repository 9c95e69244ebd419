-- Raw events, one row per raw row (of the storefront events, or of a GA4 export): UTC
-- timestamps (to the microsecond for hours, and to the nanosecond as sent for ordering and
-- comparing) and the session id as text. Text values
-- stay exactly as sent: trimming or lower-casing 30 million rows costs more than the whole
-- hourly count, so the profile models clean each distinct value once instead
-- (int_event_profiles, int_page_view_profiles).
with

source as (
    select * from {{ source('storefront', 'raw_events') }}
),

-- Every variant (unit, zone, ISO text) casts to a timestamp with time zone, whose epoch is
-- UTC; naive values are read as UTC because the session zone is UTC. Going through the
-- epoch avoids a per-row time zone conversion. Nanoseconds keep two views of a session a
-- few nanoseconds apart in their order; they exist for the years 1677-2262 only, and
-- microseconds (wider) stand in elsewhere: such events are set aside as out of time.
epochs as (
    select
        *,
        epoch_ns(try_cast(event_timestamp as timestamptz_ns)) as event_at_ns,
        epoch_us(cast(event_timestamp as timestamptz)) as event_at_us_as_cast,
    from source
),

typed as (
    select
        shop,
        event_name,
        -- The microsecond the nanosecond time falls in (rounded casts would put a view
        -- 1 ns before an hour in the next hour).
        make_timestamp(
            coalesce(
                (event_at_ns - ((event_at_ns % 1000) + 1000) % 1000) // 1000,
                event_at_us_as_cast
            )
        ) as event_at,
        event_at_ns,
        nullif(cast(session_id as varchar), '') as session_id,
        page_url,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        geography,
        event_type,
    from epochs
),

-- A GA4 export's rows (stg_ga4_events; empty unless INPUT_FORMAT=ga4), typed apart so that
-- neither input's column types bend the other's: its times are microseconds.
ga4_typed as (
    select
        shop,
        event_name,
        make_timestamp(event_timestamp_us) as event_at,
        event_timestamp_us * 1000 as event_at_ns,
        session_id,
        page_url,
        user_agent,
        device_type,
        utm_source,
        utm_medium,
        geography,
        event_type,
    from {{ ref('stg_ga4_events') }}
),

final as (
    select * from typed
    union all
    select * from ga4_typed
)

select * from final
