-- The leaves of every shop, hour and metric add up to its total in fct_hourly_metrics, and
-- no total with events lacks leaves.
with

leaves as (
    select * from {{ ref('fct_hourly_leaves') }}
),

hourly as (
    select * from {{ ref('fct_hourly_metrics') }}
),

leaf_sums as (
    select
        shop,
        hour_at,
        metric,
        sum(events) as leaf_events,
    from leaves
    group by all
),

totals as (
    select
        shop,
        hour_at,
        metric,
        events,
    from hourly
    where dimension = 'total' and events > 0
),

final as (
    select
        coalesce(totals.shop, leaf_sums.shop) as shop,
        coalesce(totals.hour_at, leaf_sums.hour_at) as hour_at,
        coalesce(totals.metric, leaf_sums.metric) as metric,
        totals.events,
        leaf_sums.leaf_events,
    from totals
    full outer join leaf_sums using (shop, hour_at, metric)
    where totals.events is distinct from leaf_sums.leaf_events
)

select * from final
