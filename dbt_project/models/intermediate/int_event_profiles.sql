-- One row per distinct event profile: the shop, event name and geography as sent, with the
-- hash the hourly aggregation groups on, the cleaned values it stands for and the metric
-- its event name counts towards (through the seed). Doing this for the few hundred
-- distinct profiles spares every raw row a trim and every aggregation a string comparison.
{{ config(materialized='table') }}  -- read by five models

with

events as (
    select * from {{ ref('stg_events') }}
),

event_metrics as (
    select * from {{ ref('event_name_metrics') }}
),

profiles as (
    select distinct
        shop,
        event_name,
        geography,
    from events
),

cleaned as (
    select
        {{ event_profile_hash() }} as event_profile_hash,
        trim(shop) as shop,
        lower(trim(event_name)) as event_name,
        event_name as event_name_sent,
        coalesce(nullif(trim(geography), ''), 'unknown') as geography,
    from profiles
),

mapped as (
    select
        cleaned.*,
        event_metrics.metric,
        event_metrics.counted_as,
    from cleaned
    left join event_metrics using (event_name)
),

final as (
    select * from mapped
)

select * from final
