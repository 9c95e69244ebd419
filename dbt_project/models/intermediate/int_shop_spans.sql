-- Each shop's span: the hours its series cover. Events outside it are set aside (counted in
-- the accounting, never in a series), so one stray timestamp cannot stretch the
-- zero-filled hours over decades. The rule:
--   1. hours more than future_tolerance_hours after the run started are in the future;
--   2. the shop's other days with events form clusters, split wherever two of them are
--      more than span_max_gap_days apart;
--   3. the span is the latest cluster holding at least span_min_share of those events,
--      from its first to its last hour with events (a stray event, or a few, make a
--      cluster too small to count; a longer break starts the shop's history anew),
--      and at most span_max_days long, ending at its last hour.
{{ config(materialized='table') }}  -- read by the spine and the placed events

with

events as (
    select * from {{ ref('int_events_aggregated_hourly') }}
),

event_profiles as (
    select * from {{ ref('int_event_profiles') }}
),

shop_hours as (
    select
        event_profiles.shop,
        events.hour_at,
        sum(events.events) as events,
    from events
    inner join event_profiles using (event_profile_id)
    group by all
),

present_hours as (
    select * from shop_hours
    where not {{ hour_is_in_future('hour_at') }}
),

days as (
    select
        shop,
        date_trunc('day', hour_at) as day_at,
        sum(events) as events,
    from present_hours
    group by all
),

gaps as (
    select
        *,
        datediff('day', lag(day_at) over (partition by shop order by day_at), day_at)
            as days_since_previous,
    from days
),

clustered as (
    select
        *,
        sum(
            case
                when days_since_previous is null
                    or days_since_previous > {{ var('span_max_gap_days') }}
                    then 1
                else 0
            end
        ) over (
            partition by shop order by day_at rows between unbounded preceding and current row
        ) as cluster_number,
    from gaps
),

clusters as (
    select
        shop,
        cluster_number,
        min(day_at) as first_day_at,
        max(day_at) as last_day_at,
        sum(events) as events,
    from clustered
    group by shop, cluster_number
),

shares as (
    select
        *,
        events / sum(events) over (partition by shop) as share_of_events,
    from clusters
),

ranked_clusters as (
    select
        *,
        row_number() over (
            partition by shop
            order by share_of_events >= {{ var('span_min_share') }} desc, last_day_at desc
        ) as preference,
    from shares
),

chosen_clusters as (
    select * from ranked_clusters
    where preference = 1
),

cluster_hours as (
    select
        present_hours.shop,
        min(present_hours.hour_at) as first_hour_at,
        max(present_hours.hour_at) as last_hour_at,
    from present_hours
    inner join chosen_clusters using (shop)
    where
        present_hours.hour_at >= chosen_clusters.first_day_at
        and present_hours.hour_at < chosen_clusters.last_day_at + interval 1 day
    group by present_hours.shop
),

spans as (
    select
        shop,
        greatest(first_hour_at, last_hour_at - to_days({{ var('span_max_days') }}))
            as first_hour_at,
        last_hour_at,
    from cluster_hours
),

final as (
    select * from spans
)

select * from final
