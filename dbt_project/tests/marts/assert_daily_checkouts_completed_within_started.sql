-- Funnel sanity: over a UTC day a shop completes no more checkouts than it starts. A
-- breach means a tracking problem (a lost checkout_started pixel), not a hard error.
{{ config(severity='warn') }}

with

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

daily as (
    select
        shop,
        cast(hour_at as date) as day_on,
        sum(events) filter (where metric = 'checkout_started') as checkouts_started,
        sum(events) filter (where metric = 'checkout_completed') as checkouts_completed,
    from hourly
    where dimension = 'total'
    group by all
),

final as (
    select * from daily
    where checkouts_completed > checkouts_started
)

select * from final
