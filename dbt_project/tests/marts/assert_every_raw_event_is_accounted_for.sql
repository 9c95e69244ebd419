-- Each shop's raw rows (read again from the source) equal the sum of its accounting
-- outcomes, and what the accounting calls counted is what the hourly table holds.
with

-- The rows of either input format (the other's is empty), with their shop: a GA4 export's
-- as stg_ga4_events renames them, one per raw row.
rows_sent as (
    select shop from {{ source('storefront', 'raw_events') }}
    union all
    select shop from {{ ref('stg_ga4_events') }}
),

raw_events as (
    select
        coalesce(trim(shop), '') as shop,
        count(*) as raw_rows,
    from rows_sent
    group by all
),

accounting as (
    select * from {{ ref('fct_event_accounting') }}
),

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

accounted as (
    select
        shop,
        sum(events) as accounted_events,
    from accounting
    group by shop
),

unaccounted_shops as (
    select
        raw_events.shop,
        'raw rows vs outcomes' as check_name,
        raw_events.raw_rows as expected,
        accounted.accounted_events as actual,
    from raw_events
    full join accounted using (shop)
    where raw_events.raw_rows is distinct from accounted.accounted_events
),

hourly_totals as (
    select
        shop,
        metric,
        sum(events) as events,
    from hourly
    where dimension = 'total'
    group by all
),

counted as (
    select
        shop,
        metric,
        events,
    from accounting
    where outcome = 'counted'
),

miscounted_metrics as (
    select
        coalesce(counted.shop, hourly_totals.shop) as shop,
        'counted vs hourly total of ' || coalesce(counted.metric, hourly_totals.metric)
            as check_name,
        coalesce(counted.events, 0) as expected,
        hourly_totals.events as actual,
    from counted
    full join hourly_totals using (shop, metric)
    where coalesce(counted.events, 0) != hourly_totals.events
),

final as (
    select * from unaccounted_shops
    union all
    select * from miscounted_metrics
)

select * from final
