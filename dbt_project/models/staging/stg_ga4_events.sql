-- GA4 BigQuery export rows (INPUT_FORMAT=ga4) in the storefront events' shape. A session
-- is the user's pseudo id with the ga_session_id parameter, the shop the web stream's
-- hostname, the traffic source the event's own (collected_traffic_source) else the
-- user's first (traffic_source). GA4 sends no user agent: its operating system stands in
-- as device_type, in the device_os_rules seed's family names.
with

source as (
    select * from {{ source('storefront', 'raw_ga4_events') }}
),

parameters as (
    select
        *,
        list_filter(event_params, lambda param: param.key = 'ga_session_id')[1].value
            as ga_session_id_value,
        list_filter(event_params, lambda param: param.key = 'page_location')[1].value
            as page_location_value,
    from source
),

final as (
    select
        'ga4' as event_type,
        event_name,
        event_timestamp as event_timestamp_us,
        device.web_info.hostname as shop,
        page_location_value.string_value as page_url,
        cast(null as varchar) as user_agent,
        user_pseudo_id || '.' || coalesce(
            cast(ga_session_id_value.int_value as varchar), ga_session_id_value.string_value
        ) as session_id,
        case device.operating_system
            when 'Macintosh' then 'macOS'
            else device.operating_system
        end as device_type,
        coalesce(collected_traffic_source.manual_source, traffic_source.source) as utm_source,
        coalesce(collected_traffic_source.manual_medium, traffic_source.medium) as utm_medium,
        geo.country as geography,
    from parameters
)

select * from final
