-- One row per distinct event profile: the shop, event name and geography as sent, with the
-- id the hourly aggregation groups on, the cleaned values it stands for and the metric its
-- event name counts towards (the seed's row of the same event_name_key). Doing this for
-- the few hundred distinct profiles spares every raw row a trim and every aggregation a
-- string comparison. Events find their profile by the text itself, so two profiles can
-- never merge.
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
        row_number() over (order by shop, event_name, geography) as event_profile_id,
        shop as shop_sent,
        event_name as event_name_sent,
        geography as geography_sent,
        trim(shop) as shop,
        lower(trim(event_name)) as event_name,
        coalesce(nullif(trim(geography), ''), 'unknown') as geography,
    from profiles
),

event_metrics_keyed as (
    select
        {{ event_name_key('event_name') }} as event_name_key,
        metric,
        counted_as,
    from event_metrics
),

mapped as (
    select
        cleaned.*,
        event_metrics_keyed.metric,
        event_metrics_keyed.counted_as,
    from cleaned
    left join event_metrics_keyed
        on {{ event_name_key('cleaned.event_name') }} = event_metrics_keyed.event_name_key
),

final as (
    select * from mapped
)

select * from final
