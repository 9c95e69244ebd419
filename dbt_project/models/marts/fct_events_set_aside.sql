-- Distinct events left out of every series because of their time, per shop and reason
-- (`in_future`, `outside_span`; int_shop_spans states the rule), with the first and last
-- hour they name: a wrong clock or a misdated file is seen here, not in a forecast.
with

placed_events as (
    select * from {{ ref('int_events_hourly_placed') }}
),

set_aside as (
    select
        shop,
        set_aside_reason as reason,
        sum(events) as events,
        min(hour_at) as first_hour_at,
        max(hour_at) as last_hour_at,
    from placed_events
    where set_aside_reason is not null
    group by all
),

final as (
    select * from set_aside
)

select * from final
