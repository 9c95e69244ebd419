-- The leaves' forecasts as the forecasting step wrote them: each leaf once with its shop
-- and metric, each hour with its counts, none negative. (That the leaves add up to their
-- total is tested on fct_leaf_reconciliation.)
-- depends_on: {{ ref('forecasting_step') }}
with

leaves as (
    select * from {{ source('forecasting', 'leaf_forecast_leaves') }}
),

leaf_hours as (
    select * from {{ source('forecasting', 'leaf_forecast_hours') }}
),

leaves_not_whole as (
    select
        series_id,
        leaf,
        case
            when count(*) > 1 then 'leaf listed more than once'
            else 'leaf without its shop or metric'
        end as problem,
    from leaves
    group by series_id, leaf
    having count(*) > 1 or bool_or(shop is null or metric is null)
),

hours_not_whole as (
    select
        series_id,
        leaf,
        'hour without its time, or a count missing or negative' as problem,
    from leaf_hours
    where
        hour_at is null
        or expected is null
        or not (expected >= 0 and events >= 0)
),

final as (
    select * from leaves_not_whole
    union all
    select * from hours_not_whole
)

select * from final
